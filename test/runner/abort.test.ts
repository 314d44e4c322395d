/**
 * An aborted request stops its generation. Witnesses: the runner's own sequence state (which request holds each
 * sequence, how many tokens its cache holds) when the test drives a RunnerProcess, and the runner's CPU time when the
 * request goes through the real server (Linux: /proc). The model is the tiny test model with a 16,384-token context,
 * where an unstopped generation would run for many seconds.
 */
import fs from "node:fs";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {RunnerProcess} from "../../src/runtime/runner-process.js";
import {ProviderError} from "../../src/runtime/errors.js";
import type {GenerateRequest, LoadedInfo, RunnerStatus} from "../../src/runtime/protocol.js";
import {addModel, makeHome, removeHome} from "../helpers/home.js";
import {startTestServer, type TestServer} from "../helpers/server.js";
import {greedy, modelDir, spec, writeModel} from "./helpers.js";

const CONTEXT = 16384;
const ENDLESS = 100_000;

async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean, what: string, timeoutMs = 10_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
        const v = await probe();
        if (ok(v)) return v;
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
        await new Promise((r) => setTimeout(r, 20));
    }
}

const busy = (s: RunnerStatus) => s.sequences.some((q) => q.job != null);
const free = (s: RunnerStatus) => s.sequences.every((q) => q.job == null);

describe("aborting a RunnerProcess generation frees its sequence", () => {
    let remove: () => Promise<void>;
    let runner: RunnerProcess;
    let loaded: LoadedInfo;

    beforeAll(async () => {
        const dir = await modelDir("zc-runner-abort-");
        remove = dir.remove;
        const model = await writeModel(dir.dir, "tiny", {fim: true, contextLength: CONTEXT});
        runner = new RunnerProcess("tiny");
        loaded = await runner.load(spec(model.path, {contextSize: CONTEXT}));
    });

    it("says where its start went: the process's start, then each load step, within the load's own time", () => {
        const {start, ...steps} = loaded.phases;
        expect(start).toBeGreaterThan(0);
        for (const ms of Object.values(steps)) expect(ms).toBeGreaterThanOrEqual(0);
        expect(Object.values(steps).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(Math.ceil(loaded.loadMs) + Object.keys(steps).length);
    });

    afterAll(async () => {
        await runner?.stop();
        await remove?.();
    });

    const requests: Record<string, GenerateRequest> = {
        completion: {mode: "completion", prompt: "Once upon a time", options: greedy({num_predict: ENDLESS})},
        chat: {mode: "chat", messages: [{role: "user", content: "Tell me everything."}], options: greedy({num_predict: ENDLESS})},
        infill: {mode: "infill", prompt: "def f(x):\n    ", suffix: "\n    return y\n", options: greedy({num_predict: ENDLESS})}
    };

    for (const [mode, request] of Object.entries(requests)) {
        it(`${mode}: stops within moments of the abort, after the tokens in progress`, async () => {
            const ac = new AbortController();
            let texts = 0;
            const done = runner.generate(request, (e) => {
                if (e.type === "text") texts++;
            }, ac.signal);
            await until(() => runner.status(), busy, "the generation to start");
            await until(async () => texts, (n) => n >= 3, "streamed text");
            ac.abort();
            // a generation stopped by its client resolves with what it had (node-llama-cpp's stopOnAbortSignal)
            // or rejects as cancelled when nothing was generated yet; either way it ends
            const outcome = await done.then((stats) => stats.eval_count, (err: unknown) => err);
            if (typeof outcome === "number") expect(outcome).toBeLessThan(ENDLESS);
            else expect((outcome as ProviderError).kind).toBe("cancelled");
            const after = await until(() => runner.status(), free, "the sequence to be free", 2000);
            const tokens = after.sequences[0]!.contextTokens;
            // nothing more is evaluated once the sequence is free
            await new Promise((r) => setTimeout(r, 300));
            expect((await runner.status()).sequences[0]!.contextTokens).toBe(tokens);
        });
    }

    it("a long prompt stops being evaluated part-way: the cache holds fewer tokens than the prompt", async () => {
        const prompt = "lorem ipsum dolor sit amet ".repeat(550);
        const promptTokens = await runner.countTokens(prompt);
        expect(promptTokens).toBeGreaterThan(8 * 512);
        expect(promptTokens).toBeLessThan(CONTEXT);
        const ac = new AbortController();
        const done = runner.generate({mode: "completion", prompt, options: greedy({num_predict: 4})}, () => undefined, ac.signal);
        await until(() => runner.status(), (s) => busy(s) && s.sequences[0]!.contextTokens > 0, "prompt processing to start");
        ac.abort();
        await expect(done).rejects.toMatchObject({kind: "cancelled"});
        const after = await runner.status();
        expect(free(after)).toBe(true);
        expect(after.sequences[0]!.contextTokens).toBeLessThan(promptTokens - 1);
    });

    it("a request aborted before it reached the runner is cancelled and leaves its sequence free", async () => {
        const ac = new AbortController();
        ac.abort();
        await expect(runner.generate(requests.chat!, () => undefined, ac.signal)).rejects.toMatchObject({kind: "cancelled"});
        expect(free(await runner.status())).toBe(true);
    });
});

/** CPU time (user + system) of a process in ms, from /proc. */
function cpuMs(pid: number): number {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 1000 / 100;
}

/** CPU the runner burns over `ms` of wall time. */
async function cpuOver(pid: number, ms: number): Promise<number> {
    const c0 = cpuMs(pid);
    await new Promise((r) => setTimeout(r, ms));
    return cpuMs(pid) - c0;
}

describe.skipIf(process.platform !== "linux")("every route's abort reaches the runner (runner CPU time as the witness)", () => {
    let home: string;
    let server: TestServer;
    let pid: number;

    beforeAll(async () => {
        home = await makeHome("zc-abort-routes-");
        await addModel(home, "tiny/tiny-q8_0.gguf", {fim: true, contextLength: CONTEXT});
        server = await startTestServer(home, {context_size: CONTEXT});
        const warm = await server.json("/api/generate", {model: "tiny", prompt: "x", stream: false, options: {num_predict: 1}});
        expect(warm.status).toBe(200);
        const st = await server.json<{models: Array<{name: string; runner_pid: number | null}>}>("/runtime/status");
        pid = st.body.models.find((m) => m.name.startsWith("tiny"))!.runner_pid!;
        expect(pid).toBeGreaterThan(0);
    });

    afterAll(async () => {
        await server?.close(1000);
        await removeHome(home);
    });

    const messages = [{role: "user", content: "Tell me everything."}];
    const routes: Array<[string, Record<string, unknown>]> = [
        ["/api/generate", {model: "tiny", prompt: "Once upon a time", options: {temperature: 0, num_predict: ENDLESS}}],
        ["/api/generate", {model: "tiny", prompt: "def f(x):\n    ", suffix: "\n    return y\n", options: {temperature: 0, num_predict: ENDLESS}}],
        ["/api/chat", {model: "tiny", messages, options: {temperature: 0, num_predict: ENDLESS}}],
        ["/v1/completions", {model: "tiny", prompt: "Once upon a time", max_tokens: ENDLESS, temperature: 0}],
        ["/v1/completions", {model: "tiny", prompt: "def f(x):\n    ", suffix: "\n    return y\n", max_tokens: ENDLESS, temperature: 0}],
        ["/v1/chat/completions", {model: "tiny", messages, max_tokens: ENDLESS, temperature: 0}],
        ["/v1/messages", {model: "tiny", messages, max_tokens: ENDLESS, temperature: 0}],
        ["/infill", {model: "tiny", input_prefix: "def f(x):\n    ", input_suffix: "\n    return y\n", n_predict: ENDLESS, temperature: 0}]
    ];

    for (const [route, body] of routes)
        for (const stream of [false, true]) {
            const what = `${route}${body.suffix != null ? " (suffix)" : ""}, ${stream ? "streamed" : "not streamed"}`;
            it(`${what}: the runner goes idle once the client leaves`, async () => {
                const ac = new AbortController();
                const res = server.api(route, {method: "POST", json: {...body, stream}, signal: ac.signal})
                    .then(async (r) => {
                        await r.text();
                        return r.status;
                    })
                    .catch((err: Error) => err.name);
                // generating: the runner burns CPU (at least a fifth of a core, even on a loaded machine)
                await until(() => cpuOver(pid, 300), (ms) => ms >= 60, "the runner to generate");
                ac.abort();
                expect(await res).toBe("AbortError");
                // stopped: the runner is idle apart from its timers
                await until(() => cpuOver(pid, 500), (ms) => ms <= 30, "the runner to go idle", 5000);
            });
        }
});
