import {randomBytes} from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import {hashCachePath, recordVerifiedHash} from "../audit/hash-cache.js";
import type {ProviderConfig} from "../config/load.js";
import type {Logger} from "../log/logger.js";
import {silentLogger} from "../log/logger.js";
import {CancelledByUser, DownloadError, type DownloadErrorCode, ShutdownAbort} from "./errors.js";
import {defaultRetryDelay, type FilePhase, fetchFile} from "./fetch-file.js";
import {hfHeaders, hfResolveUrl, type HfSettings, listHfRepoFiles, resolveHfSettings, selectHfFiles} from "./hf.js";
import {acquireLock, type FileLock, lockIsLive} from "./lock.js";
import {assertSafeFileName, resolveInside} from "./names.js";
import {formatModelRef, type ModelRef, parseModelRef, type ParseOptions, targetFolderName} from "./ref.js";
import {FREE_SPACE_HEADROOM, type FreeSpaceProbe, formatBytes, statfsFreeSpace} from "./space.js";

export type JobStatus = "queued" | "downloading" | "verifying" | "completed" | "failed" | "cancelled";

const ACTIVE: ReadonlySet<JobStatus> = new Set(["queued", "downloading", "verifying"]);
const TERMINAL: ReadonlySet<JobStatus> = new Set(["completed", "failed", "cancelled"]);

export interface DownloadFileState {
    name: string;
    /** Absolute final path inside models_dir. */
    path: string;
    role: "model" | "projector";
    size_bytes: number | null;
    downloaded_bytes: number;
    /** Published sha256 before the download, the verified one after. */
    sha256: string | null;
    done: boolean;
    /** True when this download verified the bytes (false for a file that was already in place). */
    verified: boolean;
}

/** A job as the routes show it (JSON-safe; no token, no query strings). */
export interface DownloadJob {
    id: string;
    /** Canonical spelling of the request (`hf:org/repo:Q4_K_M`, `https://host/path/file.gguf`). */
    model: string;
    source: "huggingface" | "url";
    repo: string | null;
    revision: string | null;
    quant: string | null;
    /** The name Ollama clients use for this pull (`hf.co/org/repo:Q4_K_M`). */
    ollama_name: string | null;
    /** Absolute path of the entry file (the first part of a split model). */
    target: string;
    folder: string;
    files: DownloadFileState[];
    total_bytes: number | null;
    downloaded_bytes: number;
    speed_bps: number;
    eta_seconds: number | null;
    status: JobStatus;
    phase: FilePhase | null;
    error: string | null;
    error_code: DownloadErrorCode | null;
    http_status: number | null;
    /** Bytes already on disk when the job last (re)started: > 0 means it resumed. */
    resumed_from_bytes: number;
    created_at: string;
    updated_at: string;
    finished_at: string | null;
}

/** A `.part` that a delete request left in place, and why. */
export interface KeptPart {
    path: string;
    reason: string;
}

/** What cancel answers: the job, plus (when the request asked to delete the partial files) the ones it had to keep. */
export type CancelledJob = DownloadJob & {parts_kept?: KeptPart[]};

/** One progress event (SSE `data:`, subscriber callbacks). `bytes` never decreases unless a server ignores Range. */
export interface DownloadProgressEvent {
    id: string;
    status: JobStatus;
    phase: FilePhase | null;
    bytes: number;
    total: number | null;
    /** Bytes per second over the last few seconds. */
    speed: number;
    /** Seconds left at the current speed; null when unknown. */
    eta: number | null;
    file: string | null;
    file_index: number;
    files_total: number;
    file_bytes: number;
    file_total: number | null;
    file_sha256: string | null;
    error: string | null;
    error_code: DownloadErrorCode | null;
}

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

interface JobInternal {
    snap: DownloadJob;
    urls: string[];
    abort: AbortController | null;
    running: Promise<void> | null;
    deleteOnCancel: boolean;
    /** `.part` files the last delete left in place (a newer job or another process writes them). */
    partsKept: KeptPart[] | null;
    /** Locks this job holds while it runs: its own lock never keeps its own `.part` from being deleted. */
    locks: FileLock[];
    fileIndex: number;
    samples: Array<[number, number]>;
    lastEmit: number;
}

interface PersistedState {
    version: 1;
    jobs: Array<DownloadJob & {urls: string[]}>;
}

interface PlannedFile {
    url: string;
    dest: string;
    size: number | null;
    sha256: string | null;
    role: "model" | "projector";
}

interface Plan {
    ref: ModelRef;
    folder: string;
    files: PlannedFile[];
    quant: string | null;
    ollamaName: string | null;
}

const MAX_KEPT_JOBS = 100;

function now(): string {
    return new Date().toISOString();
}

function partOf(dest: string): string {
    return `${dest}.part`;
}

async function sizeOrNull(p: string): Promise<number | null> {
    try {
        return (await fs.promises.stat(p)).size;
    } catch {
        return null;
    }
}

/** The state file sits with the parts it describes: a job is meaningless without its `.part` files. */
export function defaultStateFile(config: ProviderConfig): string {
    return path.join(config.paths.models, ".downloads.json");
}

/**
 * Queues, runs, persists and reports downloads. Jobs survive a restart: `create()` reloads the state file and
 * resumes unfinished jobs from their `.part` files. At most `downloads.max_concurrent` run at once; the others wait.
 *
 * Cancel keeps the `.part` by default (a later start of the same model resumes from it); `deletePartial` removes it.
 */
export class DownloadManager {
    readonly config: ProviderConfig;
    readonly hf: HfSettings;
    private readonly log: Logger;
    private rescan: (() => Promise<unknown>) | undefined;
    private readonly freeSpace: FreeSpaceProbe;
    private readonly doFetch: typeof fetch;
    private readonly stateFile: string | null;
    private readonly retryDelayMs: (attempt: number) => number;
    private readonly stallTimeoutMs: number;
    private readonly progressIntervalMs: number;
    private readonly maxConcurrent: number;
    private readonly jobs = new Map<string, JobInternal>();
    private readonly queue: JobInternal[] = [];
    private readonly listeners = new Map<string, Set<(ev: DownloadProgressEvent) => void>>();
    private readonly waiters = new Map<string, Array<(job: DownloadJob) => void>>();
    /**
     * Starts still resolving their files, by canonical reference and by target. They are filled before the first
     * await, so a second start of the same model arriving meanwhile joins the first instead of creating a twin job
     * whose download then fails on the first one's lock.
     */
    private readonly startingRefs = new Map<string, Promise<{job: DownloadJob; existing: boolean}>>();
    private readonly startingTargets = new Map<string, Promise<{job: DownloadJob; existing: boolean}>>();
    private runningCount = 0;
    private closed = false;
    private persistTimer: NodeJS.Timeout | null = null;
    private persistChain: Promise<void> = Promise.resolve();

    constructor(opts: DownloadManagerOptions) {
        this.config = opts.config;
        this.log = opts.logger ?? silentLogger;
        this.rescan = opts.rescan;
        this.freeSpace = opts.freeSpace ?? statfsFreeSpace;
        this.doFetch = opts.fetch ?? fetch;
        this.hf = resolveHfSettings(opts.config, opts.env ?? process.env);
        this.stateFile = opts.stateFile === undefined ? defaultStateFile(opts.config) : opts.stateFile;
        this.retryDelayMs = opts.retryDelayMs ?? defaultRetryDelay;
        this.stallTimeoutMs = opts.stallTimeoutMs ?? 60_000;
        this.progressIntervalMs = opts.progressIntervalMs ?? 250;
        this.maxConcurrent = Math.max(1, opts.maxConcurrent ?? opts.config.downloads.max_concurrent);
    }

    /** Creates a manager, reloads persisted jobs and (unless `resume: false`) restarts the unfinished ones. */
    static async create(opts: DownloadManagerOptions & {resume?: boolean}): Promise<DownloadManager> {
        const m = new DownloadManager(opts);
        await m.load(opts.resume ?? true);
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

    private async load(resume: boolean): Promise<void> {
        if (!this.stateFile) return;
        let state: PersistedState | null = null;
        try {
            state = JSON.parse(await fs.promises.readFile(this.stateFile, "utf8")) as PersistedState;
        } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "ENOENT") this.log.warn({file: this.stateFile, err: (err as Error).message}, "download state unreadable; starting with no jobs");
        }
        if (!state || state.version !== 1 || !Array.isArray(state.jobs)) return;
        for (const raw of state.jobs) {
            const {urls, ...snap} = raw;
            if (!Array.isArray(urls) || !Array.isArray(snap.files) || urls.length !== snap.files.length) continue;
            // A persisted path outside models_dir (a hand-edited state file) is dropped, never written to.
            try {
                for (const f of snap.files) resolveInside(this.config.paths.models, path.relative(this.config.paths.models, f.path));
            } catch {
                this.log.warn({id: snap.id}, "ignoring a persisted download whose files lie outside models_dir");
                continue;
            }
            const job: JobInternal = {snap: {...snap, speed_bps: 0, eta_seconds: null, phase: null}, urls, abort: null, running: null, deleteOnCancel: false, partsKept: null, locks: [], fileIndex: 0, samples: [], lastEmit: 0};
            if (ACTIVE.has(job.snap.status)) {
                job.snap.status = "queued";
                if (resume) {
                    this.queue.push(job);
                    this.log.info({id: snap.id, model: snap.model, bytes: snap.downloaded_bytes}, "resuming download after restart");
                }
            }
            this.jobs.set(snap.id, job);
        }
        this.pump();
    }

    /** Resolves a reference to files (network: the Hugging Face file list, or a HEAD for URLs). */
    private async plan(ref: ModelRef): Promise<Plan> {
        const models = this.config.paths.models;
        const folder = targetFolderName(ref);
        if (ref.kind === "hf") {
            const entries = await listHfRepoFiles(this.hf, ref.repo, ref.revision, {fetch: this.doFetch});
            const sel = selectHfFiles(entries, ref);
            const toFile = (e: {path: string; size: number; sha256: string | null}, role: PlannedFile["role"]): PlannedFile => ({
                url: hfResolveUrl(this.hf, ref.repo, ref.revision, e.path),
                dest: resolveInside(models, folder, assertSafeFileName(path.posix.basename(e.path))),
                size: e.size,
                sha256: e.sha256,
                role
            });
            const files = sel.model.map((e) => toFile(e, "model"));
            if (sel.projector) files.push(toFile(sel.projector, "projector"));
            const tag = ref.file ? null : (ref.quant ?? sel.quant);
            return {ref, folder, files, quant: sel.quant, ollamaName: tag ? `hf.co/${ref.repo}:${tag}` : null};
        }
        const dest = resolveInside(models, folder, assertSafeFileName(ref.fileName));
        let size: number | null = null;
        let sha: string | null = null;
        try {
            const res = await this.doFetch(ref.url, {method: "HEAD", redirect: "follow", headers: hfHeaders(this.hf, ref.url)});
            if (res.status === 404) throw new DownloadError("not_found", `${formatModelRef(ref)}: not found (HTTP 404)`, {upstreamStatus: 404});
            if (res.ok) {
                const len = res.headers.get("x-linked-size") ?? res.headers.get("content-length");
                if (len && /^\d+$/.test(len)) size = Number(len);
                const etag = (res.headers.get("x-linked-etag") ?? res.headers.get("etag") ?? "").replace(/^W\//, "").replace(/"/g, "").toLowerCase();
                if (/^[0-9a-f]{64}$/.test(etag)) sha = etag;
            }
        } catch (err) {
            if (err instanceof DownloadError) throw err;
            // Servers that refuse HEAD are common; the GET reports the size, and the space check runs then.
            this.log.debug({url: formatModelRef(ref), err: (err as Error).message}, "HEAD failed; size will come from the download");
        }
        return {ref, folder, files: [{url: ref.url, dest, size, sha256: sha, role: "model"}], quant: null, ollamaName: null};
    }

    /** Bytes the other active jobs still need: free space is shared. */
    private reservedByOthers(except: JobInternal | null): number {
        let n = 0;
        for (const j of this.jobs.values()) {
            if (j === except || !ACTIVE.has(j.snap.status)) continue;
            for (const f of j.snap.files) if (!f.done && f.size_bytes != null) n += Math.max(0, f.size_bytes - f.downloaded_bytes);
        }
        return n;
    }

    private async assertSpace(need: number, except: JobInternal | null, what: string): Promise<void> {
        const free = await this.freeSpace(this.config.paths.models);
        if (free == null) return;
        const reserved = this.reservedByOthers(except);
        if (need + reserved + FREE_SPACE_HEADROOM > free) {
            throw new DownloadError("insufficient_storage",
                `not enough disk space for ${what}: it needs ${formatBytes(need)}` +
                (reserved > 0 ? ` (plus ${formatBytes(reserved)} for other running downloads)` : "") +
                `, but only ${formatBytes(free)} is free on the drive holding ${this.config.paths.models}. ` +
                `Free some space (npm run audit lists safe-to-delete files) or move models_dir.`);
        }
    }

    /**
     * Starts (or joins) a download. Resolves once the files are known and the disk has room, with the job queued;
     * the bytes arrive in the background. Throws DownloadError: 400 bad reference, 404 unknown repo/file/quant,
     * 409 target exists with other content, 507 no room, 502 upstream failure.
     */
    async start(input: unknown, parse: ParseOptions = {}): Promise<{job: DownloadJob; existing: boolean}> {
        if (this.closed) throw new DownloadError("interrupted", "the download manager is shutting down");
        const ref = parseModelRef(input, this.parseOptions(parse));
        const key = formatModelRef(ref);
        const pending = this.startingRefs.get(key);
        if (pending) return this.joined(await pending);
        const p = this.startRef(ref);
        this.startingRefs.set(key, p);
        try {
            return await p;
        } finally {
            if (this.startingRefs.get(key) === p) this.startingRefs.delete(key);
        }
    }

    /** The job a joined start found, as it is now (it may have started running since it was created). */
    private joined(r: {job: DownloadJob}): {job: DownloadJob; existing: boolean} {
        return {job: this.get(r.job.id) ?? r.job, existing: true};
    }

    /** Plans a reference, then joins an active or starting job for the same target, or creates one. */
    private async startRef(ref: ModelRef): Promise<{job: DownloadJob; existing: boolean}> {
        const plan = await this.plan(ref);
        const target = plan.files[0]!.dest;
        // Checked synchronously after the plan: two spellings of one file (`:Q4_K_M` and the file name) meet here.
        for (const j of this.jobs.values()) {
            if (ACTIVE.has(j.snap.status) && j.snap.target === target) return {job: this.snapshot(j), existing: true};
        }
        const pending = this.startingTargets.get(target);
        if (pending) return this.joined(await pending);
        const p = this.createJob(plan);
        this.startingTargets.set(target, p);
        try {
            return await p;
        } finally {
            if (this.startingTargets.get(target) === p) this.startingTargets.delete(target);
        }
    }

    /** Checks the files on disk and the free space, then queues a new job for a plan. */
    private async createJob(plan: Plan): Promise<{job: DownloadJob; existing: boolean}> {
        const {ref} = plan;
        const target = plan.files[0]!.dest;
        const files: DownloadFileState[] = [];
        for (const f of plan.files) {
            const have = await sizeOrNull(f.dest);
            const state: DownloadFileState = {
                name: path.basename(f.dest), path: f.dest, role: f.role, size_bytes: f.size,
                downloaded_bytes: 0, sha256: f.sha256, done: false, verified: false
            };
            if (have != null) {
                if (f.size != null && have !== f.size) {
                    throw new DownloadError("conflict", `${f.dest} already exists with ${have} bytes, but ${formatModelRef(ref)} has ${f.size}. ` +
                        `Delete or rename the existing file to download this one.`);
                }
                state.done = true;
                state.downloaded_bytes = have;
                state.size_bytes = have;
            } else {
                state.downloaded_bytes = (await sizeOrNull(partOf(f.dest))) ?? 0;
                if (f.size != null && state.downloaded_bytes >= f.size) state.downloaded_bytes = 0; // a failed verify: restarts
            }
            files.push(state);
        }
        const need = files.reduce((n, f) => n + (f.done || f.size_bytes == null ? 0 : f.size_bytes - f.downloaded_bytes), 0);
        await this.assertSpace(need, null, formatModelRef(ref));

        const ts = now();
        const snap: DownloadJob = {
            id: `dl_${randomBytes(6).toString("hex")}`,
            model: formatModelRef(ref),
            source: ref.kind === "hf" ? "huggingface" : "url",
            repo: ref.kind === "hf" ? ref.repo : null,
            revision: ref.kind === "hf" ? ref.revision : null,
            quant: plan.quant,
            ollama_name: plan.ollamaName,
            target,
            folder: path.dirname(target),
            files,
            total_bytes: files.some((f) => f.size_bytes == null) ? null : files.reduce((n, f) => n + (f.size_bytes ?? 0), 0),
            downloaded_bytes: files.reduce((n, f) => n + f.downloaded_bytes, 0),
            speed_bps: 0,
            eta_seconds: null,
            status: "queued",
            phase: null,
            error: null,
            error_code: null,
            http_status: null,
            resumed_from_bytes: files.reduce((n, f) => n + (f.done ? 0 : f.downloaded_bytes), 0),
            created_at: ts,
            updated_at: ts,
            finished_at: null
        };
        const job: JobInternal = {snap, urls: plan.files.map((f) => f.url), abort: null, running: null, deleteOnCancel: false, partsKept: null, locks: [], fileIndex: 0, samples: [], lastEmit: 0};
        this.jobs.set(snap.id, job);
        this.trimJobs();
        this.log.info({id: snap.id, model: snap.model, target, total_bytes: snap.total_bytes, resumed_from_bytes: snap.resumed_from_bytes}, "download queued");
        this.queue.push(job);
        this.persistNow();
        this.pump();
        return {job: this.snapshot(job), existing: false};
    }

    get(id: string): DownloadJob | undefined {
        const j = this.jobs.get(id);
        return j ? this.snapshot(j) : undefined;
    }

    list(): DownloadJob[] {
        return [...this.jobs.values()].map((j) => this.snapshot(j));
    }

    /** `.part` paths of jobs that are queued or running: never orphans, whatever their age. */
    activePartPaths(): string[] {
        const out: string[] = [];
        for (const j of this.jobs.values()) if (ACTIVE.has(j.snap.status)) for (const f of j.snap.files) if (!f.done) out.push(partOf(f.path));
        return out;
    }

    /**
     * Cancels a queued or running job. The `.part` stays unless `deletePartial` (documented: a later start resumes
     * from it; the audit lists it as an orphan after downloads.orphan_part_days). Cancelling a failed or cancelled
     * job with `deletePartial` removes its leftover `.part`. A `.part` that a newer job of the same file or another
     * process is writing is kept, and listed in `parts_kept`. A completed job cannot be cancelled (409).
     */
    async cancel(id: string, opts: {deletePartial?: boolean} = {}): Promise<CancelledJob> {
        const job = this.jobs.get(id);
        if (!job) throw new DownloadError("not_found", `no download with id ${id}`);
        const s = job.snap.status;
        if (s === "completed") throw new DownloadError("cancelled", `download ${id} has already completed`);
        job.partsKept = null;
        if (s === "failed" || s === "cancelled") {
            if (opts.deletePartial) job.partsKept = await this.deleteParts(job);
        } else {
            job.deleteOnCancel = opts.deletePartial === true;
            if (job.running && job.abort) {
                job.abort.abort(new CancelledByUser());
                await job.running;
            } else {
                const i = this.queue.indexOf(job);
                if (i >= 0) this.queue.splice(i, 1);
                await this.finish(job, "cancelled");
            }
        }
        const kept = job.partsKept;
        job.partsKept = null;
        return opts.deletePartial ? {...this.snapshot(job), parts_kept: kept ?? []} : this.snapshot(job);
    }

    /**
     * Subscribes to a job's events. The current state is delivered at once (so a late subscriber to a finished job
     * still sees its end); returns the unsubscribe function.
     */
    subscribe(id: string, fn: (ev: DownloadProgressEvent) => void): () => void {
        const job = this.jobs.get(id);
        if (!job) throw new DownloadError("not_found", `no download with id ${id}`);
        let set = this.listeners.get(id);
        if (!set) this.listeners.set(id, set = new Set());
        set.add(fn);
        fn(this.event(job));
        return () => {
            set!.delete(fn);
            if (set!.size === 0) this.listeners.delete(id);
        };
    }

    /** Resolves when the job is completed, failed or cancelled, or when the manager closes. */
    wait(id: string): Promise<DownloadJob> {
        const job = this.jobs.get(id);
        if (!job) return Promise.reject(new DownloadError("not_found", `no download with id ${id}`));
        if (TERMINAL.has(job.snap.status) || this.closed) return Promise.resolve(this.snapshot(job));
        return new Promise((resolve) => {
            const list = this.waiters.get(id) ?? [];
            list.push(resolve);
            this.waiters.set(id, list);
        });
    }

    /**
     * Stops running downloads without losing them: their `.part` files stay and they are persisted as queued, so
     * the next `create()` resumes them.
     */
    async close(): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        const running = [...this.jobs.values()].filter((j) => j.running);
        for (const j of running) j.abort?.abort(new ShutdownAbort());
        await Promise.all(running.map((j) => j.running));
        if (this.persistTimer) clearTimeout(this.persistTimer);
        this.persistNow();
        await this.persistChain;
        for (const [id, list] of this.waiters) {
            const j = this.jobs.get(id);
            if (j) for (const w of list) w(this.snapshot(j));
        }
        this.waiters.clear();
    }

    private snapshot(j: JobInternal): DownloadJob {
        return {...j.snap, files: j.snap.files.map((f) => ({...f}))};
    }

    private event(j: JobInternal): DownloadProgressEvent {
        const s = j.snap;
        const f = s.files[Math.min(j.fileIndex, s.files.length - 1)];
        return {
            id: s.id, status: s.status, phase: s.phase,
            bytes: s.downloaded_bytes, total: s.total_bytes, speed: Math.round(s.speed_bps), eta: s.eta_seconds,
            file: f?.name ?? null, file_index: j.fileIndex, files_total: s.files.length,
            file_bytes: f?.downloaded_bytes ?? 0, file_total: f?.size_bytes ?? null, file_sha256: f?.sha256 ?? null,
            error: s.error, error_code: s.error_code
        };
    }

    private emit(j: JobInternal, force: boolean): void {
        const t = Date.now();
        if (!force && t - j.lastEmit < this.progressIntervalMs) return;
        j.lastEmit = t;
        j.snap.updated_at = new Date(t).toISOString();
        const set = this.listeners.get(j.snap.id);
        if (!set) return;
        const ev = this.event(j);
        for (const fn of [...set]) {
            try {
                fn(ev);
            } catch (err) {
                this.log.warn({err: (err as Error).message}, "download progress listener threw");
            }
        }
    }

    private updateTotals(j: JobInternal): void {
        const s = j.snap;
        s.downloaded_bytes = s.files.reduce((n, f) => n + f.downloaded_bytes, 0);
        s.total_bytes = s.files.some((f) => f.size_bytes == null) ? null : s.files.reduce((n, f) => n + (f.size_bytes ?? 0), 0);
        const t = Date.now();
        const last = j.samples[j.samples.length - 1];
        if (!last || t - last[0] >= 100) j.samples.push([t, s.downloaded_bytes]);
        while (j.samples.length > 2 && t - j.samples[0]![0] > 5000) j.samples.shift();
        const first = j.samples[0]!;
        const dt = (t - first[0]) / 1000;
        s.speed_bps = dt > 0.2 ? Math.max(0, (s.downloaded_bytes - first[1]) / dt) : s.speed_bps;
        s.eta_seconds = s.total_bytes != null && s.speed_bps > 0 ? Math.ceil((s.total_bytes - s.downloaded_bytes) / s.speed_bps) : null;
    }

    private pump(): void {
        while (!this.closed && this.runningCount < this.maxConcurrent && this.queue.length > 0) {
            const job = this.queue.shift()!;
            if (job.snap.status !== "queued") continue;
            this.runningCount++;
            job.running = this.run(job).finally(() => {
                this.runningCount--;
                job.running = null;
                this.pump();
            });
        }
    }

    private async run(job: JobInternal): Promise<void> {
        const s = job.snap;
        job.abort = new AbortController();
        const signal = job.abort.signal;
        s.status = "downloading";
        s.error = s.error_code = null;
        s.http_status = null;
        s.finished_at = null;
        let resumed = 0;
        job.samples = [];
        const locks: FileLock[] = [];
        job.locks = locks;
        try {
            await fs.promises.mkdir(s.folder, {recursive: true});
            for (let i = 0; i < s.files.length; i++) {
                const f = s.files[i]!;
                if (f.done) continue;
                job.fileIndex = i;
                const part = partOf(f.path);
                const lock = await acquireLock(`${part}.lock`);
                locks.push(lock);
                // The destination may have appeared while queued (another tool, a second request): do not clobber it.
                const existing = await sizeOrNull(f.path);
                if (existing != null) {
                    if (f.size_bytes != null && existing !== f.size_bytes)
                        throw new DownloadError("conflict", `${f.path} appeared with ${existing} bytes while this download waited; expected ${f.size_bytes}`);
                    f.done = true;
                    f.downloaded_bytes = existing;
                    this.updateTotals(job);
                    continue;
                }
                f.downloaded_bytes = (await sizeOrNull(part)) ?? 0;
                resumed += f.downloaded_bytes;
                s.resumed_from_bytes = resumed;
                this.updateTotals(job);
                job.samples = [];
                this.emit(job, true);
                const res = await fetchFile({url: job.urls[i]!, dest: f.path, part, size: f.size_bytes, sha256: f.sha256}, {
                    headers: hfHeaders(this.hf, job.urls[i]!),
                    signal,
                    retries: this.config.downloads.retries,
                    retryDelayMs: this.retryDelayMs,
                    stallTimeoutMs: this.stallTimeoutMs,
                    fetch: this.doFetch,
                    logger: this.log,
                    onProgress: (bytes, total) => {
                        f.downloaded_bytes = bytes;
                        if (f.size_bytes == null && total != null) f.size_bytes = total;
                        this.updateTotals(job);
                        this.emit(job, false);
                        this.persistSoon();
                    },
                    onPhase: (phase) => {
                        s.phase = phase;
                        s.status = phase === "verifying" ? "verifying" : "downloading";
                        this.emit(job, true);
                    },
                    onRestart: () => {
                        f.downloaded_bytes = 0;
                        this.updateTotals(job);
                    },
                    beforeWrite: async (total, onDisk) => {
                        const rest = s.files.reduce((n, g, k) => n + (k === i || g.done || g.size_bytes == null ? 0 : g.size_bytes - g.downloaded_bytes), 0);
                        await this.assertSpace((total == null ? 0 : total - onDisk) + rest, job, s.model);
                    }
                });
                f.done = true;
                f.verified = true;
                f.sha256 = res.sha256;
                f.size_bytes = res.size;
                f.downloaded_bytes = res.size;
                this.updateTotals(job);
                await lock.release();
                locks.splice(locks.indexOf(lock), 1);
                this.log.info({id: s.id, file: f.path, bytes: res.size, resumed_from: res.resumedFrom, requests: res.requests}, "download verified and in place");
                await recordVerifiedHash(hashCachePath(this.config), f.path, res.sha256)
                    .catch((err: unknown) => this.log.warn({err: (err as Error).message}, "could not record the verified hash"));
            }
            s.phase = null;
            await this.writeSidecar(job).catch((err: unknown) => this.log.warn({err: (err as Error).message}, "could not write the download record"));
            if (this.rescan) {
                try {
                    await this.rescan();
                } catch (err) {
                    this.log.warn({id: s.id, err: (err as Error).message}, "download finished but the rescan failed; the model appears on the next scan");
                }
            }
            await this.finish(job, "completed");
        } catch (err) {
            const reason: unknown = signal.aborted ? signal.reason : undefined;
            if (reason instanceof ShutdownAbort) {
                // Left queued on purpose: the next start resumes it.
                s.status = "queued";
                s.phase = null;
                s.speed_bps = 0;
                s.eta_seconds = null;
                this.log.info({id: s.id, bytes: s.downloaded_bytes}, "download paused for shutdown");
                this.emit(job, true);
            } else if (reason instanceof CancelledByUser) {
                await this.finish(job, "cancelled");
            } else {
                const e = err instanceof DownloadError ? err : new DownloadError("upstream", (err as Error).message ?? String(err), {cause: err});
                s.error = e.message;
                s.error_code = e.code;
                s.http_status = e.status;
                this.log.error({id: s.id, model: s.model, code: e.code, err: e.message}, "download failed");
                await this.finish(job, "failed");
            }
        } finally {
            for (const l of locks) await l.release().catch(() => undefined);
            job.locks = [];
            job.abort = null;
            this.persistNow();
        }
    }

    private async finish(job: JobInternal, status: "completed" | "failed" | "cancelled"): Promise<void> {
        const s = job.snap;
        s.status = status;
        s.phase = null;
        s.speed_bps = 0;
        s.eta_seconds = status === "completed" ? 0 : null;
        s.finished_at = now();
        if (status === "cancelled") {
            if (job.deleteOnCancel) job.partsKept = await this.deleteParts(job);
            this.log.info({id: s.id, kept_partial: !job.deleteOnCancel || (job.partsKept?.length ?? 0) > 0}, "download cancelled");
        }
        if (status === "completed") this.log.info({id: s.id, model: s.model, target: s.target}, "download completed");
        this.persistNow();
        this.emit(job, true);
        const list = this.waiters.get(s.id);
        this.waiters.delete(s.id);
        for (const w of list ?? []) w(this.snapshot(job));
    }

    /**
     * Removes a finished job's `.part` files, except those someone else now writes: a newer job of the same file
     * (queued or running, here) or a live lock (a running job here, or `npm run pull` in another process). An old
     * job's id must never be a way to pull the file out from under the download that resumed from it.
     */
    private async deleteParts(job: JobInternal): Promise<KeptPart[]> {
        const active = new Set(this.activePartPaths());
        // This job's own lock is still held while its run winds down; it does not protect the part from this job.
        const own = new Set(job.locks.map((l) => l.path));
        const kept: KeptPart[] = [];
        for (const f of job.snap.files) {
            if (f.done) continue;
            const part = partOf(f.path);
            const lock = `${part}.lock`;
            let reason: string | null = null;
            if (active.has(part)) reason = "a newer download of the same file is using it";
            else if (!own.has(lock) && lockIsLive(lock)) reason = `another download holds its lock (${lock})`;
            if (reason) {
                kept.push({path: part, reason});
                this.log.warn({id: job.snap.id, part, reason}, "kept a .part the request asked to delete");
                continue;
            }
            await fs.promises.rm(part, {force: true});
            f.downloaded_bytes = 0;
        }
        this.updateTotals(job);
        return kept;
    }

    /**
     * `<folder>/.download.json`: where each file came from and its verified sha256, so the registry can offer the
     * `hf.co/org/repo:quant` alias and the audit knows the hash without reading the file.
     */
    private async writeSidecar(job: JobInternal): Promise<void> {
        const s = job.snap;
        if (!s.files.some((f) => f.verified)) return;
        const file = path.join(s.folder, ".download.json");
        let record: {version: 1; files: Record<string, unknown>} = {version: 1, files: {}};
        try {
            const old = JSON.parse(await fs.promises.readFile(file, "utf8")) as typeof record;
            if (old && old.version === 1 && old.files && typeof old.files === "object") record = old;
        } catch {
            // first download into this folder
        }
        s.files.forEach((f, i) => {
            if (!f.verified) return;
            const u = new URL(job.urls[i]!);
            record.files[f.name] = {
                source: s.source, repo: s.repo, revision: s.revision, url: `${u.origin}${u.pathname}`,
                role: f.role, size_bytes: f.size_bytes, sha256: f.sha256, ollama_name: f.role === "model" ? s.ollama_name : null,
                downloaded_at: now()
            };
        });
        const tmp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
        await fs.promises.writeFile(tmp, JSON.stringify(record, null, 2));
        await fs.promises.rename(tmp, file);
    }

    private trimJobs(): void {
        if (this.jobs.size <= MAX_KEPT_JOBS) return;
        const finished = [...this.jobs.values()].filter((j) => TERMINAL.has(j.snap.status))
            .sort((a, b) => a.snap.updated_at.localeCompare(b.snap.updated_at));
        for (const j of finished.slice(0, this.jobs.size - MAX_KEPT_JOBS)) this.jobs.delete(j.snap.id);
    }

    private persistSoon(): void {
        if (!this.stateFile || this.persistTimer) return;
        this.persistTimer = setTimeout(() => {
            this.persistTimer = null;
            this.persistNow();
        }, 2000);
        this.persistTimer.unref();
    }

    private persistNow(): void {
        const file = this.stateFile;
        if (!file) return;
        const state: PersistedState = {version: 1, jobs: [...this.jobs.values()].map((j) => ({...this.snapshot(j), urls: j.urls}))};
        const text = JSON.stringify(state, null, 1);
        this.persistChain = this.persistChain.then(async () => {
            await fs.promises.mkdir(path.dirname(file), {recursive: true});
            const tmp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
            await fs.promises.writeFile(tmp, text);
            await fs.promises.rename(tmp, file);
        }).catch((err: unknown) => this.log.warn({file, err: (err as Error).message}, "could not persist download state"));
    }

    /** Resolves when pending state writes are on disk (tests, shutdown). */
    async flush(): Promise<void> {
        await this.persistChain;
    }
}
