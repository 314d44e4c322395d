import type {ProviderConfig} from "../config/load.js";
import {silentLogger, type Logger} from "../log/logger.js";
import type {ModelEntry} from "../registry/types.js";
import {HttpError, QUEUE_FULL_MESSAGE} from "./errors.js";
import {estimateModelBytes, systemMemoryProbe, type MemoryProbe} from "./memory-probe.js";
import type {LoadedInfo} from "./protocol.js";
import {RunnerProcess} from "./runner-process.js";
import {physicalCores} from "./system-info.js";

export type ModelState = "unloaded" | "loading" | "loaded" | "unloading" | "failed";

const MIB = 1024 * 1024;

interface Waiter {
    resolve: () => void;
    reject: (e: Error) => void;
}

/** Everything the manager knows about one model. Only the manager changes it. */
class ModelSlot {
    state: ModelState = "unloaded";
    reason: string | null = null;
    runner: RunnerProcess | null = null;
    info: LoadedInfo | null = null;
    loading: Promise<void> | null = null;
    unloading: Promise<void> | null = null;
    inFlight = 0;
    queue: Waiter[] = [];
    lastUsed = 0;
    loadedAt = 0;
    loadMs = 0;
    requests = 0;
    loads = 0;
    estimateBytes = 0;
    peakRssBytes = 0;
    /** ms timestamp until which a client's keep_alive holds the model; Infinity = forever. */
    clientKeepUntil = 0;
    draining = false;
    stopping = false;
    contextSize = 0;
    constructor(public entry: ModelEntry) {}
}

export interface AcquireOptions {
    numCtx?: number;
    /** Seconds as sent by the client: negative = forever; undefined = no opinion. */
    keepAliveSeconds?: number;
}

export interface Lease {
    runner: RunnerProcess;
    /** ms spent loading for this request (0 when the model was already resident). */
    loadMs: number;
    contextSize: number;
    /** The client asked for more context than the model is loaded with; it is served within the loaded size. */
    contextCapped: boolean;
    release(): void;
}

/** A request admitted to a model: resolution, the queue and the memory check are done; `ready` waits for a slot and the load. */
export interface Ticket {
    model: string;
    ready(signal?: AbortSignal): Promise<Lease>;
    cancel(): void;
}

export interface ManagerOptions {
    logger?: Logger;
    probe?: MemoryProbe;
    now?: () => number;
    /** How often idle and memory-pressure checks run (ms). */
    sweepIntervalMs?: number;
    /** Called after a model's state changed (the registry keeps statuses current with it). */
    onStateChange?: () => void;
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

/**
 * Owns all model state: which runners exist, single-flight loads, per-model slots and the FIFO queue,
 * keep-loaded and idle policy, and LRU eviction by measured memory. Routes only ask it for leases.
 */
export class ModelManager {
    private slots = new Map<string, ModelSlot>();
    private readonly logger: Logger;
    private readonly probe: MemoryProbe;
    private readonly now: () => number;
    private sweepTimer: NodeJS.Timeout | null = null;
    private closed = false;
    private readonly onStateChange: () => void;

    constructor(private readonly config: ProviderConfig, opts: ManagerOptions = {}) {
        this.logger = opts.logger ?? silentLogger;
        this.probe = opts.probe ?? systemMemoryProbe;
        this.now = opts.now ?? Date.now;
        this.onStateChange = opts.onStateChange ?? (() => undefined);
        const interval = opts.sweepIntervalMs ?? 1000;
        this.sweepTimer = setInterval(() => void this.sweep(), interval);
        this.sweepTimer.unref();
    }

    private slotFor(entry: ModelEntry): ModelSlot {
        let slot = this.slots.get(entry.name);
        if (!slot) {
            slot = new ModelSlot(entry);
            this.slots.set(entry.name, slot);
        } else if (slot.state === "unloaded" || slot.state === "failed") slot.entry = entry;
        return slot;
    }

    private override(name: string) {
        return this.config.models[name] ?? {};
    }

    keepLoaded(entry: ModelEntry): boolean {
        return this.override(entry.name).keep_loaded ?? entry.keep_loaded ?? this.config.keep_loaded_default;
    }

    private pinned(entry: ModelEntry): boolean {
        return this.override(entry.name).pinned ?? entry.pinned ?? false;
    }

    parallelFor(entry: ModelEntry): number {
        return this.override(entry.name).parallel ?? this.config.parallel;
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

    private budgetBytes(slot: ModelSlot): number {
        return Math.max(slot.estimateBytes, slot.peakRssBytes);
    }

    private residentSlots(): ModelSlot[] {
        return [...this.slots.values()].filter((s) => s.state === "loaded" || s.state === "loading" || s.state === "unloading");
    }

    private totalQueued(): number {
        let n = 0;
        for (const s of this.slots.values()) n += s.queue.length;
        return n;
    }

    private evictable(slot: ModelSlot): boolean {
        return slot.state === "loaded" && slot.inFlight === 0 && slot.queue.length === 0 && !this.pinned(slot.entry) && !slot.draining;
    }

    /**
     * Which idle models must go for `need` more bytes to fit under ram_threshold_mb, least recently used first.
     * Throws a 503 naming the numbers when even evicting every idle, unpinned model would not be enough.
     */
    private planEviction(target: ModelSlot, need: number): ModelSlot[] {
        const threshold = this.config.ram_threshold_mb * MIB;
        if (threshold <= 0) return [];
        const others = this.residentSlots().filter((s) => s !== target);
        let used = others.reduce((a, s) => a + this.budgetBytes(s), 0);
        if (used + need <= threshold) return [];
        const candidates = others.filter((s) => this.evictable(s)).sort((a, b) => a.lastUsed - b.lastUsed);
        const plan: ModelSlot[] = [];
        for (const c of candidates) {
            if (used + need <= threshold) break;
            plan.push(c);
            used -= this.budgetBytes(c);
        }
        if (used + need > threshold) {
            const mb = (b: number) => Math.ceil(b / MIB);
            throw new HttpError(503,
                `model '${target.entry.name}' needs about ${mb(need)} MB but only ${Math.max(0, mb(threshold - used))} MB of the ${this.config.ram_threshold_mb} MB budget (ram_threshold_mb) ` +
                `can be freed: the other resident models are busy or pinned (in use: ${mb(used)} MB). Raise ram_threshold_mb, lower context_size, or unload a model.`,
                "insufficient_memory");
        }
        return plan;
    }

    /**
     * Admits a request: checks the queue bound and the memory fit synchronously, so their errors keep their
     * status codes before any header is sent.
     */
    admit(entry: ModelEntry, opts: AcquireOptions = {}): Ticket {
        if (this.closed) throw new HttpError(503, "server is shutting down; try again in a moment");
        if (entry.status === "invalid")
            throw new HttpError(500, `model '${entry.name}' cannot be loaded: ${entry.reason ?? "invalid GGUF"} (file: ${entry.path})`, "invalid_model");
        const slot = this.slotFor(entry);
        // an explicit unload stops admitting; an idle unload or an eviction in progress is simply waited for (ensureLoaded)
        if (slot.draining)
            throw new HttpError(503, `model '${entry.name}' is being unloaded on request; try again in a moment`);
        if (slot.state !== "loaded" && slot.state !== "loading") {
            const ctx = this.contextSizeFor(entry, opts.numCtx);
            this.planEviction(slot, this.estimateFor(entry, ctx));
        }
        const parallel = slot.info?.parallel ?? this.parallelFor(entry);
        let admitted = false;
        let waiter: Waiter | null = null;
        let waitPromise: Promise<void> | null = null;
        if (slot.inFlight < parallel && slot.queue.length === 0) {
            slot.inFlight++;
            admitted = true;
        } else {
            if (this.totalQueued() >= this.config.max_queue) throw new HttpError(503, QUEUE_FULL_MESSAGE, "server_busy");
            waitPromise = new Promise<void>((resolve, reject) => {
                // marked admitted the moment the slot is handed over, so a cancel after that releases the slot
                waiter = {resolve: () => {
                    admitted = true;
                    resolve();
                }, reject};
            });
            waitPromise.catch(() => undefined);
            slot.queue.push(waiter!);
        }
        slot.requests++;
        this.noteKeepAlive(slot, opts.keepAliveSeconds);
        let released = false;
        let cancelled = false;
        const release = () => {
            if (released) return;
            released = true;
            if (admitted) this.releaseSlot(slot);
        };
        const cancel = () => {
            if (cancelled || released) return;
            cancelled = true;
            if (!admitted && waiter) {
                const i = slot.queue.indexOf(waiter);
                if (i !== -1) slot.queue.splice(i, 1);
                waiter.reject(new HttpError(499, "request canceled"));
            } else release();
        };
        return {
            model: entry.name,
            cancel,
            ready: async (signal?: AbortSignal) => {
                const onAbort = () => cancel();
                signal?.addEventListener("abort", onAbort, {once: true});
                try {
                    if (!admitted) {
                        await waitPromise!;
                        admitted = true;
                    }
                    if (cancelled) throw new HttpError(499, "request canceled");
                    const t0 = this.now();
                    const wasLoaded = slot.state === "loaded" && slot.runner?.alive === true;
                    await this.ensureLoaded(slot, opts.numCtx);
                    const loadMs = wasLoaded ? 0 : this.now() - t0;
                    if (cancelled) throw new HttpError(499, "request canceled");
                    slot.lastUsed = this.now();
                    return {
                        runner: slot.runner!,
                        loadMs,
                        contextSize: slot.contextSize,
                        contextCapped: opts.numCtx != null && opts.numCtx > slot.contextSize,
                        release
                    };
                } catch (err) {
                    release();
                    throw err;
                } finally {
                    signal?.removeEventListener("abort", onAbort);
                }
            }
        };
    }

    private releaseSlot(slot: ModelSlot): void {
        slot.lastUsed = this.now();
        const next = slot.queue.shift();
        if (next) {
            // the slot passes straight to the next waiter: FIFO, and inFlight stays the same
            next.resolve();
            return;
        }
        slot.inFlight = Math.max(0, slot.inFlight - 1);
        if (slot.inFlight === 0 && slot.draining) void this.finishUnload(slot);
    }

    private noteKeepAlive(slot: ModelSlot, seconds: number | undefined): void {
        if (seconds == null) return;
        // a client may lengthen residency but never shorten the configured policy
        // past what a Date can hold (keep_alive: 1e13) means forever too
        const until = seconds < 0 || this.now() + seconds * 1000 > 8.64e15 ? Infinity : this.now() + seconds * 1000;
        slot.clientKeepUntil = Math.max(slot.clientKeepUntil, until);
    }

    private estimateFor(entry: ModelEntry, contextSize: number): number {
        const m = entry.metadata;
        return estimateModelBytes({
            size_bytes: entry.size_bytes,
            block_count: m?.block_count ?? null,
            head_count: m?.head_count ?? null,
            head_count_kv: m?.head_count_kv ?? null,
            embedding_length: m?.embedding_length ?? null,
            vocab_size: m?.vocab_size ?? null
        }, contextSize, this.parallelFor(entry));
    }

    /** Single-flight: concurrent callers share one load. A failed or crashed model is loaded again. */
    private async ensureLoaded(slot: ModelSlot, numCtx?: number): Promise<void> {
        if (slot.unloading) await slot.unloading;
        if (slot.state === "loaded" && slot.runner?.alive) {
            const wanted = this.contextSizeFor(slot.entry, numCtx);
            if (!(this.config.allow_context_growth && wanted > slot.contextSize && slot.inFlight <= 1)) return;
            this.logger.info({model: slot.entry.name, from: slot.contextSize, to: wanted}, "reloading with a larger context (allow_context_growth)");
            await this.stopRunner(slot, "context growth");
        }
        if (slot.loading) return slot.loading;
        slot.loading = this.load(slot, numCtx).finally(() => {
            slot.loading = null;
        });
        return slot.loading;
    }

    private async load(slot: ModelSlot, numCtx?: number): Promise<void> {
        const entry = slot.entry;
        const contextSize = this.contextSizeFor(entry, numCtx);
        const need = this.estimateFor(entry, contextSize);
        const evict = this.planEviction(slot, need);
        // counted as resident from here on, so a concurrent load sees this model's budget while the victims stop
        slot.state = "loading";
        slot.reason = null;
        slot.estimateBytes = need;
        slot.peakRssBytes = 0;
        let runner: RunnerProcess | null = null;
        const t0 = this.now();
        try {
            for (const victim of evict) {
                // a victim may have been given a request while an earlier one stopped: a busy model is never evicted
                if (!this.evictable(victim)) {
                    this.planEviction(slot, need);
                    continue;
                }
                this.logger.info({model: victim.entry.name, for: entry.name, reason: "ram_threshold_mb"}, "evicting least recently used idle model");
                await this.stopRunner(victim, "evicted under ram_threshold_mb");
            }
            runner = new RunnerProcess(entry.name, (line) => this.logger.debug({model: entry.name, runner: line}, "runner stderr"));
            slot.runner = runner;
            const started = runner;
            void started.exited.then((why) => this.onRunnerExit(slot, started, why));
            const info = await runner.load({
                modelPath: entry.abs_path,
                contextSize,
                parallel: this.parallelFor(entry),
                threads: this.config.threads > 0 ? this.config.threads : physicalCores(),
                gpu: this.config.gpu
            });
            slot.info = info;
            slot.contextSize = info.contextSize;
            slot.state = "loaded";
            slot.loadedAt = this.now();
            slot.loadMs = this.now() - t0;
            slot.loads++;
            slot.lastUsed = this.now();
            slot.estimateBytes = Math.max(need, info.estimateBytes);
            slot.peakRssBytes = await this.probe.runnerRssBytes(async () => info.rssBytes);
            this.logger.info({model: entry.name, load_ms: Math.round(slot.loadMs), context_size: info.contextSize, parallel: info.parallel,
                pid: runner.pid, rss_mb: Math.round(info.rssBytes / MIB), chat_wrapper: info.chatWrapper}, "model loaded");
            this.onStateChange();
        } catch (err) {
            if (err instanceof HttpError && err.status === 503) {
                // the memory check failed again after a victim became busy: nothing was started
                slot.state = "unloaded";
                slot.estimateBytes = 0;
                throw err;
            }
            slot.state = "failed";
            slot.reason = (err as Error).message;
            slot.runner = null;
            runner?.kill();
            this.logger.error({model: entry.name, err: slot.reason}, "model failed to load");
            this.onStateChange();
            throw new HttpError(500, `model '${entry.name}' failed to load: ${slot.reason}`);
        }
    }

    private onRunnerExit(slot: ModelSlot, runner: RunnerProcess, why: string): void {
        if (slot.runner !== runner) return;
        slot.runner = null;
        slot.info = null;
        if (slot.stopping || this.closed) return;
        slot.state = "failed";
        slot.reason = why;
        this.logger.error({model: slot.entry.name, reason: why}, "runner stopped unexpectedly; the model will load again on the next request");
        this.onStateChange();
    }

    private async stopRunner(slot: ModelSlot, reason: string): Promise<void> {
        const runner = slot.runner;
        if (!runner) {
            slot.state = "unloaded";
            return;
        }
        slot.state = "unloading";
        slot.stopping = true;
        const done = (async () => {
            await runner.stop();
            slot.runner = null;
            slot.info = null;
            slot.state = "unloaded";
            slot.stopping = false;
            slot.clientKeepUntil = 0;
            this.logger.info({model: slot.entry.name, reason}, "model unloaded");
            this.onStateChange();
        })();
        slot.unloading = done;
        try {
            await done;
        } finally {
            slot.unloading = null;
        }
    }

    private drainWaiters: Map<ModelSlot, Array<() => void>> = new Map();

    private async finishUnload(slot: ModelSlot): Promise<void> {
        await this.stopRunner(slot, "explicit unload");
        slot.draining = false;
        for (const w of this.drainWaiters.get(slot) ?? []) w();
        this.drainWaiters.delete(slot);
    }

    /** Explicit load (/runtime/load, an empty prompt): returns once the model is resident. */
    async loadModel(entry: ModelEntry, opts: AcquireOptions = {}): Promise<{loadMs: number; state: ModelState}> {
        const slot = this.slotFor(entry);
        if (slot.state !== "loaded" && slot.state !== "loading") this.planEviction(slot, this.estimateFor(entry, this.contextSizeFor(entry, opts.numCtx)));
        this.noteKeepAlive(slot, opts.keepAliveSeconds);
        const wasLoaded = slot.state === "loaded" && slot.runner?.alive === true;
        const t0 = this.now();
        await this.ensureLoaded(slot, opts.numCtx);
        slot.lastUsed = this.now();
        return {loadMs: wasLoaded ? 0 : this.now() - t0, state: slot.state};
    }

    /**
     * Explicit unload: stops admitting, lets in-flight requests finish, then ends the runner (pinned models too:
     * pinning only protects against eviction). An unload during a load waits for the load to end.
     */
    async unloadModel(name: string): Promise<{state: ModelState; wasLoaded: boolean}> {
        const slot = this.slots.get(name);
        if (!slot) return {state: "unloaded", wasLoaded: false};
        if (slot.loading) await slot.loading.catch(() => undefined);
        if (slot.unloading) await slot.unloading;
        if (!slot.runner) {
            if (slot.state === "failed") slot.state = "unloaded";
            return {state: slot.state, wasLoaded: false};
        }
        if (slot.inFlight > 0 || slot.queue.length > 0) {
            slot.draining = true;
            await new Promise<void>((resolve) => {
                const list = this.drainWaiters.get(slot) ?? [];
                list.push(resolve);
                this.drainWaiters.set(slot, list);
            });
            return {state: slot.state, wasLoaded: true};
        }
        await this.stopRunner(slot, "explicit unload");
        return {state: slot.state, wasLoaded: true};
    }

    private expiresAt(slot: ModelSlot): number {
        if (this.keepLoaded(slot.entry)) return Infinity;
        return Math.max(slot.lastUsed + this.config.idle_unload_seconds * 1000, slot.clientKeepUntil);
    }

    /** Idle unloads (keep_loaded false), RSS measurement, and eviction when the machine runs short of memory. */
    async sweep(): Promise<void> {
        if (this.closed) return;
        const now = this.now();
        for (const slot of this.slots.values()) {
            if (slot.state !== "loaded" || slot.inFlight > 0 || slot.queue.length > 0) continue;
            if (now >= this.expiresAt(slot)) {
                this.logger.info({model: slot.entry.name, idle_s: Math.round((now - slot.lastUsed) / 1000)}, "idle timeout reached");
                await this.stopRunner(slot, "idle_unload_seconds reached");
            }
        }
        for (const slot of this.slots.values()) {
            if (slot.state !== "loaded" || !slot.runner) continue;
            try {
                const rss = await this.probe.runnerRssBytes(() => slot.runner!.memory());
                slot.peakRssBytes = Math.max(slot.peakRssBytes, rss);
            } catch {
                // a runner that just exited has nothing to measure
            }
        }
        const reserve = this.config.memory_reserve_mb * MIB;
        if (reserve > 0 && this.probe.systemAvailableBytes() < reserve) {
            const victims = [...this.slots.values()].filter((s) => this.evictable(s)).sort((a, b) => a.lastUsed - b.lastUsed);
            for (const v of victims) {
                if (this.probe.systemAvailableBytes() >= reserve) break;
                this.logger.warn({model: v.entry.name, available_mb: Math.round(this.probe.systemAvailableBytes() / MIB), reserve_mb: this.config.memory_reserve_mb},
                    "available memory below memory_reserve_mb; evicting least recently used idle model");
                await this.stopRunner(v, "memory pressure");
            }
        }
    }

    /** The registry changed: entries of unloaded models follow it. */
    updateEntries(models: ModelEntry[]): void {
        const byName = new Map(models.map((m) => [m.name, m]));
        for (const [name, slot] of this.slots) {
            const e = byName.get(name);
            if (e && (slot.state === "unloaded" || slot.state === "failed")) slot.entry = e;
        }
    }

    stateOf(name: string): ModelState {
        return this.slots.get(name)?.state ?? "unloaded";
    }

    reasonOf(name: string): string | null {
        return this.slots.get(name)?.reason ?? null;
    }

    loadedInfo(name: string): LoadedInfo | null {
        return this.slots.get(name)?.info ?? null;
    }

    status(): ModelStatusReport[] {
        const iso = (t: number) => (t > 0 && Number.isFinite(t) ? new Date(t).toISOString() : null);
        return [...this.slots.values()].map((s) => ({
            name: s.entry.name,
            state: s.state,
            reason: s.reason,
            runner_pid: s.runner?.pid ?? null,
            pinned: this.pinned(s.entry),
            keep_loaded: this.keepLoaded(s.entry),
            in_flight: s.inFlight,
            queued: s.queue.length,
            last_used: iso(s.lastUsed),
            loaded_at: iso(s.loadedAt),
            load_ms: Math.round(s.loadMs),
            loads: s.loads,
            requests: s.requests,
            context_size: s.contextSize,
            estimate_bytes: s.estimateBytes,
            measured_rss_bytes: s.peakRssBytes,
            budget_bytes: s.state === "loaded" || s.state === "loading" ? this.budgetBytes(s) : 0,
            expires_at: s.state === "loaded" ? (Number.isFinite(this.expiresAt(s)) ? iso(this.expiresAt(s)) : "forever") : null
        }));
    }

    /** For /api/ps: the resident models and when they would expire (year 2318 for "forever", as Ollama). */
    resident(): Array<{entry: ModelEntry; sizeBytes: number; expiresAt: Date; contextSize: number; gpu: boolean}> {
        return [...this.slots.values()].filter((s) => s.state === "loaded").map((s) => {
            const exp = this.expiresAt(s);
            return {
                entry: s.entry,
                sizeBytes: this.budgetBytes(s),
                expiresAt: Number.isFinite(exp) ? new Date(exp) : new Date(Date.UTC(2318, 0, 1)),
                contextSize: s.contextSize,
                gpu: Boolean(s.info?.gpu)
            };
        });
    }

    memoryBudget(): {threshold_bytes: number; used_bytes: number; reserve_bytes: number; system_available_bytes: number; system_total_bytes: number} {
        return {
            threshold_bytes: this.config.ram_threshold_mb * MIB,
            used_bytes: this.residentSlots().reduce((a, s) => a + this.budgetBytes(s), 0),
            reserve_bytes: this.config.memory_reserve_mb * MIB,
            system_available_bytes: this.probe.systemAvailableBytes(),
            system_total_bytes: this.probe.systemTotalBytes()
        };
    }

    /** Failing runners and memory pressure, for /health. */
    healthProblems(): string[] {
        const out: string[] = [];
        for (const s of this.slots.values()) if (s.state === "failed") out.push(`model '${s.entry.name}' failed: ${s.reason ?? "unknown"}`);
        const reserve = this.config.memory_reserve_mb * MIB;
        const avail = this.probe.systemAvailableBytes();
        if (reserve > 0 && avail < reserve) out.push(`available memory ${Math.round(avail / MIB)} MB is below memory_reserve_mb ${this.config.memory_reserve_mb}`);
        return out;
    }

    runners(): Array<{model: string; pid: number | null; state: ModelState}> {
        return [...this.slots.values()].filter((s) => s.runner).map((s) => ({model: s.entry.name, pid: s.runner?.pid ?? null, state: s.state}));
    }


    /** Ends every runner; called on shutdown after in-flight requests drained (or the grace ran out). */
    async close(): Promise<void> {
        this.closed = true;
        if (this.sweepTimer) clearInterval(this.sweepTimer);
        for (const s of this.slots.values()) for (const w of s.queue.splice(0)) w.reject(new HttpError(503, "server is shutting down"));
        await Promise.all([...this.slots.values()].map((s) => {
            s.stopping = true;
            return s.runner?.stop(2000);
        }));
    }
}
