/**
 * The real provider, started in this process on a free loopback port, for the endpoints, lazy-load and tests checks.
 * It serves the installed models (the smallest usable one is the one the route checks use), or a generated test
 * model (in a temporary folder, so the user's models and index are untouched) when there is none.
 *
 * Within a run, the steps share one check server while the configuration stays the same (a pool held by the run):
 * each start scans the models again and each model loads in a fresh runner, which is most of these steps' time.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type {FastifyInstance} from "fastify";
import {registerDownloadRoutes} from "../../api/downloads.js";
import type {ProviderConfig} from "../../config/load.js";
import {DownloadManager} from "../../download/manager.js";
import {writeTestModel} from "../../gguf/test-model.js";
import type {ModelEntry} from "../../registry/types.js";
import {startServer, type RunningServer} from "../../server/serve.js";
import type {StepContext} from "./contract.js";

export interface HttpResult {
    status: number;
    body: unknown;
    ms: number;
}

export interface CheckServer {
    url: string;
    model: ModelEntry;
    /** The model is the generated test model (no usable model was installed). */
    generated: boolean;
    /** Who serves /download/start: the server itself, setup (the downloads module mounted for the check), or nobody. */
    downloads: "server" | "mounted" | "absent";
    /** `auth: "none"` sends no key, `"wrong"` a key that is not the configured one (the auth checks). */
    request(method: "GET" | "POST", route: string, body?: unknown, timeoutMs?: number, auth?: "key" | "none" | "wrong"): Promise<HttpResult>;
    /** The configuration the server runs with (port and index file are the check's own). */
    config: ProviderConfig;
    /** Every model the server lists, the generated test model included when it stands in. */
    models(): ModelEntry[];
    close(): Promise<void>;
}

/** Smallest first, preferring models with a chat template (so /api/chat renders), never embeddings or invalid files. */
export function pickSmallestModel(models: readonly ModelEntry[]): ModelEntry | null {
    const usable = models.filter((m) => m.status !== "invalid" && m.metadata?.is_embedding !== true);
    const withTemplate = usable.filter((m) => m.metadata?.has_chat_template === true);
    const pool = withTemplate.length > 0 ? withTemplate : usable;
    return [...pool].sort((a, b) => a.size_bytes - b.size_bytes || (a.name < b.name ? -1 : 1))[0] ?? null;
}

export function routeName(name: string): string {
    return name.split("/").map(encodeURIComponent).join("/");
}

async function start(ctx: StepContext, config: ProviderConfig, external: boolean, mountDownloads: boolean): Promise<{server: RunningServer; downloads: CheckServer["downloads"]}> {
    let downloads: CheckServer["downloads"] = "absent";
    let serverRef: RunningServer | null = null;
    // A manager of its own with no state file: the check must neither resume nor record the user's downloads.
    const manager = new DownloadManager({config, logger: ctx.logger, stateFile: null});
    const plugins: Array<(app: FastifyInstance) => void> = [(app) => {
        if (app.hasRoute({method: "POST", url: "/download/start"})) downloads = "server";
        else if (mountDownloads) {
            // A server that does not mount the download routes itself: mount them for the check (only an invalid body
            // is sent, so nothing downloads).
            registerDownloadRoutes(app, {config, logger: ctx.logger, downloads: manager, rescan: async () => serverRef?.runtime.registry.rescan()});
            downloads = "mounted";
        }
    }];
    const server = await startServer(config, {logger: ctx.logger, externalSources: external, plugins, downloads: manager});
    serverRef = server;
    // startServer closes the manager it was given when it closes.
    return {server, downloads};
}

/** Starts the provider for a check; the caller must close() it. */
export async function startCheckServer(ctx: StepContext, opts: {mountDownloads: boolean}): Promise<CheckServer> {
    const base = ctx.config();
    // The check server keeps its index in a temporary copy: the rescan it does on start must not rewrite the home's
    // registry (those checks change no files), and starting from the copy keeps that rescan incremental.
    const tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), "zc-setup-check-"));
    const registry = path.join(tmp, "models_index.json");
    await fs.promises.copyFile(base.paths.registry, registry).catch(() => undefined);
    const config: ProviderConfig = {...base, server_port: 0, server_host: "127.0.0.1", registry_file: registry, paths: {...base.paths, registry}};
    let generated = false;
    let serving = config;
    let server: RunningServer;
    let downloads: CheckServer["downloads"];
    let model: ModelEntry | null;
    try {
        ({server, downloads} = await start(ctx, config, true, opts.mountDownloads));
        model = pickSmallestModel(server.runtime.registry.models());
        if (!model) {
            await server.close(1000);
            const models = path.join(tmp, "models");
            const file = path.join(models, "zombiecoder-setup-test", "zombiecoder-setup-test-q8_0.gguf");
            await fs.promises.mkdir(path.dirname(file), {recursive: true});
            // The name marks it as generated (see isGeneratedTestModel): no snippet ever names it as the user's model.
            await writeTestModel(file, {name: "ZombieCoder Test setup check"});
            const testConfig: ProviderConfig = {
                ...config,
                models_dir: models,
                paths: {...config.paths, models},
                import_sources: {...config.import_sources, ollama: false, lmstudio: false, huggingface: false}
            };
            generated = true;
            serving = testConfig;
            ({server, downloads} = await start(ctx, testConfig, false, opts.mountDownloads));
            model = pickSmallestModel(server.runtime.registry.models());
            if (!model) {
                await server.close(1000);
                throw new Error("the generated test model was not listed by the server");
            }
        }
    } catch (err) {
        await fs.promises.rm(tmp, {recursive: true, force: true}).catch(() => undefined);
        throw err;
    }
    const key = config.apiKey;
    const running = server;
    const chosen = model;
    return {
        url: running.url,
        model: chosen,
        generated,
        downloads,
        config: serving,
        models: () => running.runtime.registry.models(),
        async request(method, route, body, timeoutMs = 120_000, auth = "key") {
            const headers: Record<string, string> = {};
            if (key && auth === "key") headers["x-api-key"] = key;
            if (auth === "wrong") headers["x-api-key"] = `${key ?? ""}-not-the-key`;
            if (body !== undefined) headers["content-type"] = "application/json";
            const t0 = performance.now();
            const res = await fetch(running.url + route, {
                method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs)
            });
            const text = await res.text();
            let parsed: unknown = text;
            try {
                parsed = JSON.parse(text);
            } catch {
                // not JSON: keep the text
            }
            return {status: res.status, body: parsed, ms: Math.round(performance.now() - t0)};
        },
        async close() {
            await running.close(2000);
            await fs.promises.rm(tmp, {recursive: true, force: true}).catch(() => undefined);
        }
    };
}

/**
 * The check servers of one run: the server of the last configuration asked for, started on first use and kept for
 * the next step that asks with the same configuration; another configuration (the config step wrote the key)
 * closes it and starts a new one. Whoever runs the machine closes the pool at the end (and before the launch).
 */
export class CheckServerPool {
    private current: {key: string; server: CheckServer} | null = null;

    async get(ctx: StepContext): Promise<CheckServer> {
        const key = JSON.stringify(ctx.config());
        if (this.current?.key === key) return this.current.server;
        await this.close();
        const server = await startCheckServer(ctx, {mountDownloads: true});
        this.current = {key, server};
        return server;
    }

    async close(): Promise<void> {
        const c = this.current;
        this.current = null;
        await c?.server.close();
    }
}

/** Runs `fn` with a check server: the run's pooled one, or one of its own, closed afterwards, without a pool. */
export async function withCheckServer<T>(ctx: StepContext, fn: (server: CheckServer) => Promise<T>): Promise<T> {
    if (ctx.checkServers) return fn(await ctx.checkServers.get(ctx));
    const server = await startCheckServer(ctx, {mountDownloads: true});
    try {
        return await fn(server);
    } finally {
        await server.close();
    }
}
