/**
 * `/runtime/status` rows of models that never loaded carry the same parallel fields as loaded rows: the sequences a
 * load would give, whether "auto" chose them, the reserve for short requests and empty queues by class.
 */
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import type {ModelStatusReport} from "../../src/runtime/manager.js";
import {addModel, makeHome, removeHome} from "../helpers/home.js";
import {startTestServer, type TestServer} from "../helpers/server.js";

type Row = Pick<ModelStatusReport, "name" | "state" | "queued" | "queued_short" | "queued_long" | "parallel" | "parallel_auto" | "short_reserved">;

let home: string;
let server: TestServer;

beforeAll(async () => {
    home = await makeHome("zc-runtime-status-");
    for (const [name, seed] of [["trio", 1], ["solo", 2], ["free", 3], ["plain", 4]] as const)
        await addModel(home, `${name}/${name}-q8_0.gguf`, {seed});
    server = await startTestServer(home, {
        parallel: 2,
        short_reserved_sequences: 1,
        models: {trio: {parallel: 3, context_size: 512}, solo: {parallel: 1}, free: {parallel: "auto"}}
    });
});

afterAll(async () => {
    await server?.close(1000);
    await removeHome(home);
});

async function rows(): Promise<Map<string, Row>> {
    const {status, body} = await server.json<{models: Row[]}>("/runtime/status");
    expect(status).toBe(200);
    return new Map(body.models.map((m) => [m.name, m]));
}

const parallelFields = (r: Row) => ({parallel: r.parallel, parallel_auto: r.parallel_auto, short_reserved: r.short_reserved,
    queued_short: r.queued_short, queued_long: r.queued_long});

describe("/runtime/status for models that never loaded", () => {
    it("reports the configured sequences, per model over the global setting, and never reserves the only one", async () => {
        const before = await rows();
        for (const name of ["trio", "solo", "free", "plain"]) expect(before.get(name)?.state, name).toBe("unloaded");
        expect(parallelFields(before.get("trio")!)).toEqual({parallel: 3, parallel_auto: false, short_reserved: 1, queued_short: 0, queued_long: 0});
        expect(parallelFields(before.get("solo")!)).toEqual({parallel: 1, parallel_auto: false, short_reserved: 0, queued_short: 0, queued_long: 0});
        expect(parallelFields(before.get("plain")!)).toEqual({parallel: 2, parallel_auto: false, short_reserved: 1, queued_short: 0, queued_long: 0});
        const free = before.get("free")!;
        expect(free.parallel_auto).toBe(true);
        // "auto" gives a tiny model up to four sequences (src/runtime/parallel.ts)
        expect(free.parallel).toBeGreaterThanOrEqual(1);
        expect(free.parallel).toBeLessThanOrEqual(4);
        expect(free.short_reserved).toBe(Math.min(1, free.parallel - 1));
    });

    it("a model's row says the same before its first load as once loaded", async () => {
        const before = (await rows()).get("trio")!;
        const load = await server.json("/runtime/load/trio", {});
        expect(load.status).toBe(200);
        const after = (await rows()).get("trio")!;
        expect(after.state).toBe("loaded");
        expect(parallelFields(after)).toEqual(parallelFields(before));
    });
});
