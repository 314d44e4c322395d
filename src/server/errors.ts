/** The one place where errors by meaning become HTTP statuses, and where each API family's error shape is written. */
import type {FastifyError, FastifyInstance, FastifyReply, FastifyRequest} from "fastify";
import type {Logger} from "../log/logger.js";
import {isProviderError, type ErrorKind} from "../runtime/errors.js";

export type ApiFamily = "ollama" | "openai" | "anthropic";

/** Which API family a URL belongs to decides the shape of its errors. */
export function familyOf(url: string): ApiFamily {
    const path = url.split("?")[0]!;
    if (path === "/v1/messages" || path.startsWith("/v1/messages/")) return "anthropic";
    if (path.startsWith("/v1/")) return "openai";
    return "ollama";
}

const STATUS_OF_KIND: Record<ErrorKind, number> = {
    bad_request: 400,
    not_found: 404,
    // a name that matches several models is "not found" to the client, with the candidates in the message
    ambiguous: 404,
    busy: 503,
    does_not_fit: 503,
    shutting_down: 503,
    load_failed: 500,
    crashed: 500,
    cancelled: 499,
    upstream_failed: 502,
    upstream_timeout: 504,
    upstream_refused: 502,
    internal: 500
};

/** The HTTP status for any error: by its kind; an upstream's own 4xx passes through; anything unknown is a 500. */
export function errorStatus(err: unknown): number {
    if (isProviderError(err)) {
        if (err.kind === "upstream_refused" && err.upstreamStatus != null) return err.upstreamStatus;
        return STATUS_OF_KIND[err.kind];
    }
    const status = (err as {status?: unknown} | null)?.status;
    return typeof status === "number" && status >= 400 && status < 600 ? status : 500;
}

function openAiType(status: number): string {
    if (status === 400 || status === 413 || status === 422) return "invalid_request_error";
    if (status === 401) return "authentication_error";
    if (status === 403) return "permission_error";
    if (status === 404) return "not_found_error";
    if (status === 503 || status === 429) return "server_busy";
    return "api_error";
}

function anthropicType(status: number): string {
    if (status === 400 || status === 413 || status === 422) return "invalid_request_error";
    if (status === 401) return "authentication_error";
    if (status === 403) return "permission_error";
    if (status === 404) return "not_found_error";
    if (status === 429) return "rate_limit_error";
    if (status === 503) return "overloaded_error";
    return "api_error";
}

export function errorBody(family: ApiFamily, status: number, message: string, code?: string | null, param?: string | null): unknown {
    switch (family) {
        case "openai":
            return {error: {message, type: openAiType(status), param: param ?? null, code: code ?? null}};
        case "anthropic":
            return {type: "error", error: {type: anthropicType(status), message}};
        default:
            return {error: message};
    }
}

export function sendError(request: FastifyRequest, reply: FastifyReply, status: number, message: string, code?: string, param?: string): FastifyReply {
    return reply.code(status).type("application/json; charset=utf-8").send(errorBody(familyOf(request.url), status, message, code, param));
}

/** Fastify's own errors (bad JSON, body too large, schema failures) in each family's shape. */
export function installErrorHandlers(app: FastifyInstance, logger: Logger): void {
    app.setErrorHandler((err: FastifyError | Error, request, reply) => {
        if (isProviderError(err)) {
            const status = errorStatus(err);
            if (status >= 500) logger.warn({err: err.message, kind: err.kind, url: request.url.split("?")[0]}, "request failed");
            return sendError(request, reply, status, err.message, err.code, err.param);
        }
        const fe = err as FastifyError;
        if (fe.validation) return sendError(request, reply, 400, fe.message, "invalid_request");
        if (fe.code === "FST_ERR_CTP_INVALID_JSON_BODY" || (fe.statusCode === 400 && /JSON/i.test(fe.message)) || err instanceof SyntaxError)
            return sendError(request, reply, 400, `invalid JSON in the request body: ${fe.message}`, "invalid_json");
        if (fe.code === "FST_ERR_CTP_EMPTY_JSON_BODY") return sendError(request, reply, 400, "missing request body", "missing_body");
        if (fe.code === "FST_ERR_CTP_BODY_TOO_LARGE") return sendError(request, reply, 413, "request body is too large", "body_too_large");
        if (fe.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") return sendError(request, reply, 415, "unsupported content type: send application/json", "unsupported_media_type");
        if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) return sendError(request, reply, fe.statusCode, fe.message);
        logger.error({err: err.message, stack: err.stack, url: request.url}, "unhandled error");
        return sendError(request, reply, 500, `internal error: ${err.message}`);
    });
    app.setNotFoundHandler((request, reply) => {
        return sendError(request, reply, 404, `no route for ${request.method} ${request.url.split("?")[0]}`, "unknown_route");
    });
}
