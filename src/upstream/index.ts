/** Upstreams: other Ollama / OpenAI-compatible servers whose models this server can serve, and jobs that run there. */
import type {UpstreamConfig} from "../config/schema.js";
import type {Logger} from "../log/logger.js";
import type {RequestOptions, UpstreamJob} from "../runtime/job.js";
import {badRequest} from "../runtime/errors.js";
import {mergeSampling} from "../runtime/sampling.js";
import type {ChatMessage, EmbedRequest, GenerateRequest} from "../runtime/protocol.js";
import {resolveUpstreamConfigs, Upstream, type UpstreamCall, type UpstreamModel} from "./client.js";
import {OllamaUpstream} from "./ollama.js";
import {OpenAIUpstream} from "./openai.js";

export {Upstream, type UpstreamModel} from "./client.js";

/** How long a model list from an upstream is trusted before it is fetched again. */
export const DEFAULT_LIST_TTL_MS = 10_000;

interface ListState {
    at: number;
    models: UpstreamModel[] | null;
    error: string | null;
    refreshing: Promise<void> | null;
}

export interface UpstreamsOptions {
    listTtlMs?: number;
}

/**
 * The configured upstreams and their model lists (cached briefly). A list that cannot be fetched hides that
 * upstream's models and logs one warning until it answers again.
 */
export class Upstreams {
    readonly all: Upstream[];
    private readonly state = new Map<string, ListState>();
    private readonly ttlMs: number;
    private names = new Map<string, Set<string>>();

    constructor(config: {upstream_ollama: string | null; upstreams: UpstreamConfig[]}, private readonly logger: Logger, opts: UpstreamsOptions = {}) {
        this.ttlMs = opts.listTtlMs ?? DEFAULT_LIST_TTL_MS;
        this.all = resolveUpstreamConfigs(config.upstream_ollama, config.upstreams)
            .map((c) => c.type === "openai" ? new OpenAIUpstream(c) : new OllamaUpstream(c));
        for (const u of this.all) this.state.set(u.id, {at: 0, models: null, error: null, refreshing: null});
    }

    byId(id: string): Upstream | undefined {
        return this.all.find((u) => u.id === id);
    }

    /** Exact model names each answering upstream offers (upstream id → names), for name resolution. */
    modelNames(): ReadonlyMap<string, ReadonlySet<string>> {
        return this.names;
    }

    /**
     * Brings every stale list up to date. A list that never loaded (or was good and went stale) is awaited, bounded
     * by the list timeout; one that failed last time refreshes in the background, so a dead upstream slows nothing.
     */
    async refresh(): Promise<void> {
        const now = Date.now();
        const waits: Promise<void>[] = [];
        for (const u of this.all) {
            const s = this.state.get(u.id)!;
            if (now - s.at < this.ttlMs && s.at > 0) continue;
            s.refreshing ??= this.fetchList(u, s).finally(() => {
                s.refreshing = null;
            });
            if (s.error == null) waits.push(s.refreshing);
        }
        await Promise.all(waits);
        this.collectNames();
    }

    private async fetchList(u: Upstream, s: ListState): Promise<void> {
        try {
            const models = await u.listModels();
            if (s.error != null) this.logger.info({upstream: u.id, url: u.url, models: models.length}, "upstream answers again; its models are listed");
            s.models = models;
            s.error = null;
        } catch (err) {
            const message = (err as Error).message;
            // once per outage, not per request
            if (s.error == null) this.logger.warn({upstream: u.id, url: u.url, error: message}, "upstream is unavailable; its models are hidden until it answers");
            s.models = null;
            s.error = message;
        } finally {
            s.at = Date.now();
            this.collectNames();
        }
    }

    private collectNames(): void {
        const names = new Map<string, Set<string>>();
        for (const u of this.all) {
            const s = this.state.get(u.id)!;
            if (s.models) names.set(u.id, new Set(s.models.map((m) => m.name)));
        }
        this.names = names;
    }

    /** Models of the upstreams that answered, first upstream first, without names a local model (or an earlier upstream) has. */
    async models(localNames: Set<string>): Promise<Array<{upstream: Upstream; model: UpstreamModel}>> {
        await this.refresh();
        // `x` and Ollama's `x:latest` are one name
        const key = (n: string) => n.replace(/:latest$/, "");
        const seen = new Set([...localNames].map(key));
        const out: Array<{upstream: Upstream; model: UpstreamModel}> = [];
        for (const u of this.all) {
            for (const m of this.state.get(u.id)!.models ?? []) {
                if (seen.has(key(m.name))) continue;
                seen.add(key(m.name));
                out.push({upstream: u, model: m});
            }
        }
        return out;
    }

    /** Upstreams whose last list failed, with the reason. */
    unavailable(): Array<{upstream: Upstream; error: string}> {
        return this.all.flatMap((u) => {
            const e = this.state.get(u.id)!.error;
            return e != null ? [{upstream: u, error: e}] : [];
        });
    }
}

/**
 * A job on an upstream model. No local Modelfile or config defaults apply there: sampling is Ollama's defaults plus
 * the request, and the upstream decides capabilities for itself.
 */
export function upstreamJob(upstream: Upstream, name: string, requested: string, options: RequestOptions = {}): UpstreamJob {
    const t0 = performance.now();
    let call: UpstreamCall | null = null;
    const unsupported = (what: string) => badRequest(`${what} is not available for a model on ${upstream.describe()}`);
    return {
        where: "upstream",
        upstream,
        requested,
        model: name,
        sampling: mergeSampling({name, defaults: undefined}, undefined, options),
        numCtx: options.num_ctx,
        withDefaults: (messages: ChatMessage[], system?: string) =>
            system != null && system !== "" && messages[0]?.role !== "system" ? [{role: "system", content: system}, ...messages] : messages,
        async start(request: GenerateRequest, signal: AbortSignal) {
            call = await upstream.startGeneration(name, request, signal);
        },
        async generate(request, onEvent, signal) {
            call ??= await upstream.startGeneration(name, request, signal);
            const stats = await upstream.readGeneration(call, request, onEvent, signal);
            return {stats, loadMs: 0, queueMs: 0, totalMs: performance.now() - t0, contextSize: stats.context_size, contextCapped: false};
        },
        async embed(request: EmbedRequest, signal) {
            const res = await upstream.embed(name, request.inputs, request.truncate, signal);
            return {...res, loadMs: 0, totalMs: performance.now() - t0};
        },
        countTokens: async () => {
            throw unsupported("token counting");
        },
        load: async () => ({loadMs: 0}),
        cancel: () => call?.abort()
    };
}
