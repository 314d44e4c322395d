import type {FastifyInstance, FastifyRequest} from "fastify";
import type {Logger} from "../log/logger.js";

/** What a route learned about its request, for the one log line per request. No prompt text, ever. */
export interface RequestFacts {
    model?: string;
    queue_ms?: number;
    load_ms?: number;
    prompt_tokens?: number;
    prompt_eval_tokens?: number;
    cached_tokens?: number;
    completion_tokens?: number;
    total_ms?: number;
    context_capped?: string;
    stream?: boolean;
    error?: string;
    logged?: boolean;
}

declare module "fastify" {
    interface FastifyRequest {
        facts: RequestFacts;
    }
}

export function logRequest(logger: Logger, request: FastifyRequest, status: number): void {
    if (request.facts.logged) return;
    request.facts.logged = true;
    const {logged: _logged, ...facts} = request.facts;
    const line = {method: request.method, route: request.routeOptions.url ?? request.url.split("?")[0], status, ms: Math.round(performance.now() - startTimes.get(request)!), ...facts};
    if (status >= 500) logger.error(line, "request");
    else if (status >= 400) logger.warn(line, "request");
    else logger.info(line, "request");
}

const startTimes = new WeakMap<FastifyRequest, number>();

export function installRequestLog(app: FastifyInstance, logger: Logger): void {
    app.decorateRequest("facts", null as unknown as RequestFacts);
    app.addHook("onRequest", async (request) => {
        request.facts = {};
        startTimes.set(request, performance.now());
    });
    app.addHook("onResponse", async (request, reply) => {
        logRequest(logger, request, reply.statusCode);
    });
}
