import fs from "node:fs/promises";
import path from "node:path";
import type {ProviderConfig} from "../config/load.js";
import {silentLogger, type Logger} from "../log/logger.js";
import type {ModelEntry} from "../registry/types.js";
import {cancelled, isProviderError, ProviderError, QUEUE_FULL_MESSAGE, shuttingDown} from "./errors.js";
import type {LatencyClass} from "./latency.js";
import {estimateModelBytes, systemMemoryProbe, type MemoryProbe, type ShapeFacts} from "./memory-probe.js";
import {hasRunnerPhase, InFlight, isServing, Lifecycle, publicState, type ModelPhase, type ModelState} from "./model-state.js";
import {autoParallel} from "./parallel.js";
import {Permits, type Capacity, type Permit} from "./permits.js";
import type {LoadedInfo, SpeculativeSpec} from "./protocol.js";
import {Supersession} from "./supersede.js";
import type {Runner, RunnerFactory} from "./runner.js";
import {RunnerProcess} from "./runner-process.js";
import {defaultThreads} from "./system-info.js";

export type {ModelState} from "./model-state.js";
export type {Runner, RunnerFactory} from "./runner.js";

const MIB = 1024 * 1024;
/** How long a runner may take to save its prompt states and exit before it is killed. */
const STOP_GRACE_MS = 10_000;

/** Everything the manager knows about one model. Only the manager changes it, and its phase only through `lifecycle`. */
class ModelRecord {
    readonly lifecycle: Lifecycle;
    readonly inFlight: InFlight;
    readonly permits: Permits;
    reason: string | null = null;
    runner: Runner | null = null;
    info: LoadedInfo | null = null;
    /** The load in progress; every job that needs the model joins it. */
    loading: Promise<void> | null = null;
    /** The runner stop in progress; a job that arrives meanwhile waits for it, then loads again. */
    stopping: Promise<void> | null = null;
    /** An explicit unload waiting for the jobs in flight; a second unload joins it. */
    draining: Promise<void> | null = null;
    lastUsed = 0;
    loadedAt = 0;
    loadMs = 0;
    requests = 0;
    loads = 0;
    estimateBytes = 0;
    peakRssBytes = 0;
    /** ms timestamp until which a client's keep_alive holds the model; Infinity = forever. */
    clientKeepUntil = 0;
    contextSize = 0;
    /** The models the latest load of this one evicted to make room (what its first jobs report). */
    lastEvicted: string[] = [];

    constructor(public entry: ModelEntry, onPhase: (record: ModelRecord, from: ModelPhase, to: ModelPhase) => void,
        onBusy: (record: ModelRecord, busy: boolean) => void) {
        this.lifecycle = new Lifecycle(entry.name, (from, to) => onPhase(this, from, to));
        this.inFlight = new InFlight((busy) => onBusy(this, busy));
        this.permits = new Permits(this.inFlight);
    }

    get phase(): ModelPhase {
        return this.lifecycle.phase;
    }
}

export interface AcquireOptions {
    numCtx?: number;
    /** Seconds as sent by the client: negative = forever; undefined = no opinion. */
    keepAliveSeconds?: number;
    /** Long jobs leave the model's reserved sequences to short ones; absent: long. */
    latency?: LatencyClass;
    /** Who sent a short job: a newer short job with the same key for the same model supersedes it (supersede.ts). */
    client?: string;
}

export interface Lease {
    runner: Runner;
    /** ms spent loading for this request (0 when the model was already resident). */
    loadMs: number;
    contextSize: number;
    /** The client asked for more context than the model is loaded with; it is served within the loaded size. */
    contextCapped: boolean;
    /** Models evicted to make room for the load this job waited for (empty when it waited for none). */
    evicted: string[];
    release(): void;
}

/** A job admitted to a model: resolution, the queue bound and the memory check are done; `ready` waits for a permit and the load. */
export interface Ticket {
    model: string;
    latency: LatencyClass;
    /** Aborted when a newer short job from the same client supersedes this one; the job's generation follows it. */
    superseded: AbortSignal;
    ready(signal?: AbortSignal): Promise<Lease>;
    cancel(): void;
}

export interface ManagerOptions {
    logger?: Logger;
    probe?: MemoryProbe;
    now?: () => number;
    /** How often idle and memory-pressure checks run (ms). */
    sweepIntervalMs?: number;
    /** Called after a model's state as clients see it changed (the registry keeps statuses current with it). */
    onStateChange?: () => void;
    /** Builds the runner for a model; a child process by default. */
    createRunner?: RunnerFactory;
    /**
     * Resolves a model name the way requests do (`models.<name>.draft_model`); rejects with the registry's error.
     * Absent: a draft model is found by its exact name or alias among the entries this manager was given, or as a path.
     */
    resolveModel?: (name: string) => Promise<ModelEntry>;
}

export interface ModelStatusReport {
    name: string;
    state: ModelState;
    reason: string | null;
    runner_pid: number | null;
    pinned: boolean;
    keep_loaded: boolean;
    in_flight: number;
    queued: number;
    /** Waiting jobs by latency class. */
    queued_short: number;
    queued_long: number;
    /** Sequences: the runner's when loaded, else what a load would give (the configured number, or "auto"'s choice). */
    parallel: number;
    /** Whether `parallel` came from "auto" (memory) rather than a number in the config. */
    parallel_auto: boolean;
    /** Sequences long jobs leave free for short ones. */
    short_reserved: number;
    last_used: string | null;
    loaded_at: string | null;
    load_ms: number;
    loads: number;
    requests: number;
    context_size: number;
    estimate_bytes: number;
    measured_rss_bytes: number;
    budget_bytes: number;
    expires_at: string | null;
}

/** Why a runner was stopped on purpose (the words the "model unloaded" log line gives). */
export type UnloadReason = "explicit unload" | "idle_unload_seconds reached" | "evicted under ram_threshold_mb" | "memory pressure" | "context growth";

/**
 * What happened to a model, for watchers inside the process (the dashboard's live view, the metrics). Listeners run
 * synchronously where it happened, so they must only record and return.
 */
export type ManagerEvent =
    | {type: "phase"; model: string; from: ModelPhase; to: ModelPhase; state: ModelState}
    | {type: "loaded"; model: string; load_ms: number}
    | {type: "load_failed"; model: string; reason: string}
    | {type: "unloaded"; model: string; reason: UnloadReason}
    | {type: "crashed"; model: string; reason: string}
    | {type: "pinned"; model: string; pinned: boolean};

const defaultRunner: RunnerFactory = (model, onStderr) => new RunnerProcess(model, onStderr);

/**
 * Owns all model state: which runners exist, single-flight loads, per-model permits and the FIFO queue,
 * keep-loaded and idle policy, and LRU eviction by measured memory. Routes only ask it for leases.
 */
export class ModelManager {
    private records = new Map<string, ModelRecord>();
    private readonly logger: Logger;
    private readonly probe: MemoryProbe;
    private readonly now: () => number;
    private readonly createRunner: RunnerFactory;
    private sweepTimer: NodeJS.Timeout | null = null;
    private closed = false;
    private readonly onStateChange: () => void;
    private readonly listeners = new Set<(event: ManagerEvent) => void>();
    /** Pins set while the server runs (the dashboard's pin button); they win over the config until a restart. */
    private readonly runtimePins = new Map<string, boolean>();
    private readonly supersession = new Supersession();
    private readonly resolveModel: ((name: string) => Promise<ModelEntry>) | null;
    /** The registry's entries as last given (updateEntries), for draft models when no resolver was given. */
    private knownEntries: ModelEntry[] = [];

    constructor(private readonly config: ProviderConfig, opts: ManagerOptions = {}) {
        this.logger = opts.logger ?? silentLogger;
        this.probe = opts.probe ?? systemMemoryProbe;
        this.now = opts.now ?? Date.now;
        this.createRunner = opts.createRunner ?? defaultRunner;
        this.onStateChange = opts.onStateChange ?? (() => undefined);
        this.resolveModel = opts.resolveModel ?? null;
        const interval = opts.sweepIntervalMs ?? 1000;
        this.sweepTimer = setInterval(() => void this.sweep(), interval);
        this.sweepTimer.unref();
    }

    private recordFor(entry: ModelEntry): ModelRecord {
        let record = this.records.get(entry.name);
        if (!record) {
            record = new ModelRecord(entry, (r, from, to) => this.onPhase(r, from, to), (r, busy) => this.onBusy(r, busy));
            this.records.set(entry.name, record);
        } else if (!hasRunnerPhase(record.phase)) record.entry = entry;
        return record;
    }

    private onPhase(record: ModelRecord, from: ModelPhase, to: ModelPhase): void {
        this.logger.debug({model: record.entry.name, from, to}, "model state");
        if (publicState(from) !== publicState(to)) this.onStateChange();
        this.emit({type: "phase", model: record.entry.name, from, to, state: publicState(to)});
    }

    /** Watches what happens to models; returns the function that stops watching. */
    onEvent(listener: (event: ManagerEvent) => void): () => void {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
    }

    private emit(event: ManagerEvent): void {
        for (const listener of this.listeners) {
            try {
                listener(event);
            } catch (err) {
                // a watcher's bug must never break a load or an unload
                this.logger.warn({err: (err as Error).message, event: event.type}, "model event listener failed");
            }
        }
    }

    /** loaded ⇄ busy follows the in-flight count; in any other phase the count changes nothing by itself. */
    private onBusy(record: ModelRecord, busy: boolean): void {
        if (busy && record.phase === "loaded") record.lifecycle.to("busy");
        if (!busy) {
            record.lastUsed = this.now();
            if (record.phase === "busy") record.lifecycle.to("loaded");
        }
    }

    /** Entering "loaded" with jobs already admitted (the ones that asked for the load) means busy at once. */
    private enterLoaded(record: ModelRecord): void {
        record.lifecycle.to("loaded");
        if (record.inFlight.count > 0) record.lifecycle.to("busy");
    }

    private override(name: string) {
        return this.config.models[name] ?? {};
    }

    keepLoaded(entry: ModelEntry): boolean {
        return this.override(entry.name).keep_loaded ?? entry.keep_loaded ?? this.config.keep_loaded_default;
    }

    /** A pin set at run time, else the config's, else the registry entry's (a Modelfile's). */
    pinned(entry: ModelEntry): boolean {
        return this.runtimePins.get(entry.name) ?? this.override(entry.name).pinned ?? entry.pinned ?? false;
    }

    /** Pins (never evicted) or unpins a model until the server restarts; `models.<name>.pinned` keeps it across restarts. */
    setPinned(name: string, pinned: boolean): void {
        this.runtimePins.set(name, pinned);
        this.emit({type: "pinned", model: name, pinned});
    }

    private shapeOf(entry: ModelEntry): ShapeFacts {
        const m = entry.metadata;
        return {
            size_bytes: entry.size_bytes,
            block_count: m?.block_count ?? null,
            head_count: m?.head_count ?? null,
            head_count_kv: m?.head_count_kv ?? null,
            embedding_length: m?.embedding_length ?? null,
            vocab_size: m?.vocab_size ?? null
        };
    }

    private parallelSetting(entry: ModelEntry): number | "auto" {
        return this.override(entry.name).parallel ?? this.config.parallel;
    }

    /** Whether this model's sequence count comes from "auto" (memory) rather than a number in the config. */
    parallelIsAuto(entry: ModelEntry): boolean {
        return this.parallelSetting(entry) === "auto";
    }

    /**
     * Sequences a load of this model gets: the configured number, or for "auto" as many as memory allows
     * (parallel.ts) at the context it would load with. Each sequence has the whole context.
     */
    parallelFor(entry: ModelEntry, numCtx?: number): number {
        const setting = this.parallelSetting(entry);
        if (setting !== "auto") return setting;
        const budget = this.config.ram_threshold_mb > 0 ? this.config.ram_threshold_mb * MIB : this.probe.systemTotalBytes();
        return autoParallel(this.shapeOf(entry), this.contextSizeFor(entry, numCtx), budget);
    }

    /** Sequences long jobs must leave to short ones: the configured number, never all of them. */
    shortReservedFor(entry: ModelEntry, parallel: number): number {
        const configured = this.override(entry.name).short_reserved_sequences ?? this.config.short_reserved_sequences;
        return Math.max(0, Math.min(configured, parallel - 1));
    }

    private capacityOf(record: ModelRecord): Capacity {
        const sequences = record.info?.parallel ?? this.parallelFor(record.entry);
        return {sequences, reservedForShort: this.shortReservedFor(record.entry, sequences)};
    }

    /** Configured context, else the smaller of the model's training context and the global default. */
    contextSizeFor(entry: ModelEntry, requested?: number): number {
        const override = this.override(entry.name);
        const optionCtx = (o: Record<string, unknown> | undefined) => (typeof o?.num_ctx === "number" && o.num_ctx >= 16 ? Math.trunc(o.num_ctx) : undefined);
        // context_size, else a num_ctx default from the config's options or the Modelfile (what /api/show reports)
        const configured = override.context_size ?? optionCtx(override.options) ?? optionCtx(entry.defaults?.options);
        const train = entry.metadata?.context_length ?? this.config.context_size;
        const base = configured ?? Math.min(train, this.config.context_size);
        if (requested != null && requested > base && this.config.allow_context_growth) return Math.min(requested, Math.max(train, base));
        return base;
    }

    private budgetBytes(record: ModelRecord): number {
        return Math.max(record.estimateBytes, record.peakRssBytes);
    }

    /** Models that hold memory now: a runner is starting, serving or stopping. */
    private residentRecords(): ModelRecord[] {
        return [...this.records.values()].filter((r) => hasRunnerPhase(r.phase));
    }

    private totalQueued(): number {
        let n = 0;
        for (const r of this.records.values()) n += r.permits.queued;
        return n;
    }

    /** Idle, unpinned and not being unloaded: the only models an eviction or an idle unload may stop. */
    private evictable(record: ModelRecord): boolean {
        return record.phase === "loaded" && record.inFlight.count === 0 && !this.pinned(record.entry);
    }

    private estimateFor(entry: ModelEntry, contextSize: number, numCtx?: number): number {
        return estimateModelBytes(this.shapeOf(entry), contextSize, this.parallelFor(entry, numCtx));
    }

    /**
     * Which idle models must go for `need` more bytes to fit under ram_threshold_mb, least recently used first.
     * Throws "does_not_fit" naming the numbers when even evicting every idle, unpinned model would not be enough.
     */
    private planEviction(target: ModelRecord, need: number): ModelRecord[] {
        const threshold = this.config.ram_threshold_mb * MIB;
        if (threshold <= 0) return [];
        const others = this.residentRecords().filter((r) => r !== target);
        let used = others.reduce((a, r) => a + this.budgetBytes(r), 0);
        if (used + need <= threshold) return [];
        const candidates = others.filter((r) => this.evictable(r)).sort((a, b) => a.lastUsed - b.lastUsed);
        const plan: ModelRecord[] = [];
        for (const c of candidates) {
            if (used + need <= threshold) break;
            plan.push(c);
            used -= this.budgetBytes(c);
        }
        if (used + need > threshold) {
            const mb = (b: number) => Math.ceil(b / MIB);
            throw new ProviderError("does_not_fit",
                `model '${target.entry.name}' needs about ${mb(need)} MB but only ${Math.max(0, mb(threshold - used))} MB of the ${this.config.ram_threshold_mb} MB budget (ram_threshold_mb) ` +
                `can be freed: the other resident models are busy or pinned (in use: ${mb(used)} MB). Raise ram_threshold_mb, lower context_size, or unload a model.`,
                {code: "insufficient_memory"});
        }
        return plan;
    }

    /** The memory check for a model that is not resident yet: done before any response header is sent. */
    private checkFits(record: ModelRecord, numCtx: number | undefined): void {
        if (isServing(record.phase) || record.phase === "loading") return;
        this.planEviction(record, this.estimateFor(record.entry, this.contextSizeFor(record.entry, numCtx), numCtx));
    }

    /**
     * Admits a job: checks the queue bound and the memory fit synchronously, so their errors reach the client
     * as such before any header is sent. The permit is taken (or the job queued) here, in arrival order.
     */
    admit(entry: ModelEntry, opts: AcquireOptions = {}): Ticket {
        if (this.closed) throw shuttingDown();
        if (entry.status === "invalid")
            throw new ProviderError("load_failed", `model '${entry.name}' cannot be loaded: ${entry.reason ?? "invalid GGUF"} (file: ${entry.path})`, {code: "invalid_model"});
        const record = this.recordFor(entry);
        // an explicit unload stops admitting; an idle unload or an eviction in progress is simply waited for (ensureLoaded)
        if (record.phase === "draining")
            throw new ProviderError("busy", `model '${entry.name}' is being unloaded on request; try again in a moment`);
        this.checkFits(record, opts.numCtx);
        const latency = opts.latency ?? "long";
        const capacity = this.capacityOf(record);
        // the job this one supersedes leaves the queue first, so its place counts for this one
        const claim = latency === "short" && opts.client != null ? this.supersession.claim(`${entry.name}\u0000${opts.client}`) : null;
        if (!record.permits.available(capacity, latency) && this.totalQueued() >= this.config.max_queue) {
            claim?.done();
            throw new ProviderError("busy", QUEUE_FULL_MESSAGE, {code: "server_busy"});
        }
        const permit = record.permits.acquire(capacity, latency);
        record.requests++;
        this.noteKeepAlive(record, opts.keepAliveSeconds);
        return this.ticket(record, permit, opts, latency, claim);
    }

    private ticket(record: ModelRecord, permit: Permit, opts: AcquireOptions, latency: LatencyClass,
        claim: {signal: AbortSignal; done: () => void} | null): Ticket {
        // one flag for both ends of a ticket: released after its job, or cancelled before or while it waited
        let ended = false;
        const supersededSignal = claim?.signal ?? new AbortController().signal;
        const end = () => {
            if (ended) return;
            ended = true;
            claim?.done();
            supersededSignal.removeEventListener("abort", onSuperseded);
            permit.release(supersededSignal.aborted ? supersededSignal.reason as Error : cancelled());
        };
        // still queued: leave the queue at once, so the newer job does not wait behind this one
        const onSuperseded = () => {
            if (permit.queued) end();
        };
        supersededSignal.addEventListener("abort", onSuperseded, {once: true});
        const endedReason = () => (supersededSignal.aborted ? supersededSignal.reason as Error : cancelled());
        return {
            model: record.entry.name,
            latency,
            superseded: supersededSignal,
            cancel: end,
            ready: async (signal?: AbortSignal) => {
                if (signal?.aborted) end();
                signal?.addEventListener("abort", end, {once: true});
                try {
                    await permit.granted;
                    if (ended) throw endedReason();
                    const lease = await this.lease(record, opts, end);
                    if (ended) throw endedReason();
                    return lease;
                } catch (err) {
                    end();
                    throw err;
                } finally {
                    signal?.removeEventListener("abort", end);
                }
            }
        };
    }

    /** With a permit held: the model loaded (once, shared), then the runner handed to the job. */
    private async lease(record: ModelRecord, opts: AcquireOptions, release: () => void): Promise<Lease> {
        const t0 = this.now();
        const wasLoaded = isServing(record.phase) && record.runner?.alive === true;
        await this.ensureLoaded(record, opts.numCtx);
        const runner = record.runner;
        // the runner can die between its load and this job's turn
        if (!runner) throw new ProviderError("crashed", `model '${record.entry.name}' stopped unexpectedly (${record.reason ?? "runner exited"}); it will be loaded again on the next request`);
        record.lastUsed = this.now();
        return {
            runner,
            loadMs: wasLoaded ? 0 : this.now() - t0,
            contextSize: record.contextSize,
            contextCapped: opts.numCtx != null && opts.numCtx > record.contextSize,
            evicted: wasLoaded ? [] : [...record.lastEvicted],
            release
        };
    }

    private noteKeepAlive(record: ModelRecord, seconds: number | undefined): void {
        if (seconds == null) return;
        // a client may lengthen residency but never shorten the configured policy
        // past what a Date can hold (keep_alive: 1e13) means forever too
        const until = seconds < 0 || this.now() + seconds * 1000 > 8.64e15 ? Infinity : this.now() + seconds * 1000;
        record.clientKeepUntil = Math.max(record.clientKeepUntil, until);
    }

    /** Single-flight: concurrent callers share one load. A failed or crashed model is loaded again. */
    private async ensureLoaded(record: ModelRecord, numCtx?: number): Promise<void> {
        if (record.stopping) await record.stopping;
        // the runner died a moment ago and its exit is not handled yet: it is failed, and loads again below
        if (isServing(record.phase) && record.runner && !record.runner.alive) this.runnerGone(record, "runner process exited");
        if (isServing(record.phase) && record.runner?.alive) {
            const wanted = this.contextSizeFor(record.entry, numCtx);
            // only when this job is the one in flight: a larger context means a reload, which no other job may see
            const grow = this.config.allow_context_growth && wanted > record.contextSize && record.inFlight.count <= 1 && record.phase !== "draining";
            if (!grow) return;
            this.logger.info({model: record.entry.name, from: record.contextSize, to: wanted}, "reloading with a larger context (allow_context_growth)");
            await this.stopRunner(record, "context growth");
        }
        if (record.loading) return record.loading;
        record.loading = this.load(record, numCtx).finally(() => {
            record.loading = null;
        });
        return record.loading;
    }

    private async load(record: ModelRecord, numCtx?: number): Promise<void> {
        const entry = record.entry;
        const contextSize = this.contextSizeFor(entry, numCtx);
        const parallel = this.parallelFor(entry, numCtx);
        const need = this.estimateFor(entry, contextSize, numCtx);
        const evict = this.planEviction(record, need);
        // counted as resident from here on, so a concurrent load sees this model's budget while the victims stop
        record.lifecycle.to("loading");
        record.reason = null;
        record.estimateBytes = need;
        record.peakRssBytes = 0;
        let runner: Runner | null = null;
        const t0 = this.now();
        try {
            const speculative = await this.speculativeFor(entry);
            record.lastEvicted = await this.evict(evict, record, need);
            runner = this.createRunner(entry.name, (line) => this.logger.debug({model: entry.name, runner: line}, "runner stderr"));
            record.runner = runner;
            const started = runner;
            void started.exited.then((why) => this.onRunnerExit(record, started, why));
            const info = await runner.load({
                modelPath: entry.abs_path,
                contextSize,
                parallel,
                threads: this.config.threads > 0 ? this.config.threads : defaultThreads(),
                gpu: this.config.gpu,
                flashAttention: this.config.flash_attention,
                ...(this.config.prompt_cache.enabled && this.config.prompt_cache.max_mb > 0 ? {promptCache: {
                    dir: this.config.paths.promptStates,
                    maxBytes: this.config.prompt_cache.max_mb * MIB,
                    minTokens: this.config.prompt_cache.min_tokens,
                    model: entry.fingerprint
                }} : {}),
                ...(speculative ? {speculative} : {})
            });
            const rss = await this.probe.runnerRssBytes(async () => info.rssBytes);
            record.info = info;
            record.contextSize = info.contextSize;
            record.loadedAt = this.now();
            record.loadMs = this.now() - t0;
            record.loads++;
            record.lastUsed = this.now();
            record.estimateBytes = Math.max(need, info.estimateBytes);
            record.peakRssBytes = rss;
            this.enterLoaded(record);
            this.emit({type: "loaded", model: entry.name, load_ms: record.loadMs});
            this.logger.info({model: entry.name, load_ms: Math.round(record.loadMs), context_size: info.contextSize, parallel: info.parallel,
                pid: runner.pid, rss_mb: Math.round(info.rssBytes / MIB), chat_wrapper: info.chatWrapper, phases_ms: info.phases}, "model loaded");
        } catch (err) {
            if (isProviderError(err) && err.kind === "does_not_fit") {
                // the memory check failed again after a victim became busy: nothing was started
                record.estimateBytes = 0;
                record.lifecycle.to("unloaded");
                throw err;
            }
            record.reason = (err as Error).message;
            record.runner = null;
            record.info = null;
            runner?.kill();
            record.lifecycle.to("failed");
            this.emit({type: "load_failed", model: entry.name, reason: record.reason});
            this.logger.error({model: entry.name, err: record.reason}, "model failed to load");
            throw new ProviderError("load_failed", `model '${entry.name}' failed to load: ${record.reason}`);
        }
    }

    /**
     * The token predictor a model's sequences get: its draft model when `models.<name>.draft_model` names one, else
     * prompt lookup unless `speculative.prompt_lookup` (or the model's `prompt_lookup`) turns it off.
     */
    private async speculativeFor(entry: ModelEntry): Promise<SpeculativeSpec | undefined> {
        const o = this.override(entry.name);
        const s = this.config.speculative;
        if (o.draft_model != null) {
            const modelPath = await this.draftPath(entry.name, o.draft_model);
            return {draft: {modelPath, name: o.draft_model, maxTokens: s.draft_tokens}};
        }
        if (!(o.prompt_lookup ?? s.prompt_lookup)) return undefined;
        return {promptLookup: {maxTokens: s.prompt_lookup_tokens, minPattern: s.prompt_lookup_min_match}};
    }

    /** The GGUF file `models.<model>.draft_model` names: an installed model (name or alias), or a file path. */
    private async draftPath(model: string, name: string): Promise<string> {
        const key = `models.${model}.draft_model`;
        let resolveError: string | null = null;
        if (this.resolveModel) {
            try {
                const e = await this.resolveModel(name);
                if (e.name === model) throw new Error("a model cannot draft for itself");
                return e.abs_path;
            } catch (err) {
                resolveError = (err as Error).message;
            }
        } else {
            const entries = [...this.knownEntries, ...[...this.records.values()].map((r) => r.entry)];
            const e = entries.find((m) => m.name === name) ?? entries.find((m) => m.aliases.includes(name));
            if (e) return e.abs_path;
        }
        // a path: absolute, or relative to the models folder
        const file = path.resolve(this.config.paths.models, name);
        if (/\.gguf$/i.test(name)) {
            const stat = await fs.stat(file).catch(() => null);
            if (stat?.isFile()) return file;
        }
        throw new ProviderError("load_failed", `${key} '${name}' is not an installed model or a GGUF file` +
            (resolveError ? ` (${resolveError})` : "") + "; install it, or fix or remove the key");
    }

    /**
     * Stops the planned victims one by one; a victim that took a job meanwhile is kept and the plan made again.
     * Returns the names of the models it stopped.
     */
    private async evict(victims: ModelRecord[], forRecord: ModelRecord, need: number): Promise<string[]> {
        const stopped: string[] = [];
        for (const victim of victims) {
            if (!this.evictable(victim)) {
                this.planEviction(forRecord, need);
                continue;
            }
            this.logger.info({model: victim.entry.name, for: forRecord.entry.name, reason: "ram_threshold_mb"}, "evicting least recently used idle model");
            await this.stopRunner(victim, "evicted under ram_threshold_mb");
            stopped.push(victim.entry.name);
        }
        return stopped;
    }

    private onRunnerExit(record: ModelRecord, runner: Runner, why: string): void {
        if (record.runner !== runner) return;
        // a stop in progress expects the exit, and a load in progress fails on its own
        if (this.closed || !isServing(record.phase)) return;
        this.runnerGone(record, why);
    }

    private runnerGone(record: ModelRecord, why: string): void {
        record.runner = null;
        record.info = null;
        record.reason = why;
        record.lifecycle.to("failed");
        this.emit({type: "crashed", model: record.entry.name, reason: why});
        this.logger.error({model: record.entry.name, reason: why}, "runner stopped unexpectedly; the model will load again on the next request");
    }

    /** Ends the runner (serving, draining, or busy only with the job that asked for a reload) and waits for it. */
    private async stopRunner(record: ModelRecord, reason: UnloadReason): Promise<void> {
        const runner = record.runner;
        if (!runner) {
            if (record.phase === "failed") record.lifecycle.to("unloaded");
            return;
        }
        record.lifecycle.to("unloading");
        const done = (async () => {
            try {
                await runner.stop(STOP_GRACE_MS);
            } catch {
                runner.kill();
            }
            record.runner = null;
            record.info = null;
            record.clientKeepUntil = 0;
            record.lifecycle.to("unloaded");
            this.emit({type: "unloaded", model: record.entry.name, reason});
            this.logger.info({model: record.entry.name, reason}, "model unloaded");
        })();
        record.stopping = done;
        try {
            await done;
        } finally {
            record.stopping = null;
        }
    }

    /** An explicit unload of a busy model: no new jobs, the admitted ones (queued included) finish, then the runner ends. */
    private async drain(record: ModelRecord): Promise<void> {
        record.lifecycle.to("draining");
        await record.inFlight.idle();
        // the runner may have died while the last jobs ran: then there is nothing left to stop
        if (record.phase === "draining" || record.phase === "failed") await this.stopRunner(record, "explicit unload");
    }

    /** Explicit load (/runtime/load, an empty prompt): returns once the model is resident. */
    async loadModel(entry: ModelEntry, opts: AcquireOptions = {}): Promise<{loadMs: number; state: ModelState}> {
        const record = this.recordFor(entry);
        this.checkFits(record, opts.numCtx);
        this.noteKeepAlive(record, opts.keepAliveSeconds);
        const wasLoaded = isServing(record.phase) && record.runner?.alive === true;
        const t0 = this.now();
        await this.ensureLoaded(record, opts.numCtx);
        record.lastUsed = this.now();
        return {loadMs: wasLoaded ? 0 : this.now() - t0, state: publicState(record.phase)};
    }

    /**
     * A load at startup (load_on_startup): like an explicit load, but it never evicts a model to make room, since
     * every model the config names deserves its place as much as this one. Returns false, loading nothing, when
     * the model does not fit beside what is resident already.
     */
    async warmLoad(entry: ModelEntry): Promise<boolean> {
        if (this.closed) return false;
        const record = this.recordFor(entry);
        if (isServing(record.phase) || record.phase === "loading") return true;
        const need = this.estimateFor(entry, this.contextSizeFor(entry));
        let victims: ModelRecord[];
        try {
            victims = this.planEviction(record, need);
        } catch (err) {
            if (isProviderError(err) && err.kind === "does_not_fit") victims = [...this.records.values()];
            else throw err;
        }
        if (victims.length > 0) return false;
        await this.ensureLoaded(record);
        return true;
    }

    /**
     * Explicit unload: stops admitting, lets in-flight jobs finish, then ends the runner (pinned models too:
     * pinning only protects against eviction). An unload during a load waits for the load to end.
     */
    async unloadModel(name: string): Promise<{state: ModelState; wasLoaded: boolean}> {
        const record = this.records.get(name);
        if (!record) return {state: "unloaded", wasLoaded: false};
        // a load, an unload or a stop in progress ends first; each wait lets other jobs run, so look again after it
        for (;;) {
            if (record.draining) {
                await record.draining;
                return {state: publicState(record.phase), wasLoaded: true};
            }
            if (record.loading) await record.loading.catch(() => undefined);
            else if (record.stopping) await record.stopping;
            else break;
        }
        if (!record.runner) {
            if (record.phase === "failed") record.lifecycle.to("unloaded");
            return {state: publicState(record.phase), wasLoaded: false};
        }
        if (record.phase === "busy") {
            record.draining = this.drain(record).finally(() => {
                record.draining = null;
            });
            await record.draining;
        } else await this.stopRunner(record, "explicit unload");
        return {state: publicState(record.phase), wasLoaded: true};
    }

    private expiresAt(record: ModelRecord): number {
        if (this.keepLoaded(record.entry)) return Infinity;
        return Math.max(record.lastUsed + this.config.idle_unload_seconds * 1000, record.clientKeepUntil);
    }

    /** Idle unloads (keep_loaded false), RSS measurement, and eviction when the machine runs short of memory. */
    async sweep(): Promise<void> {
        if (this.closed) return;
        const now = this.now();
        for (const record of this.records.values()) {
            if (record.phase !== "loaded" || record.inFlight.count > 0) continue;
            if (now >= this.expiresAt(record)) {
                this.logger.info({model: record.entry.name, idle_s: Math.round((now - record.lastUsed) / 1000)}, "idle timeout reached");
                await this.stopRunner(record, "idle_unload_seconds reached");
            }
        }
        for (const record of this.records.values()) {
            const runner = record.runner;
            if (!isServing(record.phase) || !runner) continue;
            try {
                const rss = await this.probe.runnerRssBytes(() => runner.memory());
                record.peakRssBytes = Math.max(record.peakRssBytes, rss);
            } catch {
                // a runner that just exited has nothing to measure
            }
        }
        const reserve = this.config.memory_reserve_mb * MIB;
        if (reserve > 0 && this.probe.systemAvailableBytes() < reserve) {
            const victims = [...this.records.values()].filter((r) => this.evictable(r)).sort((a, b) => a.lastUsed - b.lastUsed);
            for (const v of victims) {
                if (this.probe.systemAvailableBytes() >= reserve) break;
                // an earlier stop took time: this one may have been given a job meanwhile
                if (!this.evictable(v)) continue;
                this.logger.warn({model: v.entry.name, available_mb: Math.round(this.probe.systemAvailableBytes() / MIB), reserve_mb: this.config.memory_reserve_mb},
                    "available memory below memory_reserve_mb; evicting least recently used idle model");
                await this.stopRunner(v, "memory pressure");
            }
        }
    }

    /** The registry changed: entries of models without a runner follow it. */
    updateEntries(models: ModelEntry[]): void {
        this.knownEntries = models;
        const byName = new Map(models.map((m) => [m.name, m]));
        for (const [name, record] of this.records) {
            const e = byName.get(name);
            if (e && !hasRunnerPhase(record.phase)) record.entry = e;
        }
    }

    stateOf(name: string): ModelState {
        const record = this.records.get(name);
        return record ? publicState(record.phase) : "unloaded";
    }

    /** The phase with busy and draining told apart, for tests and logs. */
    phaseOf(name: string): ModelPhase {
        return this.records.get(name)?.phase ?? "unloaded";
    }

    reasonOf(name: string): string | null {
        return this.records.get(name)?.reason ?? null;
    }

    loadedInfo(name: string): LoadedInfo | null {
        return this.records.get(name)?.info ?? null;
    }

    status(): ModelStatusReport[] {
        const iso = (t: number) => (t > 0 && Number.isFinite(t) ? new Date(t).toISOString() : null);
        return [...this.records.values()].map((r) => {
            const state = publicState(r.phase);
            const capacity = this.capacityOf(r);
            return {
                name: r.entry.name,
                state,
                reason: r.reason,
                runner_pid: r.runner?.pid ?? null,
                pinned: this.pinned(r.entry),
                keep_loaded: this.keepLoaded(r.entry),
                in_flight: r.inFlight.count,
                queued: r.permits.queued,
                queued_short: r.permits.queuedByClass.short,
                queued_long: r.permits.queuedByClass.long,
                parallel: capacity.sequences,
                parallel_auto: this.parallelIsAuto(r.entry),
                short_reserved: capacity.reservedForShort,
                last_used: iso(r.lastUsed),
                loaded_at: iso(r.loadedAt),
                load_ms: Math.round(r.loadMs),
                loads: r.loads,
                requests: r.requests,
                context_size: r.contextSize,
                estimate_bytes: r.estimateBytes,
                measured_rss_bytes: r.peakRssBytes,
                budget_bytes: state === "loaded" || state === "loading" ? this.budgetBytes(r) : 0,
                expires_at: state === "loaded" ? (Number.isFinite(this.expiresAt(r)) ? iso(this.expiresAt(r)) : "forever") : null
            };
        });
    }

    /** For /api/ps: the resident models and when they would expire (year 2318 for "forever", as Ollama). */
    resident(): Array<{entry: ModelEntry; sizeBytes: number; expiresAt: Date; contextSize: number; gpu: boolean; parallel: number}> {
        return [...this.records.values()].filter((r) => isServing(r.phase)).map((r) => {
            const exp = this.expiresAt(r);
            return {
                entry: r.entry,
                sizeBytes: this.budgetBytes(r),
                expiresAt: Number.isFinite(exp) ? new Date(exp) : new Date(Date.UTC(2318, 0, 1)),
                contextSize: r.contextSize,
                gpu: Boolean(r.info?.gpu),
                parallel: this.capacityOf(r).sequences
            };
        });
    }

    memoryBudget(): {threshold_bytes: number; used_bytes: number; reserve_bytes: number; system_available_bytes: number; system_total_bytes: number} {
        return {
            threshold_bytes: this.config.ram_threshold_mb * MIB,
            used_bytes: this.residentRecords().reduce((a, r) => a + this.budgetBytes(r), 0),
            reserve_bytes: this.config.memory_reserve_mb * MIB,
            system_available_bytes: this.probe.systemAvailableBytes(),
            system_total_bytes: this.probe.systemTotalBytes()
        };
    }

    /** Failing runners and memory pressure, for /health. */
    healthProblems(): string[] {
        const out: string[] = [];
        for (const r of this.records.values()) if (r.phase === "failed") out.push(`model '${r.entry.name}' failed: ${r.reason ?? "unknown"}`);
        const reserve = this.config.memory_reserve_mb * MIB;
        const avail = this.probe.systemAvailableBytes();
        if (reserve > 0 && avail < reserve) out.push(`available memory ${Math.round(avail / MIB)} MB is below memory_reserve_mb ${this.config.memory_reserve_mb}`);
        return out;
    }

    runners(): Array<{model: string; pid: number | null; state: ModelState}> {
        return [...this.records.values()].filter((r) => r.runner).map((r) => ({model: r.entry.name, pid: r.runner?.pid ?? null, state: publicState(r.phase)}));
    }

    /** Ends every runner; called on shutdown after in-flight jobs drained (or the grace ran out). */
    async close(): Promise<void> {
        this.closed = true;
        if (this.sweepTimer) clearInterval(this.sweepTimer);
        const closing = new ProviderError("shutting_down", "server is shutting down", {code: "shutting_down"});
        for (const r of this.records.values()) r.permits.refuseAll(closing);
        // phases stay as they were (exits are ignored once closed), so the index written at shutdown still says
        // which models were loaded
        // the runners write their prompt states before they exit: give them the time a stop gives them
        await Promise.all([...this.records.values()].map((r) => r.runner?.stop(STOP_GRACE_MS)));
    }
}
