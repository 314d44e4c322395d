import type {FastifyReply, FastifyRequest} from "fastify";
import {localTime} from "../api/ollama-models.js";
import {serveGeneration, type WireFormat} from "../api/generation.js";
import type {Logger} from "../log/logger.js";
import {ambiguityMessage} from "../registry/resolve.js";
import type {ModelEntry} from "../registry/types.js";
import {HttpError, notFound} from "../runtime/errors.js";
import type {EmbedRequest, GenerateRequest} from "../runtime/protocol.js";
import type {PreparedJob, Provider} from "../runtime/provider.js";
import {logRequest} from "../server/request-log.js";
import {disconnectSignal, StreamWriter} from "../server/stream.js";
import {resolveUpstreamConfigs, Upstream, type UpstreamCall, type UpstreamModel} from "./client.js";
import {OllamaUpstream} from "./ollama.js";
import {OpenAIUpstream} from "./openai.js";

export {Upstream} from "./client.js";

/** How long a model list from an upstream is trusted before it is fetched again. */
export const DEFAULT_LIST_TTL_MS = 10_000;

/** Where a requested model name is served. */
export type Target =
    | {kind: "local"; entry: ModelEntry}
    | {kind: "upstream"; upstream: Upstream; name: string};

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
 * The configured upstreams, their model lists (cached briefly), and the names they contribute to resolution.
 * A list that cannot be fetched hides that upstream's models and logs one warning until it answers again.
 */
export class Upstreams {
    readonly all: Upstream[];
    private readonly state = new Map<string, ListState>();
    private readonly ttlMs: number;

    constructor(private readonly provider: Provider, private readonly logger: Logger, opts: UpstreamsOptions = {}) {
        this.ttlMs = opts.listTtlMs ?? DEFAULT_LIST_TTL_MS;
        this.all = resolveUpstreamConfigs(provider.config.upstream_ollama, provider.config.upstreams)
            .map((c) => c.type === "openai" ? new OpenAIUpstream(c) : new OllamaUpstream(c));
        for (const u of this.all) this.state.set(u.id, {at: 0, models: null, error: null, refreshing: null});
    }

    byId(id: string): Upstream | undefined {
        return this.all.find((u) => u.id === id);
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
        this.publishNames();
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
            this.publishNames();
        }
    }

    private publishNames(): void {
        const names = new Map<string, Set<string>>();
        for (const u of this.all) {
            const s = this.state.get(u.id)!;
            if (s.models) names.set(u.id, new Set(s.models.map((m) => m.name)));
        }
        this.provider.registry.upstreamNames = names;
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

    /**
     * Local exact names and aliases answer at once; anything else sees fresh upstream lists, so an exact upstream
     * name beats a fuzzy local match.
     */
    async resolve(name: unknown): Promise<Target> {
        if (typeof name !== "string" || name === "") throw notFound(typeof name === "string" ? name : "");
        // a local model wins a clash, `name:latest` included
        for (const candidate of new Set([name, name.replace(/:latest$/, "")])) {
            const quick = this.provider.registry.resolveNow(candidate);
            if (quick.kind === "local" && (quick.rule === "exact" || quick.rule === "alias")) return {kind: "local", entry: quick.model};
        }
        await this.refresh();
        const r = await this.provider.registry.resolve(name);
        if (r.kind === "local") return {kind: "local", entry: r.model};
        if (r.kind === "ambiguous") throw new HttpError(400, ambiguityMessage(name, r.candidates), "model_ambiguous", "model");
        if (r.kind === "upstream") {
            const upstream = this.byId(r.upstream);
            if (upstream) return {kind: "upstream", upstream, name: r.name};
        }
        const down = this.unavailable();
        if (down.length > 0)
            throw new HttpError(502, `model '${name}' not found locally, and ${down.map((d) => `${d.upstream.describe()} is unavailable (${d.error})`).join("; ")}`, "upstream_unreachable", "model");
        throw notFound(name);
    }
}

const attached = new WeakMap<Provider, Upstreams>();

/** Creates the upstream set for a provider when its config names any upstream. */
export function attachUpstreams(provider: Provider, logger: Logger, opts: UpstreamsOptions = {}): Upstreams | null {
    const u = new Upstreams(provider, logger, opts);
    if (u.all.length === 0) return null;
    attached.set(provider, u);
    return u;
}

export function upstreamsOf(provider: Provider): Upstreams | undefined {
    return attached.get(provider);
}

/** Name → local entry or upstream model; without upstreams exactly `provider.resolveLocal`. */
export async function resolveTarget(provider: Provider, name: unknown): Promise<Target> {
    const ups = attached.get(provider);
    if (!ups) return {kind: "local", entry: await provider.resolveLocal(name)};
    return ups.resolve(name);
}

/** Upstream models as /api/tags entries; each says which upstream it lives on. */
export async function upstreamTags(provider: Provider, localNames: Set<string>): Promise<Array<Record<string, unknown>>> {
    const ups = attached.get(provider);
    if (!ups) return [];
    return (await ups.models(localNames)).map(({upstream, model}) => ({
        // an Ollama upstream's own entry as it is; an OpenAI one gets the fields strict clients (Zed) require
        ...(model.tag ?? {
            name: model.name,
            model: model.name,
            modified_at: localTime(new Date((model.created ?? 0) * 1000)),
            size: 0,
            digest: "",
            details: {parent_model: "", format: "", family: "", families: [], parameter_size: "", quantization_level: ""}
        }),
        status: "upstream",
        upstream: upstream.id,
        remote_host: upstream.url,
        remote_model: model.name
    }));
}

/**
 * /api/show for a model on an OpenAI-compatible upstream, which has no such route: what is known (its name and where
 * it lives), with capabilities the upstream decides for itself at request time.
 */
export function upstreamShow(upstream: Upstream, name: string): Record<string, unknown> {
    return {
        license: "",
        modelfile: `# served by ${upstream.describe()}\nFROM ${name}\n`,
        parameters: "",
        template: "{{ .Prompt }}",
        details: {parent_model: "", format: "", family: "", families: [], parameter_size: "", quantization_level: ""},
        model_info: {"general.architecture": "unknown", "general.basename": name},
        capabilities: ["completion", "tools"],
        remote_host: upstream.url,
        remote_model: name,
        upstream: upstream.id
    };
}

/** A ModelEntry stand-in for an upstream model: only its name is read by the serving code (logs and facts). */
function upstreamEntry(upstream: Upstream, name: string): ModelEntry {
    return {
        name, path: `${upstream.url}#${name}`, abs_path: "", files: [], size_bytes: 0, status: "unloaded", keep_loaded: false, pinned: false,
        aliases: [], source: "models_dir", read_only: true, projector: null, fingerprint: "", modified_at: "", mtime_ms: 0, quant_tag: "",
        base_name: name, metadata: null
    };
}

/** A PreparedJob whose generation runs on an upstream; `start` must be awaited before any header is sent. */
export interface UpstreamJob extends PreparedJob {
    start(request: GenerateRequest, signal?: AbortSignal): Promise<void>;
}

export function upstreamJob(upstream: Upstream, name: string): UpstreamJob {
    const t0 = performance.now();
    let call: UpstreamCall | null = null;
    const unsupported = (what: string) => new HttpError(400, `${what} is not available for a model on ${upstream.describe()}`);
    return {
        entry: upstreamEntry(upstream, name),
        requestedName: name,
        async start(request, signal) {
            call = await upstream.startGeneration(name, request, signal);
        },
        async generate(request, onEvent, signal) {
            call ??= await upstream.startGeneration(name, request);
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

/**
 * Runs a generation on an upstream in a family's wire format. The upstream must accept the request before our
 * headers go out, so an unreachable or silent upstream is a real 502 / 504, not an error inside a 200 stream.
 */
export async function serveUpstreamGeneration(request: FastifyRequest, reply: FastifyReply, logger: Logger, upstream: Upstream, name: string,
    gen: GenerateRequest, format: WireFormat, stream: boolean): Promise<void> {
    const job = upstreamJob(upstream, name);
    request.facts.model = `${upstream.id}/${name}`;
    // an Ollama upstream answers only after loading the model: a client that leaves meanwhile cancels the request
    const clientGone = disconnectSignal(request, reply);
    try {
        await job.start(gen, clientGone);
    } catch (err) {
        if (clientGone.aborted) return;
        throw err;
    }
    if (reply.raw.destroyed) {
        job.cancel();
        return;
    }
    await serveGeneration(request, reply, logger, job, gen, format, stream);
}

/**
 * Ollama request → Ollama upstream, as it is (only `model` becomes the upstream's exact name). A stream is written
 * through chunk by chunk as it arrives; a client that goes away aborts the upstream request.
 */
export async function proxyOllama(request: FastifyRequest, reply: FastifyReply, logger: Logger, upstream: Upstream, path: string,
    body: Record<string, unknown>, name: string): Promise<void> {
    const clientGone = disconnectSignal(request, reply);
    const forwarded: Record<string, unknown> = {...body, model: name};
    delete forwarded.name;
    request.facts.model = `${upstream.id}/${name}`;
    const call = await upstream.send(path, {body: forwarded, signal: clientGone});
    const contentType = call.response.headers.get("content-type") ?? "application/json; charset=utf-8";
    if (!call.response.ok || !contentType.includes("ndjson")) {
        // one JSON object: read it whole, so a body that breaks off becomes a 502 instead of truncated JSON
        let text = "";
        for await (const chunk of upstream.chunks(call, clientGone)) text += chunk;
        if (clientGone.aborted) return;
        await reply.code(call.response.status).type(contentType).send(text);
        return;
    }
    const w = new StreamWriter(reply, contentType);
    request.facts.stream = true;
    call.link(w.abort.signal);
    let status = 200;
    // whole lines as soon as they arrive: a line cut off by a dying upstream must not run into the error line
    let tail = "";
    try {
        for await (const chunk of upstream.chunks(call, w.abort.signal)) {
            tail += chunk;
            const nl = tail.lastIndexOf("\n");
            if (nl < 0) continue;
            w.write(tail.slice(0, nl + 1));
            tail = tail.slice(nl + 1);
        }
        if (tail !== "") w.write(tail);
    } catch (err) {
        const e = err as HttpError;
        status = e.status ?? 502;
        request.facts.error = e.message;
        w.ndjson({error: e.message});
    } finally {
        w.end();
        logRequest(logger, request, w.abort.signal.aborted ? 499 : status);
    }
}
