import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {addModel, makeHome, removeHome} from "../helpers/home.js";
import {startTestServer, type TestServer} from "../helpers/server.js";
import {estimateModelBytes, type MemoryProbe} from "../../src/runtime/memory-probe.js";
import {scanModels} from "../../src/registry/scan.js";
import {testConfig} from "../helpers/home.js";

const MIB = 1024 * 1024;

interface Status {
    models: Array<{name: string; state: string; in_flight: number; budget_bytes: number}>;
}

async function states(server: TestServer): Promise<Record<string, string>> {
    const s = await server.json<Status>("/runtime/status");
    return Object.fromEntries(s.body.models.map((m) => [m.name, m.state]));
}

async function generate(server: TestServer, model: string) {
    return server.json<{eval_count: number; error?: string}>("/api/generate", {model, prompt: "x", stream: false, options: {temperature: 0, num_predict: 1}});
}

/**
 * Three equal models and a budget that fits two. Measured memory comes from a stand-in probe (each runner
 * "uses" twice its estimate), so the arithmetic is exact whatever this machine's real RSS is.
 */
describe("memory budget and LRU eviction", () => {
    let home: string;
    let estimate: number;
    const probe: MemoryProbe = {
        systemAvailableBytes: () => 64 * 1024 * MIB,
        systemTotalBytes: () => 128 * 1024 * MIB,
        runnerRssBytes: async () => 2 * estimate
    };

    beforeAll(async () => {
        home = await makeHome("zc-evict-");
        for (const name of ["one", "two", "three", "four"]) await addModel(home, `${name}/${name}-q8_0.gguf`, {seed: name.length});
        const {index} = await scanModels(testConfig(home), {write: false});
        const m = index.models[0]!;
        estimate = estimateModelBytes({size_bytes: m.size_bytes, block_count: m.metadata!.block_count, head_count: m.metadata!.head_count,
            head_count_kv: m.metadata!.head_count_kv, embedding_length: m.metadata!.embedding_length, vocab_size: m.metadata!.vocab_size}, 1024, 1);
    });
    afterAll(async () => removeHome(home));

    async function serverWithBudget(pinned: string[] = []): Promise<TestServer> {
        // two resident models use 4 × estimate; a third needs one more estimate on top: 4.5 × fits two, not three
        const threshold = Math.floor((4.5 * estimate) / MIB);
        const models = Object.fromEntries(["one", "two", "three", "four"].map((n) => [n, {context_size: 1024, ...(pinned.includes(n) ? {pinned: true} : {})}]));
        return startTestServer(home, {ram_threshold_mb: threshold, models}, {probe, sweepIntervalMs: 60_000});
    }

    it("evicts the least recently used idle model to make room", async () => {
        const server = await serverWithBudget();
        try {
            expect((await generate(server, "one")).status).toBe(200);
            expect((await generate(server, "two")).status).toBe(200);
            expect((await generate(server, "one")).status).toBe(200); // "two" is now the least recently used
            expect((await generate(server, "three")).status).toBe(200);
            const s = await states(server);
            expect(s).toMatchObject({one: "loaded", two: "unloaded", three: "loaded"});
        } finally {
            await server.close(1000);
        }
    });

    it("never evicts a pinned model", async () => {
        const server = await serverWithBudget(["one"]);
        try {
            await generate(server, "one");
            await generate(server, "two");
            await generate(server, "three"); // "one" is LRU but pinned: "two" goes
            expect(await states(server)).toMatchObject({one: "loaded", two: "unloaded", three: "loaded"});
            // an explicit unload still unloads a pinned model
            expect((await server.json<{status: string}>("/runtime/unload/one", {})).body.status).toBe("unloaded");
        } finally {
            await server.close(1000);
        }
    });

    it("never evicts a busy model, and a model that cannot fit gets a clear 503 while the others stay untouched", async () => {
        const server = await serverWithBudget(["two"]);
        try {
            await generate(server, "one");
            await generate(server, "two");
            // "one" (the LRU) is busy with a long generation; "two" is pinned: nothing may go
            const busy = server.json("/api/generate", {model: "one", prompt: "long", stream: false, options: {temperature: 0, num_predict: 900}});
            for (let i = 0; i < 100 && (await server.json<Status>("/runtime/status")).body.models.find((m) => m.name === "one")!.in_flight === 0; i++)
                await new Promise((r) => setTimeout(r, 20));
            const refused = await generate(server, "three");
            expect(refused.status).toBe(503);
            expect(refused.body.error).toMatch(/model 'three' needs about \d+ MB but only \d+ MB of the \d+ MB budget \(ram_threshold_mb\) can be freed/);
            expect(await states(server)).toMatchObject({one: "loaded", two: "loaded", three: "unloaded"});
            expect((await busy).status).toBe(200);
            // once "one" is idle again it can be evicted
            expect((await generate(server, "three")).status).toBe(200);
            expect(await states(server)).toMatchObject({one: "unloaded", two: "loaded", three: "loaded"});
        } finally {
            await server.close(1000);
        }
    });
});
