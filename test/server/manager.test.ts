import fs from "node:fs/promises";
import path from "node:path";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {addModel, ENDLESS, makeHome, removeHome, TEST_KEY} from "../helpers/home.js";
import {ndjson, startTestServer, type TestServer} from "../helpers/server.js";

interface Status {
    models: Array<{name: string; state: string; reason: string | null; runner_pid: number | null; loads: number; in_flight: number; queued: number; context_size: number; budget_bytes: number}>;
}

async function status(server: TestServer, name: string) {
    const s = await server.json<Status>("/runtime/status");
    return s.body.models.find((m) => m.name === name)!;
}

async function until(cond: () => Promise<boolean>, what: string, tries = 100, everyMs = 100): Promise<void> {
    for (let i = 0; i < tries; i++) {
        if (await cond()) return;
        await new Promise((r) => setTimeout(r, everyMs));
    }
    throw new Error(`timed out waiting for ${what}`);
}

/** Starts a streaming generation and resolves once its first chunk arrived; `abort` cuts the connection. */
async function startStream(server: TestServer, body: unknown) {
    const ac = new AbortController();
    const res = await server.api("/api/generate", {method: "POST", json: body, signal: ac.signal});
    const reader = res.body!.getReader();
    const first = await reader.read();
    const decoder = new TextDecoder();
    let text = decoder.decode(first.value);
    const rest = (async () => {
        try {
            for (;;) {
                const {done, value} = await reader.read();
                if (done) break;
                text += decoder.decode(value);
            }
        } catch {
            // aborted
        }
        return text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Record<string, unknown>);
    })();
    return {status: res.status, abort: () => ac.abort(), lines: rest};
}

const LONG = {temperature: 0, num_predict: 1e9};

describe("model manager over HTTP", () => {
    let home: string;
    let server: TestServer;

    beforeAll(async () => {
        home = await makeHome("zc-manager-");
        // scripted to never end by itself: every count below is reached by the token limit alone, on any CPU
        await addModel(home, "alpha/alpha-q8_0.gguf", {seed: 1, script: ENDLESS});
        await addModel(home, "long/long-q8_0.gguf", {seed: 2, contextLength: 16384, script: ENDLESS});
        await addModel(home, "victim/victim-q8_0.gguf", {seed: 4});
        await addModel(home, "cut/cut-q8_0.gguf", {truncateTensorData: true});
        server = await startTestServer(home, {
            max_queue: 1,
            // one sequence for "long": these tests are about who waits for it
            models: {long: {context_size: 16384, parallel: 1}, alpha: {context_size: 1024}}
        }, {sweepIntervalMs: 200});
    });
    afterAll(async () => {
        await server?.close(1000);
        await removeHome(home);
    });

    it("loads once under 10 concurrent first requests; the second request's load_duration is 0", async () => {
        // max_queue is 1 here, so use the load route for concurrency: it is single-flight too
        const loads = await Promise.all(Array.from({length: 10}, () => server.json<{status: string; load_ms: number}>("/runtime/load/alpha", {})));
        expect(loads.every((l) => l.body.status === "loaded")).toBe(true);
        expect((await status(server, "alpha")).loads).toBe(1);
        await server.json("/runtime/unload/alpha", {});
        const first = await server.json<{load_duration: number}>("/api/generate", {model: "alpha", prompt: "hi", stream: false, options: {temperature: 0, num_predict: 2}});
        const second = await server.json<{load_duration: number}>("/api/generate", {model: "alpha", prompt: "hi", stream: false, options: {temperature: 0, num_predict: 2}});
        expect(first.body.load_duration).toBeGreaterThan(0);
        expect(second.body.load_duration).toBe(0);
        expect((await status(server, "alpha")).loads).toBe(2);
        expect((await status(server, "alpha")).state).toBe("loaded");
    });

    it("a num_ctx above the loaded context is served within it, without a reload", async () => {
        const before = (await status(server, "alpha")).loads;
        const res = await server.api("/api/chat", {method: "POST", json: {model: "alpha", stream: false, messages: [{role: "user", content: "x"}], options: {num_ctx: 32768, num_predict: 2}}});
        expect(res.status).toBe(200);
        expect(res.headers.get("x-zombiecoder-context")).toMatch(/served within 1024 tokens \(requested 32768\)/);
        const after = await status(server, "alpha");
        expect(after.loads).toBe(before);
        expect(after.context_size).toBe(1024);
    });

    it("the queue holds max_queue waiters; past that, 503 with Ollama's message", async () => {
        const a = await startStream(server, {model: "long", prompt: "go", options: LONG});
        expect(a.status).toBe(200);
        const queued = server.json<{eval_count: number}>("/api/generate", {model: "long", prompt: "after", stream: false, options: {temperature: 0, num_predict: 2}});
        await until(async () => (await status(server, "long")).queued === 1, "the second request to queue");
        const full = await server.json("/api/generate", {model: "long", prompt: "third", stream: false, options: {temperature: 0, num_predict: 2}});
        expect(full).toEqual({status: 503, body: {error: "server busy, please try again.  maximum pending requests exceeded"}});
        a.abort();
        expect((await queued).body.eval_count).toBe(2);
    });

    it("a client that disconnects frees its slot: the queued request proceeds at once", async () => {
        // how long a full-context generation takes on this machine, for comparison
        const full = await server.json<{eval_duration: number; eval_count: number}>("/api/generate", {model: "long", prompt: "measure", stream: false, options: {temperature: 0, num_predict: 4000}});
        expect(full.body.eval_count).toBe(4000);
        const a = await startStream(server, {model: "long", prompt: "go on", options: LONG});
        const queued = server.json<{total_duration: number; eval_count: number}>("/api/generate", {model: "long", prompt: "next", stream: false, options: {temperature: 0, num_predict: 2}});
        await until(async () => (await status(server, "long")).queued === 1, "the request to queue");
        a.abort();
        const q = await queued;
        expect(q.status).toBe(200);
        // it waited far less than the aborted request would have run (16k tokens, vs the 4,000 measured above)
        expect(q.body.total_duration).toBeLessThan(full.body.eval_duration);
        await until(async () => (await status(server, "long")).in_flight === 0, "the slot to free");
    });

    it("kill -9 of a runner mid-stream: that request gets an error line, the next one succeeds, the server stays up", async () => {
        const a = await startStream(server, {model: "long", prompt: "crash me", options: LONG});
        const pid = (await status(server, "long")).runner_pid!;
        expect(pid).toBeGreaterThan(0);
        process.kill(pid, "SIGKILL");
        const lines = await a.lines;
        const last = lines.at(-1)!;
        expect(last.error).toMatch(/stopped unexpectedly/);
        expect(lines.some((l) => l.done === true)).toBe(false);
        const health = await (await fetch(server.url + "/health")).json() as {status: string; reasons: string[]};
        expect(health.status).toBe("degraded");
        expect((await status(server, "long")).state).toBe("failed");
        const next = await server.json<{eval_count: number}>("/api/generate", {model: "long", prompt: "again", stream: false, options: {temperature: 0, num_predict: 3}});
        expect(next.status).toBe(200);
        expect(next.body.eval_count).toBe(3);
        const s = await status(server, "long");
        expect(s.state).toBe("loaded");
        expect(s.runner_pid).not.toBe(pid);
        // alpha was never disturbed
        expect((await status(server, "alpha")).state).toBe("loaded");
    });

    it("an explicit unload of a busy model lets the in-flight request finish first", async () => {
        const busy = server.json<{eval_count: number; done_reason: string}>("/api/generate", {model: "long", prompt: "finish me", stream: false, options: {temperature: 0, num_predict: 1500}});
        await until(async () => (await status(server, "long")).in_flight === 1, "the request to start");
        const unload = await server.json<{status: string; was_loaded: boolean}>("/runtime/unload/long", {});
        const done = await busy;
        // the generation ran to its limit, so it generated (and counts) exactly num_predict tokens
        expect(done.body.done_reason).toBe("length");
        expect(done.body.eval_count).toBe(1500);
        expect(unload.body).toEqual({model: "long", status: "unloaded", was_loaded: true});
    });

    it("a truncated GGUF fails with its reason, and the other models keep serving", async () => {
        const r = await server.json<{error: string}>("/api/generate", {model: "cut", prompt: "x", stream: false});
        expect(r.status).toBe(500);
        expect(r.body.error).toMatch(/cannot be loaded: truncated/);
        // a file damaged after the scan fails inside its runner instead
        const victim = path.join(home, "models", "victim", "victim-q8_0.gguf");
        const size = (await fs.stat(victim)).size;
        await fs.truncate(victim, Math.floor(size / 2));
        const v = await server.json<{error: string}>("/api/generate", {model: "victim", prompt: "x", stream: false, options: {temperature: 0, num_predict: 1}});
        expect(v.status).toBe(500);
        expect(v.body.error).toMatch(/failed to load/);
        const s = await status(server, "victim");
        expect(s.state).toBe("failed");
        expect(s.reason).toBeTruthy();
        const ok = await server.json<{eval_count: number}>("/api/generate", {model: "alpha", prompt: "x", stream: false, options: {temperature: 0, num_predict: 2}});
        expect(ok.body.eval_count).toBe(2);
    });
});

describe("idle policy", () => {
    it("keep_loaded false with a 2 s idle timeout unloads the model; keep_loaded true keeps it", async () => {
        const home = await makeHome("zc-idle-");
        await addModel(home, "sleepy/sleepy-q8_0.gguf", {seed: 5});
        await addModel(home, "resident/resident-q8_0.gguf", {seed: 6});
        const server = await startTestServer(home, {idle_unload_seconds: 2, models: {sleepy: {keep_loaded: false}}}, {sweepIntervalMs: 200});
        try {
            await server.json("/api/generate", {model: "resident", prompt: "x", stream: false, options: {temperature: 0, num_predict: 1}});
            await server.json("/api/generate", {model: "sleepy", prompt: "x", stream: false, options: {temperature: 0, num_predict: 1}});
            expect((await status(server, "sleepy")).state).toBe("loaded");
            await until(async () => (await status(server, "sleepy")).state === "unloaded", "the idle unload", 80);
            expect((await status(server, "resident")).state).toBe("loaded");
            // a client's keep_alive lengthens residency
            const kept = await server.json("/api/generate", {model: "sleepy", prompt: "x", stream: false, keep_alive: "1h", options: {temperature: 0, num_predict: 1}});
            expect(kept.status, JSON.stringify(kept.body)).toBe(200);
            await new Promise((r) => setTimeout(r, 2600));
            expect((await status(server, "sleepy")).state).toBe("loaded");
        } finally {
            await server.close(1000);
            await removeHome(home);
        }
    });
});

describe("admission details", () => {
    let home: string;
    let server: TestServer;

    beforeAll(async () => {
        home = await makeHome("zc-admit-");
        await addModel(home, "fresh/fresh-q8_0.gguf", {seed: 8, script: ENDLESS});
        await addModel(home, "ctxm/ctxm-q8_0.gguf", {seed: 9});
        await fs.writeFile(path.join(home, "models", "ctxm", "Modelfile"), "PARAMETER num_ctx 512\n");
        server = await startTestServer(home, {
            idle_unload_seconds: 1,
            models: {fresh: {keep_loaded: false}},
            auth: {enable_api_key: true, api_key: TEST_KEY, api_key_file: null, allow_loopback_without_key: true, cors_origins: []}
        }, {sweepIntervalMs: 100});
    });
    afterAll(async () => {
        await server?.close(1000);
        await removeHome(home);
    });

    it("ten concurrent first /api/generate requests load the model once", async () => {
        const results = await Promise.all(Array.from({length: 10}, (_, i) => server.json<{eval_count: number}>("/api/generate",
            {model: "fresh", prompt: `hello ${i}`, stream: false, keep_alive: "1h", options: {temperature: 0, num_predict: 2}})));
        expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
        expect(results.every((r) => r.body.eval_count === 2)).toBe(true);
        expect((await status(server, "fresh")).loads).toBe(1);
    });

    it("a request that arrives while the model is being unloaded for idleness waits and loads it again", async () => {
        await server.json("/runtime/unload/fresh", {});
        await server.json("/api/generate", {model: "fresh", prompt: "x", stream: false, options: {temperature: 0, num_predict: 1}});
        // idle_unload_seconds is 1: poll until the sweep starts unloading, then ask at once
        await until(async () => ["unloading", "unloaded"].includes((await status(server, "fresh")).state), "the idle unload to start", 60, 50);
        const r = await server.json<{eval_count: number}>("/api/generate", {model: "fresh", prompt: "x", stream: false, options: {temperature: 0, num_predict: 1}});
        expect(r.status, JSON.stringify(r.body)).toBe(200);
    });

    it("a negative keep_alive keeps a keep_loaded:false model forever, and a huge one does not break /api/ps", async () => {
        await server.json("/api/generate", {model: "fresh", prompt: "", keep_alive: -1});
        await new Promise((r) => setTimeout(r, 1500));
        expect((await status(server, "fresh")).state).toBe("loaded");
        await server.json("/api/generate", {model: "fresh", prompt: "", keep_alive: 1e13});
        const ps = await server.json<{models: Array<{name: string; expires_at: string}>}>("/api/ps");
        expect(ps.status).toBe(200);
        expect(new Date(ps.body.models.find((m) => m.name === "fresh")!.expires_at).getUTCFullYear()).toBe(2318);
    });

    it("a Modelfile's num_ctx is the context the model loads with", async () => {
        await server.json("/runtime/load/ctxm", {});
        expect((await status(server, "ctxm")).context_size).toBe(512);
    });

    it("allow_loopback_without_key lets local clients in without a key, but a wrong key is still refused", async () => {
        expect((await fetch(server.url + "/api/tags")).status).toBe(200);
        expect((await fetch(server.url + "/api/tags", {headers: {"x-api-key": "wrong"}})).status).toBe(401);
        // a tunnel (cloudflared, ngrok) connects from loopback too; its forwarding headers take the exemption away
        expect((await fetch(server.url + "/api/tags", {headers: {"x-forwarded-for": "203.0.113.9"}})).status).toBe(401);
        expect((await fetch(server.url + "/api/tags", {headers: {"cf-connecting-ip": "203.0.113.9"}})).status).toBe(401);
    });

    it("names with a literal % answer 404, not 500", async () => {
        expect((await server.api("/runtime/load/foo%25", {method: "POST"})).status).toBe(404);
    });

    it("the index keeps a loaded model's status after a rescan triggered by an unknown name", async () => {
        await server.json("/runtime/load/ctxm", {});
        await new Promise((r) => setTimeout(r, 2100));
        await server.json("/api/generate", {model: "no-such-model-anywhere", prompt: "x"});
        await new Promise((r) => setTimeout(r, 500));
        const index = JSON.parse(await fs.readFile(path.join(home, "registry", "models_index.json"), "utf8")) as {models: Array<{name: string; status: string}>};
        expect(index.models.find((m) => m.name === "ctxm")?.status).toBe("loaded");
    });
});
