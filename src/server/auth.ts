import {createHash, timingSafeEqual} from "node:crypto";
import type {FastifyInstance, FastifyReply, FastifyRequest} from "fastify";
import type {ProviderConfig} from "../config/load.js";
import {sendError} from "./errors.js";
import {EXPOSED_HEADERS} from "./headers.js";

/** Routes any client may call without a key: liveness checks, as Ollama's `GET /` and `/api/version`. */
function isPublic(method: string, path: string): boolean {
    if (method !== "GET" && method !== "HEAD") return false;
    return path === "/" || path === "/api/version" || path === "/health";
}

export function isLoopback(address: string | undefined): boolean {
    if (!address) return false;
    return address === "::1" || address.startsWith("127.") || address === "::ffff:127.0.0.1" || address.startsWith("::ffff:127.");
}

/**
 * A tunnel or reverse proxy (cloudflared, ngrok, nginx) connects from 127.0.0.1 too: its forwarding headers show
 * the request came from elsewhere, so it never gets the loopback exemption.
 */
export function isProxied(request: FastifyRequest): boolean {
    const h = request.headers;
    return h["x-forwarded-for"] != null || h.forwarded != null || h["x-real-ip"] != null || h["cf-connecting-ip"] != null || h["x-forwarded-host"] != null;
}

/** Compares through fixed-length digests so neither the key's length nor its prefix leaks through timing. */
export function keysMatch(given: string, expected: string): boolean {
    const a = createHash("sha256").update(given).digest();
    const b = createHash("sha256").update(expected).digest();
    return timingSafeEqual(a, b);
}

export function presentedKey(request: FastifyRequest): string | null {
    const x = request.headers["x-api-key"];
    if (typeof x === "string" && x !== "") return x;
    const auth = request.headers.authorization;
    if (typeof auth === "string") {
        const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
        if (m) return m[1]!.trim();
    }
    return null;
}

/** `http://localhost:*` style patterns from Ollama's origin list. */
export function originAllowed(origin: string, patterns: string[]): boolean {
    for (const p of patterns) {
        if (p === "*") return true;
        const re = new RegExp("^" + p.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\/]/g, "\\$&")).join(".*") + "$", "i");
        if (re.test(origin)) return true;
    }
    return false;
}

/**
 * The browser's Origin names the very host and port the request was sent to, and that host is an IP address or
 * localhost. A domain name is not enough: DNS rebinding points an attacker's domain at this machine, and its pages
 * would then be "same origin".
 */
export function sameOrigin(origin: string, host: string | undefined): boolean {
    if (!host) return false;
    try {
        const url = new URL(origin);
        if (url.host.toLowerCase() !== host.toLowerCase()) return false;
        const name = url.hostname.replace(/^\[|\]$/g, "");
        return name === "localhost" || /^\d{1,3}(\.\d{1,3}){3}$/.test(name) || name.includes(":");
    } catch {
        return false;
    }
}

const ALLOWED_HEADERS = "Authorization, Content-Type, User-Agent, Accept, X-Requested-With, X-Api-Key, OpenAI-Beta, Anthropic-Version, Anthropic-Beta, x-stainless-arch, x-stainless-os, x-stainless-runtime, x-stainless-runtime-version, x-stainless-lang, x-stainless-package-version, x-stainless-retry-count, x-stainless-timeout, x-stainless-helper-method";

/**
 * CORS first (preflights need no key; a disallowed Origin is refused with 403, as Ollama does),
 * then the API key on every non-public route.
 */
export function installAuth(app: FastifyInstance, config: ProviderConfig): void {
    const origins = config.auth.cors_origins;
    app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
        const path = request.url.split("?")[0]!;
        const origin = request.headers.origin;
        if (typeof origin === "string" && origin !== "") {
            // a page this server served (the dashboard, opened at any address of this machine) is always allowed
            if (!sameOrigin(origin, request.headers.host) && !originAllowed(origin, origins))
                return sendError(request, reply, 403, `origin '${origin}' is not allowed; add it to auth.cors_origins in the config`, "origin_not_allowed");
            reply.header("Access-Control-Allow-Origin", origin);
            reply.header("Vary", "Origin");
            reply.header("Access-Control-Allow-Headers", ALLOWED_HEADERS);
            reply.header("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS");
            reply.header("Access-Control-Expose-Headers", EXPOSED_HEADERS.join(", "));
        }
        if (request.method === "OPTIONS") {
            if (!origin) {
                reply.header("Access-Control-Allow-Headers", ALLOWED_HEADERS);
                reply.header("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS");
            }
            return reply.code(204).send();
        }
        if (!config.auth.enable_api_key || isPublic(request.method, path)) return;
        const key = presentedKey(request);
        // a client that cannot send a key may come in from this machine; one that sends a wrong key is told so
        if (key == null && config.auth.allow_loopback_without_key && isLoopback(request.socket.remoteAddress) && !isProxied(request)) return;
        if (key == null)
            return sendError(request, reply, 401, "missing API key: send it as 'x-api-key: <key>' or 'Authorization: Bearer <key>' (the key is in your provider config or the file named by auth.api_key_file)", "missing_api_key");
        if (!config.apiKey || !keysMatch(key, config.apiKey))
            return sendError(request, reply, 401, "invalid API key: check the key your client sends against the provider's configured key", "invalid_api_key");
    });
}
