import fs from "node:fs";
import path from "node:path";
import type {Logger} from "../log/logger.js";
import {partOf, writeFileAtomic} from "./files.js";
import {bytesStillNeeded, type JobRecord, newRecord, snapshotOf} from "./job.js";
import {resolveInside} from "./names.js";
import {ACTIVE, type DownloadJob, TERMINAL} from "./types.js";

/** What the state file holds: every job with its URLs, so a restart can resume the unfinished ones. */
interface PersistedState {
    version: 1;
    jobs: Array<DownloadJob & {urls: string[]}>;
}

/** Finished jobs beyond this many are forgotten, oldest first; active ones are always kept. */
const MAX_KEPT_JOBS = 100;
/** Progress is persisted at most this often while bytes arrive; status changes are persisted at once. */
const PERSIST_DELAY_MS = 2000;

export interface JobStoreOptions {
    /** Where jobs persist; null keeps them in memory only. */
    file: string | null;
    /** Persisted files outside this folder are refused on reload. */
    modelsDir: string;
    log: Logger;
}

/**
 * Every download job this manager knows, and their persistence: writes are atomic (temporary file and rename)
 * and serialised, so the file on disk is always one whole, recent state.
 */
export class JobStore {
    private readonly file: string | null;
    private readonly modelsDir: string;
    private readonly log: Logger;
    private readonly records = new Map<string, JobRecord>();
    private persistTimer: NodeJS.Timeout | null = null;
    private persistChain: Promise<void> = Promise.resolve();
    private closed = false;

    constructor(opts: JobStoreOptions) {
        this.file = opts.file;
        this.modelsDir = opts.modelsDir;
        this.log = opts.log;
    }

    get(id: string): JobRecord | undefined {
        return this.records.get(id);
    }

    values(): IterableIterator<JobRecord> {
        return this.records.values();
    }

    /** Adds a new job and forgets the oldest finished ones beyond the limit. */
    add(r: JobRecord): void {
        this.records.set(r.snap.id, r);
        this.trim();
    }

    /** The active job writing to `target`, if any: two spellings of one file meet here. */
    activeFor(target: string): JobRecord | undefined {
        for (const r of this.records.values()) if (ACTIVE.has(r.snap.status) && r.snap.target === target) return r;
        return undefined;
    }

    /** `.part` paths of jobs that are queued or running: never orphans, whatever their age. */
    activePartPaths(): string[] {
        const out: string[] = [];
        for (const r of this.records.values()) if (ACTIVE.has(r.snap.status)) for (const f of r.snap.files) if (!f.done) out.push(partOf(f.path));
        return out;
    }

    /** Bytes the active jobs other than `except` still need: free space is shared. */
    reservedBytes(except: JobRecord | null): number {
        let n = 0;
        for (const r of this.records.values()) if (r !== except && ACTIVE.has(r.snap.status)) n += bytesStillNeeded(r.snap.files);
        return n;
    }

    /**
     * Reloads the state file. Jobs that were active come back as queued (their bytes so far are in their `.part`
     * files); the caller decides whether to run them. Returns those.
     */
    async load(): Promise<JobRecord[]> {
        const unfinished: JobRecord[] = [];
        if (!this.file) return unfinished;
        let state: PersistedState | null = null;
        try {
            state = JSON.parse(await fs.promises.readFile(this.file, "utf8")) as PersistedState;
        } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "ENOENT") this.log.warn({file: this.file, err: (err as Error).message}, "download state unreadable; starting with no jobs");
        }
        if (!state || state.version !== 1 || !Array.isArray(state.jobs)) return unfinished;
        for (const raw of state.jobs) {
            const {urls, ...snap} = raw;
            if (!Array.isArray(urls) || !Array.isArray(snap.files) || urls.length !== snap.files.length) continue;
            // A persisted path outside models_dir (a hand-edited state file) is dropped, never written to.
            try {
                for (const f of snap.files) resolveInside(this.modelsDir, path.relative(this.modelsDir, f.path));
            } catch {
                this.log.warn({id: snap.id}, "ignoring a persisted download whose files lie outside models_dir");
                continue;
            }
            const r = newRecord({...snap, speed_bps: 0, eta_seconds: null, phase: null}, urls);
            if (ACTIVE.has(r.snap.status)) {
                r.snap.status = "queued";
                unfinished.push(r);
            }
            this.records.set(snap.id, r);
        }
        return unfinished;
    }

    /** Persists within a couple of seconds; repeated calls meanwhile share one write. */
    persistSoon(): void {
        if (!this.file || this.persistTimer || this.closed) return;
        this.persistTimer = setTimeout(() => {
            this.persistTimer = null;
            this.persistNow();
        }, PERSIST_DELAY_MS);
        this.persistTimer.unref();
    }

    /** Queues a write of the current state, after any write already under way. */
    persistNow(): void {
        const file = this.file;
        if (!file) return;
        const state: PersistedState = {version: 1, jobs: [...this.records.values()].map((r) => ({...snapshotOf(r), urls: r.urls}))};
        const text = JSON.stringify(state, null, 1);
        this.persistChain = this.persistChain.then(async () => {
            await fs.promises.mkdir(path.dirname(file), {recursive: true});
            await writeFileAtomic(file, text);
        }).catch((err: unknown) => this.log.warn({file, err: (err as Error).message}, "could not persist download state"));
    }

    /** Resolves when pending state writes are on disk. */
    async flush(): Promise<void> {
        await this.persistChain;
    }

    /** Writes the final state; later progress is no longer persisted on a timer (explicit writes still are). */
    async close(): Promise<void> {
        this.closed = true;
        if (this.persistTimer) clearTimeout(this.persistTimer);
        this.persistTimer = null;
        this.persistNow();
        await this.flush();
    }

    private trim(): void {
        if (this.records.size <= MAX_KEPT_JOBS) return;
        const finished = [...this.records.values()].filter((r) => TERMINAL.has(r.snap.status))
            .sort((a, b) => a.snap.updated_at.localeCompare(b.snap.updated_at));
        for (const r of finished.slice(0, this.records.size - MAX_KEPT_JOBS)) this.records.delete(r.snap.id);
    }
}
