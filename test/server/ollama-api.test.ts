import fs from "node:fs/promises";
import path from "node:path";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {getLlama, LlamaChat, LlamaCompletion, type Llama, type LlamaModel} from "node-llama-cpp";
import {addModel, addScriptedModel, ENDLESS, makeHome, removeHome} from "../helpers/home.js";
import {ndjson, startTestServer, type TestServer} from "../helpers/server.js";

let home: string;
let server: TestServer;
let modelPath: string;
let llama: Llama;
let oracleModel: LlamaModel;

const MODEL = "qwen2.5-1.5b-instruct";
/** Scripted never to end by itself: counts reached by a token limit are exact on any CPU. */
const ENDLESS_MODEL = "endless";

beforeAll(async () => {
    home = await makeHome("zc-ollama-");
    const info = await addModel(home, "qwen2.5-1.5b-instruct-gguf/qwen2.5-1.5b-instruct-q8_0.gguf", {quantization: "q8_0"});
    modelPath = info.path;
    await addModel(home, "coder-fim/coder-fim-q8_0.gguf", {fim: true, seed: 7});
    // a Modelfile sets this model's defaults
    await addModel(home, "styled/styled-q8_0.gguf", {seed: 3, script: ENDLESS});
    await addScriptedModel(home, "endless/endless-q8_0.gguf", ENDLESS);
    await fs.writeFile(path.join(home, "models", "styled", "Modelfile"),
        "FROM ./styled-q8_0.gguf\nPARAMETER temperature 0\nPARAMETER num_predict 5\nPARAMETER stop \"<zz>\"\nSYSTEM \"\"\"You are terse.\"\"\"\nTEMPLATE \"{{ .Prompt }}\"\n");
    server = await startTestServer(home, {default_model: MODEL});
    llama = await getLlama({gpu: false, build: "never", maxThreads: 1});
    oracleModel = await llama.loadModel({modelPath});
});

afterAll(async () => {
    await server?.close(1000);
    await llama?.dispose();
    await removeHome(home);
});

const greedy = {temperature: 0, num_predict: 12};

describe("Ollama API", () => {
    it("GET and HEAD / answer like Ollama, without a key", async () => {
        const res = await fetch(server.url + "/");
        expect(res.status).toBe(200);
        expect(await res.text()).toBe("Ollama is running");
        expect((await fetch(server.url + "/", {method: "HEAD"})).status).toBe(200);
        const v = await fetch(server.url + "/api/version");
        const version = ((await v.json()) as {version: string}).version;
        const [maj, min, patch] = version.split(".").map(Number);
        expect(maj! * 10000 + min! * 100 + patch!).toBeGreaterThanOrEqual(604);
    });

    it("/api/tags lists models with Ollama's fields, all six details as strings", async () => {
        const {status, body} = await server.json<{models: Array<Record<string, unknown>>}>("/api/tags");
        expect(status).toBe(200);
        const names = body.models.map((m) => m.name);
        expect(names).toEqual(expect.arrayContaining([MODEL, "coder-fim", "styled"]));
        for (const m of body.models) {
            expect(m.model).toBe(m.name);
            expect(m.digest).toMatch(/^[0-9a-f]{64}$/);
            expect(typeof m.size).toBe("number");
            expect(String(m.modified_at)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$/);
            const d = m.details as Record<string, unknown>;
            for (const k of ["parent_model", "format", "family", "parameter_size", "quantization_level"]) expect(typeof d[k], k).toBe("string");
            expect(d.families).toEqual([d.family]);
            expect(d.format).toBe("gguf");
            expect(typeof m.path).toBe("string");
            expect(["loaded", "unloaded"]).toContain(m.status);
        }
        const times = body.models.map((m) => Date.parse(String(m.modified_at)));
        expect([...times].sort((a, b) => b - a)).toEqual(times);
    });

    it("/api/show accepts model or name and reports details, model_info, parameters, template and capabilities", async () => {
        const byModel = await server.json<Record<string, unknown>>("/api/show", {model: MODEL});
        const byName = await server.json<Record<string, unknown>>("/api/show", {name: MODEL});
        expect(byModel.status).toBe(200);
        expect(byName.body.details).toEqual(byModel.body.details);
        const info = byModel.body.model_info as Record<string, unknown>;
        expect(info["general.architecture"]).toBe("llama");
        expect(info["llama.context_length"]).toBeGreaterThan(0);
        expect(byModel.body.capabilities).toEqual(["completion"]);
        expect(String(byModel.body.parameters)).toMatch(/^num_ctx {24}\d+/m);
        const fim = await server.json<Record<string, unknown>>("/api/show", {model: "coder-fim"});
        expect(fim.body.capabilities).toContain("insert");
        expect(String(fim.body.template)).toContain(".Suffix");
        expect((await server.json("/api/show", {})).body).toEqual({error: "model is required"});
    });

    it("Modelfile PARAMETER and SYSTEM take effect, a request's options override them, and /api/show reports them", async () => {
        const show = await server.json<Record<string, string>>("/api/show", {model: "styled"});
        expect(show.body.system).toBe("You are terse.");
        expect(show.body.parameters).toMatch(/^temperature {20}0$/m);
        expect(show.body.parameters).toMatch(/^stop {27}"<zz>"$/m);
        expect(show.body.modelfile).toContain("PARAMETER num_predict 5");
        // PARAMETER num_predict 5 applies, and SYSTEM is part of the prompt
        const a = await server.json<Record<string, number>>("/api/generate", {model: "styled", prompt: "hi", stream: false});
        expect(a.body.eval_count).toBe(5);
        const sys = await server.json<Record<string, number>>("/api/generate", {model: "styled", prompt: "hi", stream: false, system: "A much longer and different system prompt than the default."});
        expect(sys.body.prompt_eval_count).not.toBe(a.body.prompt_eval_count);
        const b = await server.json<Record<string, number>>("/api/generate", {model: "styled", prompt: "hi", stream: false, options: {temperature: 0, num_predict: 3}});
        expect(b.body.eval_count).toBe(3);
    });

    it("streams /api/generate as NDJSON with Ollama's chunk fields and consistent final metrics", async () => {
        const res = await server.api("/api/generate", {method: "POST", json: {model: ENDLESS_MODEL, prompt: "Why is the sky blue?", options: greedy}});
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toContain("application/x-ndjson");
        const lines = await ndjson(res);
        const final = lines.at(-1)!;
        for (const l of lines.slice(0, -1)) {
            expect(Object.keys(l).sort()).toEqual(["created_at", "done", "model", "response"]);
            expect(l.model).toBe(ENDLESS_MODEL);
            expect(l.done).toBe(false);
        }
        expect(final.done).toBe(true);
        expect(final.response).toBe("");
        expect(final.done_reason).toBe("length");
        for (const k of ["total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count", "eval_duration"])
            expect(Number.isInteger(final[k]), k).toBe(true);
        expect(final.eval_count).toBe(12);
        expect(final.prompt_eval_count).toBeGreaterThan(0);
        expect(final.eval_duration).toBeGreaterThan(0);
        expect(final.total_duration as number).toBeGreaterThanOrEqual(final.load_duration as number);
        // each streamed chunk carries at least one token; together they carry eval_count tokens
        expect(lines.length - 1).toBeGreaterThan(0);
        expect(lines.length - 1).toBeLessThanOrEqual(final.eval_count as number);
    });

    it("oracle: /api/chat and /api/generate text equals node-llama-cpp's own greedy output", async () => {
        const ctx = await oracleModel.createContext({contextSize: 2048, sequences: 1, flashAttention: false});
        try {
            const seq = ctx.getSequence();
            const chat = new LlamaChat({contextSequence: seq, autoDisposeSequence: false});
            const meter = seq.tokenMeter.getState();
            const expected = await chat.generateResponse([{type: "user", text: "Write a haiku about rust."}], {maxTokens: 16, temperature: 0});
            // what the engine generated, whether or not this CPU's greedy text ended early
            const generated = seq.tokenMeter.diff(meter).usedOutputTokens;
            const viaChat = await server.json<{message: {content: string}; eval_count: number}>("/api/chat", {
                model: MODEL, stream: false, messages: [{role: "user", content: "Write a haiku about rust."}], options: {temperature: 0, num_predict: 16}
            });
            expect(viaChat.body.message.content).toBe(expected.response);
            expect(viaChat.body.eval_count).toBe(generated);
            const viaGenerate = await server.json<{response: string}>("/api/generate", {
                model: MODEL, stream: false, prompt: "Write a haiku about rust.", options: {temperature: 0, num_predict: 16}
            });
            expect(viaGenerate.body.response).toBe(expected.response);
            // raw mode is plain completion
            seq.clearHistory();
            const completion = new LlamaCompletion({contextSequence: seq});
            const rawExpected = await completion.generateCompletion("The capital of France is", {maxTokens: 10, temperature: 0});
            const raw = await server.json<{response: string}>("/api/generate", {model: MODEL, stream: false, raw: true, prompt: "The capital of France is", options: {temperature: 0, num_predict: 10}});
            expect(raw.body.response).toBe(rawExpected);
            // streamed text concatenates to the same answer
            const res = await server.api("/api/chat", {method: "POST", json: {model: MODEL, messages: [{role: "user", content: "Write a haiku about rust."}], options: {temperature: 0, num_predict: 16}}});
            const lines = await ndjson(res);
            expect(lines.slice(0, -1).map((l) => (l.message as {content: string}).content).join("")).toBe(expected.response);
            for (const l of lines) {
                expect(typeof l.model).toBe("string");
                expect(typeof l.created_at).toBe("string");
                expect((l.message as {role: string}).role).toBe("assistant");
                expect(typeof l.done).toBe("boolean");
            }
        } finally {
            await ctx.dispose();
        }
    });

    it("a second chat turn evaluates only the new tokens (prefix reuse)", async () => {
        // long enough that the whole first prompt outweighs any new tail (the answer fed back is at most 12 tokens of text)
        const first = [{role: "user", content: "Tell me about the ocean and its many creatures in some detail. ".repeat(5).trim()}];
        const a = await server.json<{message: {content: string}; prompt_eval_count: number}>("/api/chat", {model: MODEL, stream: false, messages: first, options: greedy});
        const second = [...first, {role: "assistant", content: a.body.message.content}, {role: "user", content: "And the sky?"}];
        const b = await server.json<{prompt_eval_count: number}>("/api/chat", {model: MODEL, stream: false, messages: second, options: greedy});
        const status = await server.json<{models: Array<{name: string}>}>("/runtime/status");
        expect(status.status).toBe(200);
        // the full second prompt is longer than the first, yet only its new tail was evaluated
        expect(b.body.prompt_eval_count).toBeLessThan(a.body.prompt_eval_count);
        expect(b.body.prompt_eval_count).toBeGreaterThan(0);
    });

    it("uses default_model when /api/generate names none", async () => {
        const r = await server.json<{model: string; response: string}>("/api/generate", {prompt: "hi", stream: false, options: {temperature: 0, num_predict: 2}});
        expect(r.status).toBe(200);
        expect(r.body.response.length).toBeGreaterThan(0);
    });

    it("accepts the seed's top-level max_tokens", async () => {
        const r = await server.json<{eval_count: number; done_reason: string}>("/api/chat", {model: ENDLESS_MODEL, stream: false, max_tokens: 4, options: {temperature: 0}, messages: [{role: "user", content: "hi"}]});
        expect(r.body.eval_count).toBe(4);
        expect(r.body.done_reason).toBe("length");
    });

    it("fill-in-the-middle through suffix on a FIM model; a clear 400 on one without FIM tokens", async () => {
        const r = await server.json<{response: string; done: boolean}>("/api/generate", {model: "coder-fim", prompt: "def add(a, b):\n    ", suffix: "\n    return c\n", stream: false, options: {temperature: 0, num_predict: 6}});
        expect(r.status).toBe(200);
        expect(r.body.done).toBe(true);
        const bad = await server.json<{error: string}>("/api/generate", {model: MODEL, prompt: "x", suffix: "y", stream: false});
        expect(bad.status).toBe(400);
        expect(bad.body.error).toMatch(/does not support insert/);
    });

    it("unknown models get Ollama's exact 404; hostile names touch nothing", async () => {
        const r = await server.json("/api/chat", {model: "no-such-model", messages: [{role: "user", content: "x"}]});
        expect(r.status).toBe(404);
        // Ollama's exact text first (Continue parses it), then the installed models so the user can pick one
        const error = (r.body as {error: string}).error;
        expect(error).toMatch(/^model 'no-such-model' not found; /);
        expect(error).toContain(MODEL);
        for (const hostile of ["../../etc/passwd", "..\\..\\Windows\\win.ini", "C:\\Windows\\System32"]) {
            const h = await server.json<{error: string}>("/api/generate", {model: hostile, prompt: "x"});
            expect(h.status).toBe(404);
            expect(h.body.error.startsWith(`model '${hostile}' not found`)).toBe(true);
        }
        const chatNoModel = await server.json("/api/chat", {messages: []});
        expect(chatNoModel).toEqual({status: 400, body: {error: "model is required"}});
    });

    it("a model copied in after start is found by the rescan before a 404", async () => {
        await addModel(home, "late-arrival/late-arrival-q8_0.gguf", {seed: 11});
        const r = await server.json<{response: string}>("/api/generate", {model: "late-arrival", prompt: "hi", stream: false, options: {temperature: 0, num_predict: 2}});
        expect(r.status).toBe(200);
    });

    it("bad input gets a clear error and the server keeps serving", async () => {
        const malformed = await server.api("/api/chat", {method: "POST", body: "{\"model\": \"x\",", headers: {"content-type": "application/json"}});
        expect(malformed.status).toBe(400);
        expect(((await malformed.json()) as {error: string}).error).toMatch(/invalid JSON/);
        expect((await server.json("/api/chat", {model: 42, messages: []})).status).toBe(400);
        expect((await server.json("/api/chat", {model: MODEL, messages: "hello"})).status).toBe(400);
        expect((await server.json("/api/chat", {model: MODEL, messages: [{role: "wizard", content: "x"}]})).status).toBe(400);
        expect((await server.json("/api/generate", {model: MODEL, prompt: 5})).status).toBe(400);
        expect((await server.json("/api/generate", {model: MODEL, prompt: "x", options: {temperature: "hot"}})).status).toBe(400);
        expect((await server.json("/api/generate", {model: MODEL, prompt: "x", stream: "yes"})).status).toBe(400);
        const images = await server.json<{error: string}>("/api/generate", {model: MODEL, prompt: "what is this?", images: ["aGVsbG8="]});
        expect(images.status).toBe(400);
        expect(images.body.error).toMatch(/images are not supported/);
        const chatImages = await server.json("/api/chat", {model: MODEL, messages: [{role: "user", content: "x", images: ["aGVsbG8="]}]});
        expect(chatImages.status).toBe(400);
        // unknown options are ignored
        const unknown = await server.json<{eval_count: number}>("/api/generate", {model: ENDLESS_MODEL, prompt: "x", stream: false, options: {num_predict: 2, mirostat: 2, banana: true}});
        expect(unknown.status).toBe(200);
        expect(unknown.body.eval_count).toBe(2);
        // a huge num_predict is bounded by the context
        const huge = await server.json<{eval_count: number; done_reason: string; prompt_eval_count: number}>("/api/generate", {model: ENDLESS_MODEL, prompt: "x", stream: false, options: {num_predict: 1e9, temperature: 0}});
        expect(huge.status).toBe(200);
        expect(huge.body.done_reason).toBe("length");
        expect(huge.body.eval_count).toBeLessThanOrEqual(2048);
        // a 5 MB prompt is refused with a clear message, not a crash
        const big = await server.json<{error: string}>("/api/generate", {model: MODEL, prompt: "word ".repeat(1024 * 1024), stream: false, options: {temperature: 0, num_predict: 1}});
        expect(big.status).toBe(400);
        expect(big.body.error).toMatch(/exceeds the context length/);
        // and the server still serves
        const ok = await server.json<{eval_count: number}>("/api/generate", {model: ENDLESS_MODEL, prompt: "still there?", stream: false, options: {temperature: 0, num_predict: 2}});
        expect(ok.body.eval_count).toBe(2);
        expect((await server.api("/no/such/route")).status).toBe(404);
    }, 120_000);

    it("keep_alive: durations parse as Ollama's, an empty prompt loads, keep_alive 0 with an empty prompt unloads", async () => {
        expect((await server.json<{error: string}>("/api/generate", {model: MODEL, prompt: "", keep_alive: "300"})).body.error).toBe("time: missing unit in duration \"300\"");
        expect((await server.json("/api/generate", {model: MODEL, prompt: "", keep_alive: "soon"})).status).toBe(400);
        const load = await server.json<{done_reason: string; done: boolean; response: string}>("/api/generate", {model: MODEL, prompt: "", keep_alive: "5m"});
        expect(load.body).toMatchObject({done: true, done_reason: "load", response: ""});
        const ps = await server.json<{models: Array<{name: string; expires_at: string; size: number; size_vram: number; context_length: number}>}>("/api/ps");
        const entry = ps.body.models.find((m) => m.name === MODEL)!;
        expect(entry.context_length).toBeGreaterThan(0);
        expect(entry.size).toBeGreaterThan(0);
        expect(entry.size_vram).toBe(0);
        expect(new Date(entry.expires_at).getUTCFullYear()).toBe(2318);
        // a non-empty prompt with keep_alive 0 never shortens the configured policy
        await server.json("/api/generate", {model: MODEL, prompt: "x", keep_alive: 0, stream: false, options: {temperature: 0, num_predict: 1}});
        expect((await server.json<{models: Array<{name: string}>}>("/api/ps")).body.models.map((m) => m.name)).toContain(MODEL);
        const chatUnload = await server.json<{done_reason: string; message: {content: string}}>("/api/chat", {model: MODEL, messages: [], keep_alive: 0});
        expect(chatUnload.body.done_reason).toBe("unload");
        expect((await server.json<{models: Array<{name: string}>}>("/api/ps")).body.models.map((m) => m.name)).not.toContain(MODEL);
        const chatLoad = await server.json<{done_reason: string}>("/api/chat", {model: MODEL, messages: []});
        expect(chatLoad.body.done_reason).toBe("load");
    });

    it("the runtime routes load, unload, list and report", async () => {
        const load = await server.json<{status: string; load_ms: number}>(`/runtime/load/${MODEL}`, {});
        expect(load.body.status).toBe("loaded");
        const installed = await server.json<{models: Array<{name: string; status: string; keep_loaded: boolean; pinned: boolean; path: string}>}>("/models/installed");
        const mine = installed.body.models.find((m) => m.name === MODEL)!;
        expect(mine).toMatchObject({status: "loaded", keep_loaded: true, pinned: false});
        const status = await server.json<{models: Array<{name: string; state: string; runner_pid: number | null; measured_rss_bytes: number}>; memory: {threshold_bytes: number}}>("/runtime/status");
        const st = status.body.models.find((m) => m.name === MODEL)!;
        expect(st.state).toBe("loaded");
        expect(st.runner_pid).toBeGreaterThan(0);
        expect(st.measured_rss_bytes).toBeGreaterThan(0);
        expect(status.body.memory.threshold_bytes).toBe(14000 * 1024 * 1024);
        const unload = await server.json<{status: string; was_loaded: boolean}>(`/runtime/unload/${MODEL}`, {});
        expect(unload.body).toMatchObject({status: "unloaded", was_loaded: true});
        expect((await server.json("/runtime/load/nope", {})).status).toBe(404);
        const rescan = await server.json<{models: number}>("/runtime/rescan", {});
        expect(rescan.body.models).toBeGreaterThan(2);
        // the index file keeps statuses current
        await server.json(`/runtime/load/${MODEL}`, {});
        await new Promise((r) => setTimeout(r, 400));
        const index = JSON.parse(await fs.readFile(path.join(home, "registry", "models_index.json"), "utf8")) as {models: Array<{name: string; status: string}>};
        expect(index.models.find((m) => m.name === MODEL)?.status).toBe("loaded");
    });
});

describe("auth and CORS", () => {
    it("requires the key on every route but / and /api/version, in either header", async () => {
        expect((await fetch(server.url + "/api/tags")).status).toBe(401);
        const missing = await fetch(server.url + "/api/tags");
        expect(((await missing.json()) as {error: string}).error).toMatch(/missing API key/);
        const wrong = await fetch(server.url + "/api/tags", {headers: {"x-api-key": "nope"}});
        expect(wrong.status).toBe(401);
        expect(((await wrong.json()) as {error: string}).error).toMatch(/invalid API key/);
        expect((await fetch(server.url + "/api/tags", {headers: {authorization: "Bearer nope"}})).status).toBe(401);
        expect((await fetch(server.url + "/api/tags", {headers: {"x-api-key": server.key}})).status).toBe(200);
        expect((await fetch(server.url + "/api/tags", {headers: {authorization: `Bearer ${server.key}`}})).status).toBe(200);
        expect((await fetch(server.url + "/api/chat", {method: "POST", body: "{}"})).status).toBe(401);
        expect((await fetch(server.url + "/runtime/status")).status).toBe(401);
        expect((await fetch(server.url + "/api/version")).status).toBe(200);
        expect((await fetch(server.url + "/health")).status).toBe(200);
    });

    it("answers preflights without a key and refuses a disallowed origin", async () => {
        const pre = await fetch(server.url + "/api/chat", {method: "OPTIONS", headers: {origin: "vscode-webview://abc", "access-control-request-method": "POST"}});
        expect(pre.status).toBe(204);
        expect(pre.headers.get("access-control-allow-origin")).toBe("vscode-webview://abc");
        expect(pre.headers.get("access-control-allow-headers")).toMatch(/Authorization/);
        const local = await fetch(server.url + "/api/tags", {headers: {origin: "http://localhost:3000", "x-api-key": server.key}});
        expect(local.status).toBe(200);
        expect(local.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
        const evil = await fetch(server.url + "/api/tags", {headers: {origin: "https://evil.example", "x-api-key": server.key}});
        expect(evil.status).toBe(403);
        const evilPre = await fetch(server.url + "/api/chat", {method: "OPTIONS", headers: {origin: "https://evil.example"}});
        expect(evilPre.status).toBe(403);
    });
});
