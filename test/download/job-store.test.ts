import fs from "node:fs";
import path from "node:path";
import {afterEach, beforeEach, describe, expect, it} from "vitest";
import {JobStore} from "../../src/download/job-store.js";
import {silentLogger} from "../../src/log/logger.js";
import {rmrf, tempHome} from "./helpers.js";
import {testRecord} from "./records.js";

let home: string;
let models: string;
let file: string;

beforeEach(() => {
    home = tempHome();
    models = path.join(home, "models");
    file = path.join(models, ".downloads.json");
});

afterEach(() => rmrf(home));

function store(): JobStore {
    return new JobStore({file, modelsDir: models, log: silentLogger});
}

describe("JobStore", () => {
    it("persists atomically and reloads: active jobs come back queued and are returned to resume, finished ones are kept as they were", async () => {
        const a = store();
        const running = testRecord(models, "running");
        running.snap.status = "downloading";
        running.snap.speed_bps = 123;
        running.snap.phase = "downloading";
        const done = testRecord(models, "done");
        done.snap.status = "completed";
        a.add(running);
        a.add(done);
        a.persistNow();
        await a.flush();
        expect(fs.readdirSync(models).filter((n) => n.endsWith(".tmp"))).toEqual([]);

        const b = store();
        const unfinished = await b.load();
        expect(unfinished.map((r) => r.snap.id)).toEqual([running.snap.id]);
        expect(unfinished[0]!.snap).toMatchObject({status: "queued", speed_bps: 0, phase: null, eta_seconds: null});
        expect(unfinished[0]!.urls).toEqual(running.urls);
        expect(b.get(done.snap.id)?.snap.status).toBe("completed");
    });

    it("drops a persisted job whose files lie outside models_dir, and starts empty on an unreadable file", async () => {
        const a = store();
        const ok = testRecord(models, "inside");
        const evil = testRecord(models, "evil");
        evil.snap.files[0]!.path = path.join(home, "elsewhere.gguf");
        a.add(ok);
        a.add(evil);
        a.persistNow();
        await a.flush();
        const b = store();
        await b.load();
        expect([...b.values()].map((r) => r.snap.id)).toEqual([ok.snap.id]);

        fs.writeFileSync(file, "{not json");
        const c = store();
        expect(await c.load()).toEqual([]);
        expect([...c.values()]).toEqual([]);
    });

    it("reserves the bytes active jobs still need, except the asking job's own", () => {
        const s = new JobStore({file: null, modelsDir: models, log: silentLogger});
        const a = testRecord(models, "a", 1000);
        const b = testRecord(models, "b", 500);
        b.snap.files[0]!.downloaded_bytes = 200;
        const finished = testRecord(models, "c", 9999);
        finished.snap.status = "failed";
        const unknown = testRecord(models, "d", null);
        for (const r of [a, b, finished, unknown]) s.add(r);
        expect(s.reservedBytes(null)).toBe(1300);
        expect(s.reservedBytes(a)).toBe(300);
        expect(s.activePartPaths().sort()).toEqual([a, b, unknown].map((r) => `${r.snap.target}.part`).sort());
        expect(s.activeFor(b.snap.target)).toBe(b);
        expect(s.activeFor(finished.snap.target)).toBeUndefined();
    });

    it("forgets the oldest finished jobs beyond 100, never an active one", () => {
        const s = new JobStore({file: null, modelsDir: models, log: silentLogger});
        const active = testRecord(models, "active");
        active.snap.updated_at = "2000-01-01T00:00:00.000Z";
        s.add(active);
        const finished = [];
        for (let i = 0; i < 105; i++) {
            const r = testRecord(models, `m${i}`);
            r.snap.status = "completed";
            r.snap.updated_at = new Date(Date.UTC(2020, 0, 1, 0, 0, i)).toISOString();
            finished.push(r);
            s.add(r);
        }
        const ids = new Set([...s.values()].map((r) => r.snap.id));
        expect(ids.size).toBe(100);
        expect(ids.has(active.snap.id)).toBe(true);
        expect(finished.slice(0, 6).some((r) => ids.has(r.snap.id))).toBe(false);
        expect(finished.slice(6).every((r) => ids.has(r.snap.id))).toBe(true);
    });

    it("keeps nothing on disk without a state file", async () => {
        const s = new JobStore({file: null, modelsDir: models, log: silentLogger});
        s.add(testRecord(models, "x"));
        s.persistNow();
        s.persistSoon();
        await s.close();
        expect(fs.existsSync(models)).toBe(false);
    });
});
