/** The HTTP server: Fastify with one body parser, auth, CORS, errors and request log; each API family is a plugin. */
import Fastify, {type FastifyInstance} from "fastify";
import {anthropicApi} from "../api/anthropic/index.js";
import {healthApi} from "../api/health.js";
import {llamacppApi} from "../api/llamacpp/index.js";
import {metricsApi} from "../api/metrics.js";
import {ollamaApi} from "../api/ollama/index.js";
import {openaiApi} from "../api/openai/index.js";
import {responsesApi} from "../api/responses/index.js";
import {runtimeApi} from "../api/runtime.js";
import {schemaErrorMessage} from "../api/shared/schema.js";
import {installUiAssets, uiApi} from "../api/ui/index.js";
import type {DownloadManager} from "../download/manager.js";
import type {Logger} from "../log/logger.js";
import type {Runtime} from "../runtime/runtime.js";
import {installAuth} from "./auth.js";
import {installErrorHandlers, sendError} from "./errors.js";
import {lazyValidators} from "./lazy-validation.js";
import {installRequestLog} from "./request-log.js";

export interface AppOptions {
    testHooks?: boolean;
    /** Called once every route is mounted, behind the same auth (setup's checks look at which routes exist). */
    plugins?: Array<(app: FastifyInstance) => void | Promise<void>>;
    /** How long upstream model lists are cached (tests shorten it). */
    upstreamListTtlMs?: number;
    /** The download manager, for the download metrics (left out without it). */
    downloads?: DownloadManager;
}

declare module "fastify" {
    interface FastifyInstance {
        /** Compiles every route's schema now (they compile on first use); returns how many route schemas there are. */
        compileRouteSchemas(): number;
    }
}

/** Extra plugins mounted next to the API families (downloads, audit). */
export type AppPlugin = (app: FastifyInstance) => Promise<void>;

/** The HTTP front: thin routes over the runtime, one auth and CORS policy, errors in each family's shape. */
export async function buildApp(runtime: Runtime, logger: Logger, opts: AppOptions & {extra?: AppPlugin[]} = {}): Promise<FastifyInstance> {
    const validators = lazyValidators();
    const app = Fastify({
        logger: false,
        schemaController: {compilersFactory: {buildValidator: validators.buildValidator, buildSerializer: validators.buildSerializer}},
        bodyLimit: 64 * 1024 * 1024,
        forceCloseConnections: "idle",
        // closing requests get a 503 in their API family's shape (below), not Fastify's own body
        return503OnClosing: false,
        routerOptions: {ignoreTrailingSlash: true},
        // schemas check types exactly as sent: no coercion ("true" is not true), no defaults, nothing removed
        ajv: {customOptions: {coerceTypes: false, useDefaults: false, removeAdditional: false, allErrors: true}},
        schemaErrorFormatter: (errors) => new Error(schemaErrorMessage(errors))
    });
    app.decorate("compileRouteSchemas", () => validators.compileAll());
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
    // the dashboard's files are public (its data routes are not), so they are answered before the key check
    installUiAssets(app);
    installAuth(app, runtime.config);
    await app.register(healthApi, {runtime, testHooks: opts.testHooks ?? false});
    await app.register(ollamaApi, {runtime, logger});
    await app.register(openaiApi, {runtime, logger});
    await app.register(anthropicApi, {runtime, logger});
    await app.register(responsesApi, {runtime, logger});
    await app.register(llamacppApi, {runtime, logger});
    await app.register(runtimeApi, {runtime});
    await app.register(uiApi, {runtime, logger});
    await app.register(metricsApi, {runtime, downloads: opts.downloads});
    for (const plugin of opts.extra ?? []) await app.register(plugin);
    await app.after();
    for (const hook of opts.plugins ?? []) await hook(app);
    return app;
}
