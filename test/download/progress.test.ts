import {describe, expect, it} from "vitest";
import {ProgressHub} from "../../src/download/progress.js";
import type {DownloadProgressEvent} from "../../src/download/types.js";
import {silentLogger} from "../../src/log/logger.js";
import {testRecord} from "./records.js";

describe("ProgressHub", () => {
    it("delivers the current state at once, throttles byte updates but never forced ones, and stops after unsubscribe", () => {
        const hub = new ProgressHub(60_000, silentLogger);
        const r = testRecord("/models", "m");
        const seen: DownloadProgressEvent[] = [];
        const off = hub.subscribe(r, (ev) => seen.push(ev));
        expect(seen).toHaveLength(1);
        hub.publish(r, true);
        r.snap.downloaded_bytes = 10;
        hub.publish(r, false);
        expect(seen.map((e) => e.bytes)).toEqual([0, 0]);
        r.snap.status = "verifying";
        hub.publish(r, true);
        expect(seen.map((e) => e.status)).toEqual(["queued", "queued", "verifying"]);
        expect(seen[2]!.bytes).toBe(10);
        off();
        hub.publish(r, true);
        expect(seen).toHaveLength(3);
    });

    it("a listener that throws does not keep the others from their events", () => {
        const hub = new ProgressHub(0, silentLogger);
        const r = testRecord("/models", "m");
        let calls = 0;
        hub.subscribe(r, () => {
            if (calls++ > 0) throw new Error("boom");
        });
        const seen: DownloadProgressEvent[] = [];
        hub.subscribe(r, (ev) => seen.push(ev));
        expect(() => hub.publish(r, true)).not.toThrow();
        expect(seen).toHaveLength(2);
    });

    it("settles waiters with a copy of the job, and settleAll only those whose job is still known", async () => {
        const hub = new ProgressHub(0, silentLogger);
        const a = testRecord("/models", "a");
        const b = testRecord("/models", "b");
        const wa = hub.wait(a.snap.id);
        a.snap.status = "completed";
        hub.settle(a);
        const got = await wa;
        expect(got.status).toBe("completed");
        got.files[0]!.done = true;
        expect(a.snap.files[0]!.done).toBe(false);

        const wb = hub.wait(b.snap.id);
        let gone = false;
        void hub.wait("dl_forgotten").then(() => {
            gone = true;
        });
        hub.settleAll((id) => (id === b.snap.id ? b : undefined));
        expect((await wb).id).toBe(b.snap.id);
        await Promise.resolve();
        expect(gone).toBe(false);
    });
});
