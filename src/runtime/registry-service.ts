import type {ProviderConfig} from "../config/load.js";
import {silentLogger, type Logger} from "../log/logger.js";
import {writeIndex} from "../registry/index-file.js";
import {resolveModelName, type Resolution} from "../registry/resolve.js";
import {scanModels, type ScanResult} from "../registry/scan.js";
import type {ExternalModel, ModelEntry, ModelsIndex, ModelStatus} from "../registry/types.js";
import {buildVariants, type Variants} from "../registry/variants.js";

/**
 * The running server's view of the registry: the index in memory, the config's variants over it, single-flight
 * rescans, name resolution (with one rescan before a 404), and live statuses written back to the index file.
 */
export class RegistryService {
    private index: ModelsIndex | null = null;
    private scanning: Promise<ScanResult> | null = null;
    private persistTimer: NodeJS.Timeout | null = null;
    private variants: Variants = {views: [], fileOf: new Map(), problems: []};
    private reported = new Set<string>();

    constructor(private readonly config: ProviderConfig, private readonly opts: {
        logger?: Logger;
        external?: () => Promise<ExternalModel[]>;
        liveStatus?: (name: string) => ModelStatus | null;
        /** Exact model names the upstreams offer now (upstream id → names). */
        upstreamNames?: () => ReadonlyMap<string, ReadonlySet<string>>;
    } = {}) {}

    private get logger(): Logger {
        return this.opts.logger ?? silentLogger;
    }

    /** Every listed model: the indexed files, then the variants the config declares over them. */
    models(): ModelEntry[] {
        const files = this.index?.models ?? [];
        return this.variants.views.length === 0 ? files : [...files, ...this.variants.views];
    }

    /** The entry of the model file a variant runs on; null for a name that is not a variant. */
    fileOf(name: string): ModelEntry | null {
        return this.variants.fileOf.get(name) ?? null;
    }

    /** The config's `models` map changed while running (an alias or a variant came or went): names follow at once. */
    configChanged(): void {
        for (const m of this.index?.models ?? []) m.aliases = this.config.models[m.name]?.aliases ?? [];
        this.rebuildVariants();
    }

    private rebuildVariants(): void {
        this.variants = buildVariants(this.index?.models ?? [], this.config.models);
        for (const p of this.variants.problems) {
            if (this.reported.has(p)) continue;
            this.reported.add(p);
            this.logger.warn({problem: p}, "config variant");
        }
    }

    async rescan(): Promise<ScanResult> {
        if (this.scanning) return this.scanning;
        this.scanning = scanModels(this.config, {logger: this.logger, previous: this.index ?? undefined, external: this.opts.external})
            .then((r) => {
                this.index = r.index;
                this.rebuildVariants();
                this.applyLiveStatus();
                // the scan wrote every status as unloaded; put the live ones back into the file
                this.statusChanged();
                return r;
            })
            .finally(() => {
                this.scanning = null;
            });
        return this.scanning;
    }

    resolveNow(name: string): Resolution {
        return resolveModelName(name, {models: this.models(), upstreamNames: this.opts.upstreamNames?.()});
    }

    /** Resolves a name; a miss triggers one rescan (a model copied in a moment ago is found) before giving up. */
    async resolve(name: string): Promise<Resolution> {
        const first = this.resolveNow(name);
        if (first.kind !== "not_found") return first;
        if (typeof name !== "string" || name.length > 512 || name.includes("\0")) return first;
        // incremental (a stat per file), and concurrent misses share one scan in flight
        await this.rescan();
        return this.resolveNow(name);
    }

    private applyLiveStatus(): void {
        const live = this.opts.liveStatus;
        if (!live || !this.index) return;
        for (const m of this.index.models) {
            if (m.status === "invalid") continue;
            const s = live(m.name);
            m.status = s === "loaded" ? "loaded" : s === "failed" ? "failed" : "unloaded";
        }
    }

    private closed = false;

    /** Writes the final statuses and stops writing: nothing touches the home after the server stopped. */
    async close(): Promise<void> {
        if (this.persistTimer) clearTimeout(this.persistTimer);
        this.persistTimer = null;
        if (this.closed) return;
        this.closed = true;
        this.applyLiveStatus();
        if (this.index) await writeIndex(this.config.paths.registry, this.index).catch(() => undefined);
    }

    /** Keeps `status` in registry/models_index.json current (loaded/unloaded), debounced. */
    statusChanged(): void {
        if (this.persistTimer || this.closed) return;
        this.persistTimer = setTimeout(() => {
            this.persistTimer = null;
            this.applyLiveStatus();
            if (this.index) writeIndex(this.config.paths.registry, this.index).catch((err: unknown) => this.logger.warn({err: String(err)}, "could not write the registry index"));
        }, 200);
        this.persistTimer.unref();
    }
}
