import type {ProviderConfig} from "../config/load.js";
import {silentLogger, type Logger} from "../log/logger.js";
import {ambiguityMessage} from "../registry/resolve.js";
import type {ExternalModel, ModelEntry} from "../registry/types.js";
import {HttpError, notFound} from "./errors.js";
import {ModelManager, type Lease, type Ticket} from "./manager.js";
import type {MemoryProbe} from "./memory-probe.js";
import type {EmbedRequest, EmbedResult, GenerateRequest, GenerationEvent, GenerationStats} from "./protocol.js";
import {RegistryService} from "./registry-service.js";

export interface ProviderOptions {
    logger?: Logger;
    probe?: MemoryProbe;
    external?: () => Promise<ExternalModel[]>;
    now?: () => number;
    sweepIntervalMs?: number;
}

export interface GenerationResult {
    stats: GenerationStats;
    loadMs: number;
    queueMs: number;
    totalMs: number;
    contextSize: number;
    contextCapped: boolean;
}

/** A request that passed resolution, queue admission and the memory check; nothing has been sent yet. */
export interface PreparedJob {
    entry: ModelEntry;
    requestedName: string;
    /** Waits for a slot and the load, then runs the generation, streaming events. Always releases its slot. */
    generate(request: GenerateRequest, onEvent: (e: GenerationEvent) => void, signal: AbortSignal): Promise<GenerationResult>;
    embed(request: EmbedRequest, signal: AbortSignal): Promise<EmbedResult & {loadMs: number; totalMs: number}>;
    countTokens(text: string, chat: GenerateRequest["messages"], signal: AbortSignal): Promise<number>;
    /** Loads without generating (an empty prompt). */
    load(signal: AbortSignal): Promise<{loadMs: number}>;
    cancel(): void;
}

/**
 * The hot path shared by every API family: name → registry entry → manager ticket → runner.
 */
export class Provider {
    readonly registry: RegistryService;
    readonly manager: ModelManager;
    readonly logger: Logger;
    readonly startedAt = Date.now();

    constructor(readonly config: ProviderConfig, opts: ProviderOptions = {}) {
        this.logger = opts.logger ?? silentLogger;
        let registry: RegistryService | null = null;
        this.manager = new ModelManager(config, {
            logger: this.logger, probe: opts.probe, now: opts.now, sweepIntervalMs: opts.sweepIntervalMs,
            onStateChange: () => registry?.statusChanged()
        });
        registry = new RegistryService(config, {
            logger: this.logger,
            external: opts.external,
            liveStatus: (name) => {
                const s = this.manager.stateOf(name);
                return s === "loaded" ? "loaded" : s === "failed" ? "failed" : "unloaded";
            }
        });
        this.registry = registry;
    }

    async start(): Promise<void> {
        const r = await this.registry.rescan();
        for (const w of r.warnings) this.logger.warn({warning: w}, "scan");
    }

    /** Resolves a requested name to a local entry: 404 with Ollama's exact text, or 400 listing ambiguous candidates. */
    async resolveLocal(name: unknown): Promise<ModelEntry> {
        if (typeof name !== "string" || name === "") throw notFound(typeof name === "string" ? name : "");
        const r = await this.registry.resolve(name);
        if (r.kind === "local") return r.model;
        if (r.kind === "ambiguous") throw new HttpError(400, ambiguityMessage(name, r.candidates), "model_ambiguous", "model");
        throw notFound(name);
    }

    prepare(entry: ModelEntry, requestedName: string, opts: {numCtx?: number; keepAliveSeconds?: number} = {}): PreparedJob {
        const t0 = performance.now();
        const ticket: Ticket = this.manager.admit(entry, opts);
        const withLease = async <T>(signal: AbortSignal, fn: (lease: Lease) => Promise<T>): Promise<T> => {
            const lease = await ticket.ready(signal);
            try {
                return await fn(lease);
            } finally {
                lease.release();
            }
        };
        return {
            entry,
            requestedName,
            cancel: () => ticket.cancel(),
            generate: (request, onEvent, signal) => withLease(signal, async (lease) => {
                const tReady = performance.now();
                const stats = await lease.runner.generate(request, onEvent, signal);
                const total = performance.now() - t0;
                return {
                    stats,
                    loadMs: lease.loadMs,
                    queueMs: Math.max(0, tReady - t0 - lease.loadMs),
                    totalMs: total,
                    contextSize: lease.contextSize,
                    contextCapped: lease.contextCapped
                };
            }),
            embed: (request, signal) => withLease(signal, async (lease) => {
                const res = await lease.runner.embed(request);
                return {...res, loadMs: lease.loadMs, totalMs: performance.now() - t0};
            }),
            countTokens: (text, chat, signal) => withLease(signal, (lease) => lease.runner.countTokens(text, chat)),
            load: (signal) => withLease(signal, async (lease) => ({loadMs: lease.loadMs}))
        };
    }

    async close(): Promise<void> {
        await this.manager.close();
        await this.registry.close();
    }
}
