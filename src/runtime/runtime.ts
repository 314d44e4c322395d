/**
 * The runtime owns models, runners and jobs: every API family asks it for a job by name and drives that job the
 * same way, wherever the model lives (a local runner or an upstream server).
 */
import type {ProviderConfig} from "../config/load.js";
import {silentLogger, type Logger} from "../log/logger.js";
import {TOOL_CALLING_WRAPPERS} from "../registry/gguf-header.js";
import {ambiguityMessage, missHint} from "../registry/resolve.js";
import type {ExternalModel, ModelEntry} from "../registry/types.js";
import {Upstreams, upstreamJob, type Upstream, type UpstreamModel, type UpstreamsOptions} from "../upstream/index.js";
import {badRequest, notFound, ProviderError} from "./errors.js";
import type {Capability, GenerationResult, Job, JobOptions, LocalJob, StartContext} from "./job.js";
import {classifyLatency, isFillInTheMiddle, type LatencyClass} from "./latency.js";
import {ModelManager, type Lease, type Ticket} from "./manager.js";
import type {MemoryProbe} from "./memory-probe.js";
import type {ChatMessage} from "./protocol.js";
import type {RunnerFactory} from "./runner.js";
import {RegistryService} from "./registry-service.js";
import {mergeSampling} from "./sampling.js";
import {isSuperseded} from "./supersede.js";

export interface RuntimeOptions {
    logger?: Logger;
    probe?: MemoryProbe;
    external?: () => Promise<ExternalModel[]>;
    now?: () => number;
    sweepIntervalMs?: number;
    upstreams?: UpstreamsOptions;
    /** Builds the runner for a model (tests pass a stand-in); the manager's default starts a child process. */
    createRunner?: RunnerFactory;
}

/** Where a requested name is served. */
export type Target =
    | {kind: "local"; entry: ModelEntry}
    | {kind: "upstream"; upstream: Upstream; name: string};

export class Runtime {
    readonly registry: RegistryService;
    readonly manager: ModelManager;
    readonly upstreams: Upstreams;
    readonly logger: Logger;
    readonly startedAt = Date.now();

    constructor(readonly config: ProviderConfig, opts: RuntimeOptions = {}) {
        this.logger = opts.logger ?? silentLogger;
        this.upstreams = new Upstreams(config, this.logger, opts.upstreams);
        let registry: RegistryService | null = null;
        this.manager = new ModelManager(config, {
            logger: this.logger, probe: opts.probe, now: opts.now, sweepIntervalMs: opts.sweepIntervalMs,
            onStateChange: () => registry?.statusChanged(),
            // a draft_model is named as any model is: exact name, alias, fuzzy match
            resolveModel: (name) => this.resolveLocal(name),
            ...(opts.createRunner ? {createRunner: opts.createRunner} : {})
        });
        registry = new RegistryService(config, {
            logger: this.logger,
            external: opts.external,
            upstreamNames: () => this.upstreams.modelNames(),
            liveStatus: (name) => {
                const s = this.manager.stateOf(name);
                return s === "loaded" ? "loaded" : s === "failed" ? "failed" : "unloaded";
            }
        });
        this.registry = registry;
    }

    /** The startup loads (load_on_startup), running in the background once `start()` returned. */
    warming: Promise<void> = Promise.resolve();

    /** Scans the models, then starts the startup loads without waiting for them: the server listens meanwhile. */
    async start(): Promise<void> {
        const r = await this.registry.rescan();
        for (const w of r.warnings) this.logger.warn({warning: w}, "scan");
        this.warming = this.warmUp();
    }

    /** The models to load at startup, in order: the global `load_on_startup` list, then `models.<name>.load_on_startup`. */
    startupModels(): string[] {
        const flagged = Object.entries(this.config.models).filter(([, o]) => o.load_on_startup === true).map(([name]) => name);
        return [...new Set([...this.config.load_on_startup, ...flagged])];
    }

    /**
     * Loads the startup models one after another, in the background of a server that already answers: a request
     * for one of them joins its load. A model that would only fit by evicting another is left for its first
     * request, a name that matches nothing is a warning, and a failed load is logged; none stops the others.
     */
    async warmUp(): Promise<void> {
        for (const name of this.startupModels()) {
            let entry: ModelEntry;
            try {
                entry = await this.resolveLocal(name);
            } catch (err) {
                this.logger.warn({model: name, err: (err as Error).message}, "load_on_startup names no installed model");
                continue;
            }
            try {
                const t0 = performance.now();
                if (await this.manager.warmLoad(entry)) this.logger.info({model: entry.name, ms: Math.round(performance.now() - t0)}, "loaded at startup");
                else this.logger.warn({model: entry.name}, "load_on_startup: not loaded, it would not fit the memory budget beside the models already resident; it loads on its first request");
            } catch (err) {
                this.logger.warn({model: entry.name, err: (err as Error).message}, "load_on_startup: load failed");
            }
        }
    }

    /** Rescans the models folder and stores; entries of unloaded models follow the new index. */
    async rescan() {
        const r = await this.registry.rescan();
        this.manager.updateEntries(r.index.models);
        // what is listed after the scan: the files and the variants over them
        return {...r, index: {...r.index, models: this.registry.models()}};
    }

    /** The entry of the model file whose runner serves `entry`: the base's for a variant, else `entry` itself. */
    fileEntry(entry: ModelEntry): ModelEntry {
        return this.registry.fileOf(entry.name) ?? entry;
    }

    /** The state clients see for a listed model: a variant is as loaded as its base's runner. */
    stateOf(entry: ModelEntry) {
        return this.manager.stateOf(this.fileEntry(entry).name);
    }

    /** A 404 that starts with Ollama's exact text and then helps: close names, and what is installed. */
    notFound(name: string, suggestions?: string[]): ProviderError {
        const installed = this.registry.models().filter((m) => m.status !== "invalid").map((m) => m.name);
        return notFound(name, missHint(name, installed, suggestions));
    }

    /** Says in the log which model a name that is not its exact name resolved to. */
    private resolved(requested: string, entry: ModelEntry, rule: string): ModelEntry {
        if (rule !== "exact") this.logger.info({requested, model: entry.name, rule}, "model name resolved");
        return entry;
    }

    /** An installed model (or configured alias) by exactly that name, else null: what `/v1/models/{id}` may describe. */
    exactModel(name: string): ModelEntry | null {
        return this.registry.models().find((m) => m.status !== "invalid" && (m.name === name || m.aliases.includes(name))) ?? null;
    }

    /**
     * A requested name → the local model file that serves it (the runtime routes load and unload runners, so a
     * variant's name means its base's runner); never an upstream.
     */
    async resolveLocal(name: unknown): Promise<ModelEntry> {
        return this.fileEntry(await this.resolveListed(name));
    }

    /** A requested name → a listed local entry, a variant's own included. */
    private async resolveListed(name: unknown): Promise<ModelEntry> {
        if (typeof name !== "string" || name === "") throw notFound(typeof name === "string" ? name : "");
        const r = await this.registry.resolve(name);
        if (r.kind === "local") return this.resolved(name, r.model, r.rule);
        if (r.kind === "ambiguous") throw new ProviderError("ambiguous", ambiguityMessage(name, r.candidates), {code: "model_ambiguous", param: "model"});
        throw this.notFound(name, r.kind === "not_found" ? r.suggestions : undefined);
    }

    /**
     * A requested name → where it is served. Local exact names and aliases answer at once; anything else sees fresh
     * upstream lists, so an exact upstream name beats a fuzzy local match.
     */
    async resolve(name: unknown): Promise<Target> {
        if (this.upstreams.all.length === 0) return {kind: "local", entry: await this.resolveListed(name)};
        if (typeof name !== "string" || name === "") throw notFound(typeof name === "string" ? name : "");
        // a local model wins a clash, `name:latest` included
        for (const candidate of new Set([name, name.replace(/:latest$/, "")])) {
            const quick = this.registry.resolveNow(candidate);
            if (quick.kind === "local" && (quick.rule === "exact" || quick.rule === "alias")) return {kind: "local", entry: quick.model};
        }
        await this.upstreams.refresh();
        const r = await this.registry.resolve(name);
        if (r.kind === "local") return {kind: "local", entry: this.resolved(name, r.model, r.rule)};
        if (r.kind === "ambiguous") throw new ProviderError("ambiguous", ambiguityMessage(name, r.candidates), {code: "model_ambiguous", param: "model"});
        if (r.kind === "upstream") {
            const upstream = this.upstreams.byId(r.upstream);
            if (upstream) return {kind: "upstream", upstream, name: r.name};
        }
        const down = this.upstreams.unavailable();
        if (down.length > 0)
            throw new ProviderError("upstream_failed",
                `model '${name}' not found locally, and ${down.map((d) => `${d.upstream.describe()} is unavailable (${d.error})`).join("; ")}`,
                {code: "upstream_unreachable", param: "model"});
        throw this.notFound(name, r.kind === "not_found" ? r.suggestions : undefined);
    }

    /** Upstream models for the merged lists, without names a local model has. */
    async upstreamModels(): Promise<Array<{upstream: Upstream; model: UpstreamModel}>> {
        if (this.upstreams.all.length === 0) return [];
        return this.upstreams.models(new Set(this.registry.models().filter((m) => m.status !== "invalid").map((m) => m.name)));
    }

    /** Tools: the registry decided from the header (template or dedicated wrapper); a loaded runner's wrapper confirms it. */
    supportsTools(entry: ModelEntry): boolean {
        if (entry.metadata?.supports_tools) return true;
        const info = this.manager.loadedInfo(this.fileEntry(entry).name);
        return info != null && TOOL_CALLING_WRAPPERS.has(info.chatWrapper);
    }

    requireCapability(entry: ModelEntry, cap: Capability, requestedName: string): void {
        if (cap === "tools" && !this.supportsTools(entry)) throw badRequest(`${requestedName} does not support tools`);
        if (cap === "insert" && !entry.metadata?.has_fim) throw badRequest(`${requestedName} does not support insert: its GGUF has no fill-in-the-middle tokens`);
        if ((cap === "completion" || cap === "chat") && entry.metadata?.is_embedding)
            throw badRequest(`"${requestedName}" does not support ${cap === "chat" ? "chat" : "generate"}: it is an embedding model`);
    }

    /**
     * System prompt: the request's, else the config's, else the Modelfile's; the config's messages, else the
     * Modelfile's MESSAGEs, are prepended.
     */
    withModelDefaults(entry: ModelEntry, messages: ChatMessage[], requestSystem?: string): ChatMessage[] {
        const override = this.config.models[entry.name];
        const system = requestSystem ?? override?.system ?? entry.defaults?.system;
        const preset = (override?.messages ?? entry.defaults?.messages ?? []).map((m) => ({role: m.role as ChatMessage["role"], content: m.content}));
        const out = [...preset, ...messages];
        if (system != null && system !== "" && out[0]?.role !== "system") out.unshift({role: "system", content: system});
        return out;
    }

    /**
     * The one road from a request to a model: resolve the name (or take a resolved target), check what the model must
     * be able to do, merge the options over the model's defaults, and hand back a job that every API family drives the
     * same way.
     */
    async job(name: string | Target, opts: JobOptions = {}): Promise<Job> {
        const requested = typeof name === "string" ? name : name.kind === "local" ? name.entry.name : name.name;
        const target = typeof name === "string" ? await this.resolve(name) : name;
        if (target.kind === "upstream") return upstreamJob(target.upstream, target.name, requested, opts.options);
        for (const cap of opts.needs ?? []) this.requireCapability(target.entry, cap, requested);
        return this.localJob(target.entry, requested, opts);
    }

    /**
     * `entry` names the model the answer reports and whose defaults apply; the runner is its file's, so a variant
     * shares its base's runner instead of loading the same file twice.
     */
    private localJob(entry: ModelEntry, requested: string, opts: JobOptions): LocalJob {
        const t0 = performance.now();
        const options = opts.options ?? {};
        const override = this.config.models[entry.name];
        const sampling = mergeSampling(entry, override, options);
        const file = this.fileEntry(entry);
        // a variant's num_ctx is a wish like a request's: its runner's context is the base's
        const variantCtx = file === entry ? undefined : numCtxOption(override?.options) ?? numCtxOption(entry.defaults?.options);
        const numCtx = options.num_ctx ?? variantCtx;
        let ticket: Ticket | null = null;
        const admit = (latency?: LatencyClass, client?: string): Ticket =>
            ticket ??= this.manager.admit(file, {numCtx, keepAliveSeconds: opts.keepAliveSeconds, latency, client});
        const withLease = async <T>(signal: AbortSignal, fn: (lease: Lease, ticket: Ticket) => Promise<T>): Promise<T> => {
            const admitted = admit();
            const lease = await admitted.ready(signal);
            try {
                return await fn(lease, admitted);
            } finally {
                lease.release();
            }
        };
        return {
            where: "local",
            entry: file,
            requested,
            model: entry.name,
            sampling,
            numCtx,
            withDefaults: (messages, system) => this.withModelDefaults(entry, messages, system),
            start: async (request, _signal, context?: StartContext) => {
                admit(opts.latency ?? classifyLatency(request), isFillInTheMiddle(request) ? context?.client : undefined);
            },
            cancel: () => ticket?.cancel(),
            generate: (request, onEvent, signal) => withLease(signal, async (lease, admitted): Promise<GenerationResult> => {
                const tReady = performance.now();
                // a newer completion from the same client stops this one as a client disconnect would
                const stopped = AbortSignal.any([signal, admitted.superseded]);
                let stats;
                try {
                    stats = await lease.runner.generate({...request, latency: admitted.latency}, onEvent, stopped);
                } catch (err) {
                    if (admitted.superseded.aborted && !isSuperseded(err)) throw admitted.superseded.reason;
                    throw err;
                }
                // the runner ends an aborted generation as a short answer; a superseded one is no answer at all
                if (admitted.superseded.aborted) throw admitted.superseded.reason;
                return {
                    stats,
                    loadMs: lease.loadMs,
                    queueMs: Math.max(0, tReady - t0 - lease.loadMs),
                    totalMs: performance.now() - t0,
                    contextSize: lease.contextSize,
                    contextCapped: lease.contextCapped,
                    latency: admitted.latency,
                    evicted: lease.evicted
                };
            }),
            embed: (request, signal) => withLease(signal, async (lease) => {
                const res = await lease.runner.embed(request);
                return {...res, loadMs: lease.loadMs, totalMs: performance.now() - t0};
            }),
            countTokens: (text, chat, signal, tools) => withLease(signal, (lease) => lease.runner.countTokens(text, chat, tools)),
            load: (signal) => withLease(signal, async (lease) => ({loadMs: lease.loadMs}))
        };
    }

    /** The context a model is (or would be) loaded with. */
    contextSizeOf(entry: ModelEntry): number {
        const file = this.fileEntry(entry);
        return this.manager.loadedInfo(file.name)?.contextSize ?? this.manager.contextSizeFor(file);
    }

    async close(): Promise<void> {
        await this.manager.close();
        await this.registry.close();
    }
}

function numCtxOption(options: Record<string, unknown> | undefined): number | undefined {
    const n = options?.num_ctx;
    return typeof n === "number" && Number.isFinite(n) && n >= 16 ? Math.trunc(n) : undefined;
}
