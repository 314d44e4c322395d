import {describe, expect, it} from "vitest";
import {DownloadError} from "../../src/download/errors.js";
import type {JobRecord} from "../../src/download/job.js";
import {JobStore} from "../../src/download/job-store.js";
import {ProgressHub} from "../../src/download/progress.js";
import {DownloadQueue} from "../../src/download/queue.js";
import type {DownloadProgressEvent} from "../../src/download/types.js";
import {silentLogger} from "../../src/log/logger.js";
import {waitFor} from "./helpers.js";
import {testRecord} from "./records.js";

const MODELS = "/nonexistent-models-dir";

/** A stand-in for the transfer: each job's work waits until the test ends it, or until it is aborted. */
class StandinWork {
    readonly started: string[] = [];
    private readonly ends = new Map<string, {resolve: () => void; reject: (e: unknown) => void}>();

    readonly work = (r: JobRecord, signal: AbortSignal): Promise<void> => {
        this.started.push(r.snap.id);
        return new Promise<void>((resolve, reject) => {
            this.ends.set(r.snap.id, {resolve, reject});
            signal.addEventListener("abort", () => reject(signal.reason), {once: true});
        });
    };

    succeed(r: JobRecord): void {
        this.ends.get(r.snap.id)!.resolve();
    }

    fail(r: JobRecord, err: unknown): void {
        this.ends.get(r.snap.id)!.reject(err);
    }
}

function setup(maxConcurrent: number): {queue: DownloadQueue; store: JobStore; progress: ProgressHub; work: StandinWork; add: (name: string) => JobRecord} {
    const store = new JobStore({file: null, modelsDir: MODELS, log: silentLogger});
    const progress = new ProgressHub(0, silentLogger);
    const work = new StandinWork();
    const queue = new DownloadQueue({store, progress, log: silentLogger, maxConcurrent, work: work.work});
    const add = (name: string): JobRecord => {
        const r = testRecord(MODELS, name);
        store.add(r);
        queue.enqueue(r);
        return r;
    };
    return {queue, store, progress, work, add};
}

describe("DownloadQueue", () => {
    it("runs at most maxConcurrent jobs, in order, and starts the next when one ends", async () => {
        const {work, add, progress} = setup(2);
        const [a, b, c] = [add("a"), add("b"), add("c")];
        expect(work.started).toEqual([a.snap.id, b.snap.id]);
        expect([a, b, c].map((r) => r.snap.status)).toEqual(["downloading", "downloading", "queued"]);
        const done = progress.wait(a.snap.id);
        work.succeed(a);
        expect((await done).status).toBe("completed");
        await waitFor(() => work.started.length === 3, 2000, "the third job to start");
        expect(work.started[2]).toBe(c.snap.id);
        expect(a.snap).toMatchObject({eta_seconds: 0, phase: null});
        expect(a.snap.finished_at).not.toBeNull();
    });

    it("records a failure's code and status, and wraps an unknown error as upstream", async () => {
        const {work, add, progress} = setup(2);
        const a = add("a");
        const b = add("b");
        const da = progress.wait(a.snap.id);
        const db = progress.wait(b.snap.id);
        work.fail(a, new DownloadError("checksum", "sha256 mismatch"));
        work.fail(b, new Error("socket hang up"));
        expect(await da).toMatchObject({status: "failed", error_code: "checksum", http_status: 502, error: "sha256 mismatch"});
        expect(await db).toMatchObject({status: "failed", error_code: "upstream", http_status: 502, error: "socket hang up"});
    });

    it("cancels a waiting job without running it, aborts a running one, and refuses a completed one", async () => {
        const {queue, work, add, progress} = setup(1);
        const running = add("running");
        const waiting = add("waiting");
        const events: DownloadProgressEvent[] = [];
        progress.subscribe(waiting, (ev) => events.push(ev));

        expect((await queue.cancel(waiting, false)).status).toBe("cancelled");
        expect(events.map((e) => e.status)).toEqual(["queued", "cancelled"]);
        expect(work.started).toEqual([running.snap.id]);
        const res = await queue.cancel(running, true);
        expect(res.status).toBe("cancelled");
        expect(res.parts_kept).toEqual([]);
        expect(running.running).toBeNull();

        const third = add("third");
        await waitFor(() => work.started.includes(third.snap.id), 2000, "the next job to start");
        work.succeed(third);
        await waitFor(() => third.snap.status === "completed", 2000, "completion");
        await expect(queue.cancel(third, false)).rejects.toMatchObject({code: "cancelled", status: 409});
    });

    it("close pauses running jobs as queued, so a restart resumes them, and starts no other", async () => {
        const {queue, work, add} = setup(1);
        const a = add("a");
        const b = add("b");
        await queue.close();
        expect(queue.closed).toBe(true);
        expect(a.snap).toMatchObject({status: "queued", speed_bps: 0, phase: null});
        expect(a.running).toBeNull();
        expect(work.started).toEqual([a.snap.id]);
        expect(b.snap.status).toBe("queued");
    });
});
