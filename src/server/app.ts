import Fastify, {type FastifyInstance} from "fastify";
import type {Logger} from "../log/logger.js";
import type {Provider} from "../runtime/provider.js";
import {registerOllamaRoutes} from "../api/ollama.js";
import {registerRuntimeRoutes} from "../api/runtime.js";
import {registerHealthRoutes} from "../api/health.js";
import {registerOpenAIRoutes} from "../api/openai.js";
import {registerAnthropicRoutes} from "../api/anthropic.js";
import {registerLlamaCppRoutes} from "../api/llamacpp.js";
import {attachUpstreams} from "../upstream/index.js";
import {installAuth} from "./auth.js";
import {installErrorHandlers, sendError} from "./errors.js";
import {installRequestLog} from "./request-log.js";

export interface AppOptions {
    testHooks?: boolean;
    /** Extra route families (OpenAI, Anthropic, downloads, ...) mounted on the same app, behind the same auth. */
    plugins?: Array<(app: FastifyInstance) => void | Promise<void>>;
    /** How long upstream model lists are cached (tests shorten it). */
    upstreamListTtlMs?: number;
}

/** The HTTP front: thin routes over the provider, one auth and CORS policy, errors in each family's shape. */
export async function buildApp(provider: Provider, logger: Logger, opts: AppOptions = {}): Promise<FastifyInstance> {
    const app = Fastify({
        logger: false,
        bodyLimit: 64 * 1024 * 1024,
        forceCloseConnections: "idle",
        // closing requests get a 503 in their API family's shape (below), not Fastify's own body
        return503OnClosing: false,
        routerOptions: {ignoreTrailingSlash: true}
    });
    // an empty body is "no body", not a parse error (POSTs like /runtime/load send none)
    // Ollama parses every body as JSON whatever its content type (curl -d sends form-urlencoded), so do we
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("*", {parseAs: "string"}, (_req, body, done) => {
        const text = String(body);
        if (text.trim() === "") return done(null, undefined);
        try {
            done(null, JSON.parse(text));
        } catch (err) {
            const e = err as Error & {statusCode?: number};
            e.statusCode = 400;
            done(e, undefined);
        }
    });
    installRequestLog(app, logger);
    installErrorHandlers(app, logger);
    let closing = false;
    app.addHook("preClose", async () => {
        closing = true;
    });
    app.addHook("onRequest", async (request, reply) => {
        if (!closing) return;
        reply.header("Connection", "close");
        return sendError(request, reply, 503, "server is shutting down; retry in a moment", "shutting_down");
    });
    installAuth(app, provider.config);
    registerHealthRoutes(app, provider, opts.testHooks ?? false);
    attachUpstreams(provider, logger, {listTtlMs: opts.upstreamListTtlMs});
    registerOllamaRoutes(app, provider, logger);
    registerOpenAIRoutes(app, provider, logger);
    registerAnthropicRoutes(app, provider, logger);
    registerLlamaCppRoutes(app, provider, logger);
    registerRuntimeRoutes(app, provider);
    for (const plugin of opts.plugins ?? []) await plugin(app);
    return app;
}
