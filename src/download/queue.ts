import type {Logger} from "../log/logger.js";
import {CancelledByUser, DownloadError, ShutdownAbort} from "./errors.js";
import {type JobRecord, now, snapshotOf} from "./job.js";
import type {JobStore} from "./job-store.js";
import {deleteParts} from "./parts.js";
import type {ProgressHub} from "./progress.js";
import type {CancelledJob, KeptPart} from "./types.js";

export interface DownloadQueueOptions {
    store: JobStore;
    progress: ProgressHub;
    log: Logger;
    /** How many jobs run at once; the others wait in order. */
    maxConcurrent: number;
    /** Everything a job does once it runs; resolves when its files are in place, throws when it fails or is aborted. */
    work: (r: JobRecord, signal: AbortSignal) => Promise<void>;
}

type Outcome = "completed" | "failed" | "cancelled";

/**
 * Runs queued jobs, at most `maxConcurrent` at once, and decides how each ends: completed, failed (with the
 * error's code and status), cancelled by the user, or paused by shutdown (left queued, so the next start
 * resumes it).
 */
export class DownloadQueue {
    private readonly store: JobStore;
    private readonly progress: ProgressHub;
    private readonly log: Logger;
    private readonly maxConcurrent: number;
    private readonly work: DownloadQueueOptions["work"];
    private readonly waiting: JobRecord[] = [];
    private runningCount = 0;
    private isClosed = false;

    constructor(opts: DownloadQueueOptions) {
        this.store = opts.store;
        this.progress = opts.progress;
        this.log = opts.log;
        this.maxConcurrent = Math.max(1, opts.maxConcurrent);
        this.work = opts.work;
    }

    get closed(): boolean {
        return this.isClosed;
    }

    /** Queues a new job, persists it, and starts it when a place is free. */
    enqueue(r: JobRecord): void {
        this.waiting.push(r);
        this.store.persistNow();
        this.pump();
    }

    /** Queues jobs reloaded after a restart, in their persisted order. */
    resume(records: readonly JobRecord[]): void {
        this.waiting.push(...records);
        this.pump();
    }

    /**
     * Cancels a queued or running job; on a failed or cancelled one, only removes its leftover `.part` files when
     * `deletePartial`. A completed job cannot be cancelled.
     */
    async cancel(r: JobRecord, deletePartial: boolean): Promise<CancelledJob> {
        const id = r.snap.id;
        const s = r.snap.status;
        if (s === "completed") throw new DownloadError("cancelled", `download ${id} has already completed`);
        r.partsKept = null;
        if (s === "failed" || s === "cancelled") {
            if (deletePartial) r.partsKept = await this.deleteParts(r);
        } else {
            r.deleteOnCancel = deletePartial;
            if (r.running && r.abort) {
                r.abort.abort(new CancelledByUser());
                await r.running;
            } else {
                const i = this.waiting.indexOf(r);
                if (i >= 0) this.waiting.splice(i, 1);
                await this.finish(r, "cancelled");
            }
        }
        const kept = r.partsKept;
        r.partsKept = null;
        return deletePartial ? {...snapshotOf(r), parts_kept: kept ?? []} : snapshotOf(r);
    }

    /** Stops starting jobs and pauses the running ones for shutdown; resolves when they have wound down. */
    async close(): Promise<void> {
        this.isClosed = true;
        const running = [...this.store.values()].filter((r) => r.running);
        for (const r of running) r.abort?.abort(new ShutdownAbort());
        await Promise.all(running.map((r) => r.running));
    }

    private pump(): void {
        while (!this.isClosed && this.runningCount < this.maxConcurrent && this.waiting.length > 0) {
            const r = this.waiting.shift()!;
            if (r.snap.status !== "queued") continue;
            this.runningCount++;
            r.running = this.run(r).finally(() => {
                this.runningCount--;
                r.running = null;
                this.pump();
            });
        }
    }

    private async run(r: JobRecord): Promise<void> {
        const s = r.snap;
        r.abort = new AbortController();
        const signal = r.abort.signal;
        s.status = "downloading";
        s.error = s.error_code = null;
        s.http_status = null;
        s.finished_at = null;
        r.samples = [];
        r.locks = [];
        try {
            await this.work(r, signal);
            await this.finish(r, "completed");
        } catch (err) {
            const reason: unknown = signal.aborted ? signal.reason : undefined;
            if (reason instanceof ShutdownAbort) {
                // Left queued on purpose: the next start resumes it from its `.part` files.
                s.status = "queued";
                s.phase = null;
                s.speed_bps = 0;
                s.eta_seconds = null;
                this.log.info({id: s.id, bytes: s.downloaded_bytes}, "download paused for shutdown");
                this.progress.publish(r, true);
            } else if (reason instanceof CancelledByUser) {
                await this.finish(r, "cancelled");
            } else {
                const e = err instanceof DownloadError ? err : new DownloadError("upstream", (err as Error).message ?? String(err), {cause: err});
                s.error = e.message;
                s.error_code = e.code;
                s.http_status = e.status;
                this.log.error({id: s.id, model: s.model, code: e.code, err: e.message}, "download failed");
                await this.finish(r, "failed");
            }
        } finally {
            for (const l of r.locks) await l.release().catch(() => undefined);
            r.locks = [];
            r.abort = null;
            this.store.persistNow();
        }
    }

    private async finish(r: JobRecord, outcome: Outcome): Promise<void> {
        const s = r.snap;
        s.status = outcome;
        s.phase = null;
        s.speed_bps = 0;
        s.eta_seconds = outcome === "completed" ? 0 : null;
        s.finished_at = now();
        if (outcome === "cancelled") {
            if (r.deleteOnCancel) r.partsKept = await this.deleteParts(r);
            this.log.info({id: s.id, kept_partial: !r.deleteOnCancel || (r.partsKept?.length ?? 0) > 0}, "download cancelled");
        }
        if (outcome === "completed") this.log.info({id: s.id, model: s.model, target: s.target}, "download completed");
        this.store.persistNow();
        this.progress.publish(r, true);
        this.progress.settle(r);
    }

    private deleteParts(r: JobRecord): Promise<KeptPart[]> {
        return deleteParts(r, new Set(this.store.activePartPaths()), this.log);
    }
}
