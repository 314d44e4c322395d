import type {FastifyInstance} from "fastify";
import type {ProviderConfig} from "../config/load.js";
import {SEED_DEFAULT_API_KEY} from "../config/schema.js";
import {silentLogger, type Logger} from "../log/logger.js";
import {externalSourcesFor} from "../registry/external.js";
import type {MemoryProbe} from "../runtime/memory-probe.js";
import {Runtime} from "../runtime/runtime.js";
import {buildApp, type AppOptions} from "./app.js";
import {DownloadManager} from "../download/manager.js";
import {downloadsApi} from "../api/downloads.js";
import {auditApi} from "../api/audit.js";
import {isLoopback} from "./auth.js";

export interface RunningServer {
    app: FastifyInstance;
    runtime: Runtime;
    url: string;
    port: number;
    /** Stops accepting, lets in-flight requests finish up to `graceMs`, then ends every runner. */
    close(graceMs?: number): Promise<void>;
}

export interface ServeOptions extends AppOptions {
    logger?: Logger;
    probe?: MemoryProbe;
    now?: () => number;
    sweepIntervalMs?: number;
    /** Include Ollama / LM Studio / HF-cache stores (default true). */
    externalSources?: boolean;
    /** Resume persisted downloads at start (default true). */
    resumeDownloads?: boolean;
    /** A download manager built by the caller (tests inject one with a stand-in free-space probe). */
    downloads?: DownloadManager;
}

function isLoopbackHost(host: string): boolean {
    return host === "localhost" || isLoopback(host) || host === "::1";
}

/** Refuses configurations that would expose the server with the published default key. */
export function checkKeySafety(config: ProviderConfig, logger: Logger): void {
    if (!config.auth.enable_api_key) {
        if (!isLoopbackHost(config.server_host))
            logger.warn({host: config.server_host}, "API key is disabled while listening beyond loopback: anyone who can reach this port can use your models");
        return;
    }
    if (config.apiKey === SEED_DEFAULT_API_KEY) {
        if (!isLoopbackHost(config.server_host))
            throw new Error(`refusing to listen on ${config.server_host} with the default API key '${SEED_DEFAULT_API_KEY}': set auth.api_key (or ZOMBIECODER_API_KEY, or run npm run setup to generate one), or listen on 127.0.0.1`);
        logger.warn("the default API key is in use; run npm run setup (or set auth.api_key / ZOMBIECODER_API_KEY) to replace it");
    }
}

export async function startServer(config: ProviderConfig, opts: ServeOptions = {}): Promise<RunningServer> {
    const logger = opts.logger ?? silentLogger;
    checkKeySafety(config, logger);
    const runtime = new Runtime(config, {
        logger,
        probe: opts.probe,
        now: opts.now,
        sweepIntervalMs: opts.sweepIntervalMs,
        external: opts.externalSources === false ? undefined : externalSourcesFor(config, logger),
        upstreams: {listTtlMs: opts.upstreamListTtlMs}
    });
    await runtime.start();
    const rescan = () => runtime.rescan();
    // created before the routes: persisted downloads resume at once and register their model when done
    const downloads = opts.downloads ?? await DownloadManager.create({config, logger, rescan, resume: opts.resumeDownloads ?? true});
    downloads.useRescan(rescan);
    const app = await buildApp(runtime, logger, {
        ...opts,
        downloads,
        extra: [
            (a) => downloadsApi(a, {config, logger, downloads, rescan}),
            (a) => auditApi(a, {config, logger, listModels: async () => runtime.registry.models(), rescan, downloads})
        ]
    });
    try {
        await app.listen({host: config.server_host, port: config.server_port});
    } catch (err) {
        // a port someone else holds: leave nothing running (resumed downloads, the runtime's timers) behind
        await app.close().catch(() => undefined);
        await downloads.close();
        await runtime.close();
        throw err;
    }
    const addr = app.server.address();
    const port = typeof addr === "object" && addr ? addr.port : config.server_port;
    const host = config.server_host.includes(":") ? `[${config.server_host}]` : config.server_host;
    const url = `http://${host}:${port}`;
    logger.info({url, models: runtime.registry.models().length, models_dir: config.paths.models}, "ZombieCoder Provider listening");
    let closing: Promise<void> | null = null;
    return {
        app, runtime, url, port,
        close(graceMs = config.shutdown_grace_seconds * 1000) {
            closing ??= (async () => {
                const timer = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
                // keep-alive connections that go idle after their last response would hold close() open: drop them as they idle
                const idleSweep = setInterval(() => app.server.closeIdleConnections?.(), 100);
                await Promise.race([app.close(), timer]);
                clearInterval(idleSweep);
                await downloads.close();
                await runtime.close();
                if (!app.server.listening) return;
                app.server.closeAllConnections?.();
            })();
            return closing;
        }
    };
}
