import type {Logger} from "../log/logger.js";
import {type JobRecord, progressEventOf, snapshotOf} from "./job.js";
import type {DownloadJob, DownloadProgressEvent} from "./types.js";

type Listener = (ev: DownloadProgressEvent) => void;

/**
 * Publishes download progress: subscribers get throttled progress events, waiters get the job once it ends.
 * A listener that throws is logged and never stops the download or the other listeners.
 */
export class ProgressHub {
    private readonly listeners = new Map<string, Set<Listener>>();
    private readonly waiters = new Map<string, Array<(job: DownloadJob) => void>>();

    constructor(private readonly intervalMs: number, private readonly log: Logger) {}

    /** Subscribes to a job's events, delivering its current state at once; returns the unsubscribe function. */
    subscribe(r: JobRecord, fn: Listener): () => void {
        const id = r.snap.id;
        const set = this.listeners.get(id) ?? new Set<Listener>();
        this.listeners.set(id, set);
        set.add(fn);
        fn(progressEventOf(r));
        return () => {
            set.delete(fn);
            if (set.size === 0) this.listeners.delete(id);
        };
    }

    /**
     * Sends the job's state to its subscribers, unless one went out less than the interval ago and `force` is
     * false (status and phase changes force; byte counts do not).
     */
    publish(r: JobRecord, force: boolean): void {
        const t = Date.now();
        if (!force && t - r.lastEmit < this.intervalMs) return;
        r.lastEmit = t;
        r.snap.updated_at = new Date(t).toISOString();
        const set = this.listeners.get(r.snap.id);
        if (!set) return;
        const ev = progressEventOf(r);
        for (const fn of [...set]) {
            try {
                fn(ev);
            } catch (err) {
                this.log.warn({err: (err as Error).message}, "download progress listener threw");
            }
        }
    }

    /** Resolves with the job when `settle` is next called for it. */
    wait(id: string): Promise<DownloadJob> {
        return new Promise((resolve) => {
            const list = this.waiters.get(id) ?? [];
            list.push(resolve);
            this.waiters.set(id, list);
        });
    }

    /** Hands the job, as it is now, to everyone waiting for it. */
    settle(r: JobRecord): void {
        const list = this.waiters.get(r.snap.id);
        this.waiters.delete(r.snap.id);
        for (const w of list ?? []) w(snapshotOf(r));
    }

    /** Settles every waiter whose job is still known (shutdown: nothing more will finish). */
    settleAll(lookup: (id: string) => JobRecord | undefined): void {
        for (const [id, list] of this.waiters) {
            const r = lookup(id);
            if (r) for (const w of list) w(snapshotOf(r));
        }
        this.waiters.clear();
    }
}
