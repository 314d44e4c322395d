/** Reading request bodies: small typed getters that refuse a wrong type by naming the field. */
import type {FastifyRequest} from "fastify";
import {badRequest} from "../../runtime/errors.js";

export type Body = Record<string, unknown>;

export function bodyOf(request: FastifyRequest): Body {
    const b = request.body;
    if (b == null || typeof b !== "object" || Array.isArray(b)) throw badRequest("the request body must be a JSON object");
    return b as Body;
}

export function optionalString(body: Body, key: string): string | undefined {
    const v = body[key];
    if (v == null) return undefined;
    if (typeof v !== "string") throw badRequest(`"${key}" must be a string`, key, "invalid_type");
    return v;
}

export function optionalBool(body: Body, key: string): boolean | undefined {
    const v = body[key];
    if (v == null) return undefined;
    if (typeof v !== "boolean") throw badRequest(`"${key}" must be true or false`, key, "invalid_type");
    return v;
}

export function optionalNumber(body: Body, key: string): number | undefined {
    const v = body[key];
    if (v == null) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v)) throw badRequest(`"${key}" must be a number, got ${JSON.stringify(v)}`, key);
    return v;
}

/** `stop`: a string or an array of strings (OpenAI allows up to 4; more are accepted). */
export function parseStop(v: unknown, key = "stop"): string[] | undefined {
    if (v == null) return undefined;
    const list = typeof v === "string" ? [v] : v;
    if (!Array.isArray(list) || !list.every((s) => typeof s === "string")) throw badRequest(`"${key}" must be a string or an array of strings`, key);
    return list.filter((s) => s !== "");
}

/** Model names may contain `/` and `:` (hf.co/org/repo:Q4_K_M), so a name in a URL is the rest of the path. */
export function nameParam(params: unknown): string {
    // Fastify has already percent-decoded the path: decoding again would turn a literal "%" into a 500
    return String((params as Record<string, string>)["*"] ?? "");
}
