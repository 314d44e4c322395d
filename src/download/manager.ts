import path from "node:path";
import type {ProviderConfig} from "../config/load.js";
import type {Logger} from "../log/logger.js";
import {silentLogger} from "../log/logger.js";
import {DownloadError} from "./errors.js";
import {defaultRetryDelay} from "./fetch-file.js";
import {type HfSettings, resolveHfSettings} from "./hf.js";
import {InFlight} from "./in-flight.js";
import {bytesStillNeeded, type JobRecord, recordFromPlan, snapshotOf} from "./job.js";
import {JobStore} from "./job-store.js";
import {filesOnDisk, planDownload, type Plan} from "./plan.js";
import {ProgressHub} from "./progress.js";
import {DownloadQueue} from "./queue.js";
import {formatModelRef, type ModelRef, parseModelRef, type ParseOptions} from "./ref.js";
import {writeSidecar} from "./sidecar.js";
import {assertRoom, type FreeSpaceProbe, statfsFreeSpace} from "./space.js";
import {transferFiles} from "./transfer.js";
import {type CancelledJob, type DownloadJob, type DownloadProgressEvent, TERMINAL} from "./types.js";

export type {CancelledJob, DownloadFileState, DownloadJob, DownloadProgressEvent, JobStatus, KeptPart} from "./types.js";

export interface DownloadManagerOptions {
    config: ProviderConfig;
    logger?: Logger;
    /** Called after a job completes, before it is reported completed, so the model is listed at once. */
    rescan?: () => Promise<unknown>;
    freeSpace?: FreeSpaceProbe;
    fetch?: typeof fetch;
    /** Source of HF_ENDPOINT / HF_TOKEN; defaults to process.env. */
    env?: NodeJS.ProcessEnv;
    /** Where jobs persist so a restart resumes them; null keeps them in memory only (the CLI). */
    stateFile?: string | null;
    retryDelayMs?: (attempt: number) => number;
    stallTimeoutMs?: number;
    /** Minimum time between two progress events of one job. */
    progressIntervalMs?: number;
    /** Override of downloads.max_concurrent. */
    maxConcurrent?: number;
}

type Started = {job: DownloadJob; existing: boolean};

/** The state file sits with the parts it describes: a job is meaningless without its `.part` files. */
export function defaultStateFile(config: ProviderConfig): string {
    return path.join(config.paths.models, ".downloads.json");
}

/**
 * Queues, runs, persists and reports downloads. Jobs survive a restart: `create()` reloads the state file and
 * resumes unfinished jobs from their `.part` files. At most `downloads.max_concurrent` run at once; the others wait.
 *
 * Cancel keeps the `.part` by default (a later start of the same model resumes from it); `deletePartial` removes it.
 *
 * This class only wires the parts: `plan` (reference → files), `JobStore` (records and the state file),
 * `DownloadQueue` (concurrency, outcomes, cancel), `transferFiles` (the bytes) and `ProgressHub` (events, waiters).
 */
export class DownloadManager {
    readonly config: ProviderConfig;
    readonly hf: HfSettings;
    private readonly log: Logger;
    private rescan: (() => Promise<unknown>) | undefined;
    private readonly freeSpace: FreeSpaceProbe;
    private readonly doFetch: typeof fetch;
    private readonly store: JobStore;
    private readonly progress: ProgressHub;
    private readonly queue: DownloadQueue;
    /**
     * Starts still resolving their files, by canonical reference and by target. A second start of the same model
     * arriving meanwhile joins the first instead of creating a twin job whose download then fails on the first
     * one's lock.
     */
    private readonly startsByRef = new InFlight<Started>();
    private readonly startsByTarget = new InFlight<Started>();

    constructor(opts: DownloadManagerOptions) {
        this.config = opts.config;
        this.log = opts.logger ?? silentLogger;
        this.rescan = opts.rescan;
        this.freeSpace = opts.freeSpace ?? statfsFreeSpace;
        this.doFetch = opts.fetch ?? fetch;
        this.hf = resolveHfSettings(opts.config, opts.env ?? process.env);
        const stateFile = opts.stateFile === undefined ? defaultStateFile(opts.config) : opts.stateFile;
        this.store = new JobStore({file: stateFile, modelsDir: opts.config.paths.models, log: this.log});
        this.progress = new ProgressHub(opts.progressIntervalMs ?? 250, this.log);
        const transfer = {
            config: this.config, hf: this.hf, fetch: this.doFetch, log: this.log,
            retryDelayMs: opts.retryDelayMs ?? defaultRetryDelay,
            stallTimeoutMs: opts.stallTimeoutMs ?? 60_000,
            publish: (r: JobRecord, force: boolean) => this.progress.publish(r, force),
            persistSoon: () => this.store.persistSoon(),
            assertRoom: (need: number, r: JobRecord) => this.assertRoom(need, r, r.snap.model)
        };
        this.queue = new DownloadQueue({
            store: this.store, progress: this.progress, log: this.log,
            maxConcurrent: opts.maxConcurrent ?? opts.config.downloads.max_concurrent,
            work: async (r, signal) => {
                await transferFiles(r, signal, transfer);
                await this.completed(r);
            }
        });
    }

    /** Creates a manager, reloads persisted jobs and (unless `resume: false`) restarts the unfinished ones. */
    static async create(opts: DownloadManagerOptions & {resume?: boolean}): Promise<DownloadManager> {
        const m = new DownloadManager(opts);
        const unfinished = await m.store.load();
        if (opts.resume ?? true) {
            for (const r of unfinished) m.log.info({id: r.snap.id, model: r.snap.model, bytes: r.snap.downloaded_bytes}, "resuming download after restart");
            m.queue.resume(unfinished);
        }
        return m;
    }

    /** Sets the rescan hook when the manager was built without one (the routes receive it separately). */
    useRescan(fn: () => Promise<unknown>): void {
        this.rescan ??= fn;
    }

    /** Parses options for references: mirror URLs count as Hugging Face files. */
    parseOptions(extra: ParseOptions = {}): ParseOptions {
        return {hfEndpoint: this.hf.endpoint, ...extra};
    }

    /**
     * Starts (or joins) a download. Resolves once the files are known and the disk has room, with the job queued;
     * the bytes arrive in the background. Throws DownloadError: bad_reference, not_found (unknown repo, file or
     * quantization), conflict (the target exists with other content), insufficient_storage, upstream.
     */
    async start(input: unknown, parse: ParseOptions = {}): Promise<Started> {
        if (this.queue.closed) throw new DownloadError("interrupted", "the download manager is shutting down");
        const ref = parseModelRef(input, this.parseOptions(parse));
        const key = formatModelRef(ref);
        const pending = this.startsByRef.get(key);
        if (pending) return this.joined(await pending);
        return this.startsByRef.run(key, () => this.startRef(ref));
    }

    get(id: string): DownloadJob | undefined {
        const r = this.store.get(id);
        return r ? snapshotOf(r) : undefined;
    }

    list(): DownloadJob[] {
        return [...this.store.values()].map(snapshotOf);
    }

    /** `.part` paths of jobs that are queued or running: never orphans, whatever their age. */
    activePartPaths(): string[] {
        return this.store.activePartPaths();
    }

    /**
     * Cancels a queued or running job. The `.part` stays unless `deletePartial` (a later start resumes from it;
     * the audit lists it as an orphan after downloads.orphan_part_days). Cancelling a failed or cancelled job with
     * `deletePartial` removes its leftover `.part`. A `.part` that a newer job of the same file or another process
     * is writing is kept, and listed in `parts_kept`. A completed job cannot be cancelled (code "cancelled").
     */
    async cancel(id: string, opts: {deletePartial?: boolean} = {}): Promise<CancelledJob> {
        return this.queue.cancel(this.require(id), opts.deletePartial === true);
    }

    /**
     * Subscribes to a job's events. The current state is delivered at once (so a late subscriber to a finished job
     * still sees its end); returns the unsubscribe function.
     */
    subscribe(id: string, fn: (ev: DownloadProgressEvent) => void): () => void {
        return this.progress.subscribe(this.require(id), fn);
    }

    /** Resolves when the job is completed, failed or cancelled, or when the manager closes. */
    wait(id: string): Promise<DownloadJob> {
        const r = this.store.get(id);
        if (!r) return Promise.reject(notFound(id));
        if (TERMINAL.has(r.snap.status) || this.queue.closed) return Promise.resolve(snapshotOf(r));
        return this.progress.wait(id);
    }

    /**
     * Stops running downloads without losing them: their `.part` files stay and they are persisted as queued, so
     * the next `create()` resumes them.
     */
    async close(): Promise<void> {
        if (this.queue.closed) return;
        await this.queue.close();
        await this.store.close();
        this.progress.settleAll((id) => this.store.get(id));
    }

    /** Resolves when pending state writes are on disk (tests, shutdown). */
    async flush(): Promise<void> {
        await this.store.flush();
    }

    private require(id: string): JobRecord {
        const r = this.store.get(id);
        if (!r) throw notFound(id);
        return r;
    }

    /** The job a joined start found, as it is now (it may have started running since it was created). */
    private joined(r: {job: DownloadJob}): Started {
        return {job: this.get(r.job.id) ?? r.job, existing: true};
    }

    /** Plans a reference, then joins an active or starting job for the same target, or creates one. */
    private async startRef(ref: ModelRef): Promise<Started> {
        const plan = await planDownload(ref, {modelsDir: this.config.paths.models, hf: this.hf, fetch: this.doFetch, log: this.log});
        const target = plan.files[0]!.dest;
        // Checked synchronously after the plan: two spellings of one file (`:Q4_K_M` and the file name) meet here.
        const active = this.store.activeFor(target);
        if (active) return {job: snapshotOf(active), existing: true};
        const pending = this.startsByTarget.get(target);
        if (pending) return this.joined(await pending);
        return this.startsByTarget.run(target, () => this.createJob(plan));
    }

    /** Checks the files on disk and the free space, then queues a new job for a plan. */
    private async createJob(plan: Plan): Promise<Started> {
        const files = await filesOnDisk(plan);
        await this.assertRoom(bytesStillNeeded(files), null, formatModelRef(plan.ref));
        const r = recordFromPlan(plan, files);
        this.store.add(r);
        const s = r.snap;
        this.log.info({id: s.id, model: s.model, target: s.target, total_bytes: s.total_bytes, resumed_from_bytes: s.resumed_from_bytes}, "download queued");
        this.queue.enqueue(r);
        return {job: snapshotOf(r), existing: false};
    }

    private assertRoom(need: number, except: JobRecord | null, what: string): Promise<void> {
        return assertRoom({probe: this.freeSpace, dir: this.config.paths.models, need, reserved: () => this.store.reservedBytes(except), what});
    }

    /** After the files are in place: record where they came from, and let the registry list the model at once. */
    private async completed(r: JobRecord): Promise<void> {
        r.snap.phase = null;
        await writeSidecar(r).catch((err: unknown) => this.log.warn({err: (err as Error).message}, "could not write the download record"));
        if (!this.rescan) return;
        try {
            await this.rescan();
        } catch (err) {
            this.log.warn({id: r.snap.id, err: (err as Error).message}, "download finished but the rescan failed; the model appears on the next scan");
        }
    }
}

function notFound(id: string): DownloadError {
    return new DownloadError("not_found", `no download with id ${id}`);
}
