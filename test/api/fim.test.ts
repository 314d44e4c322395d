import OpenAI from "openai";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {addModel, ENDLESS, makeHome, removeHome, TEST_KEY} from "../helpers/home.js";
import {sse, startTestServer, type TestServer} from "../helpers/server.js";

let home: string;
let server: TestServer;

beforeAll(async () => {
    home = await makeHome("zc-fim-");
    // the default FIM model is scripted never to end by itself: counts reached by n_predict are exact on any CPU;
    // coder2 keeps random weights, so comparing the routes' middles compares the prompts they build
    await addModel(home, "coder/coder-q8_0.gguf", {fim: true, seed: 51, script: ENDLESS});
    await addModel(home, "coder2/coder2-q8_0.gguf", {fim: true, seed: 52});
    await addModel(home, "plain/plain-q8_0.gguf", {seed: 53});
    // two models can infill: llama.vscode sends no model, so the default model decides
    server = await startTestServer(home, {default_model: "coder"});
});

afterAll(async () => {
    await server?.close(1000);
    await removeHome(home);
});

const PREFIX = "def fib(n):\n    if n < 2:\n        return n\n    ";
const SUFFIX = "\n\nprint(fib(10))\n";

/** llama.vscode's /infill body (src/llama-server.ts createRequestPayload) and its Bearer header. */
function vscodeInfill(overrides: Record<string, unknown> = {}) {
    return {
        input_prefix: PREFIX,
        input_suffix: SUFFIX,
        input_extra: [{text: "import math\n", time: 1732640000000, filename: "util.py"}],
        prompt: "return ",
        n_predict: 8,
        top_k: 40,
        top_p: 0.99,
        stream: false,
        samplers: ["top_k", "top_p", "infill"],
        cache_prompt: true,
        t_max_prompt_ms: 500,
        t_max_predict_ms: 1000,
        ...overrides
    };
}

async function infill(body: unknown): Promise<{status: number; body: Record<string, unknown>}> {
    const res = await fetch(server.url + "/infill", {method: "POST", headers: {"Content-Type": "application/json", Authorization: `Bearer ${TEST_KEY}`}, body: JSON.stringify(body)});
    return {status: res.status, body: await res.json() as Record<string, unknown>};
}

describe("fill-in-the-middle", () => {
    it("/api/show reports insert and a template with .Suffix (Continue's check) for a model with FIM tokens only", async () => {
        const coder = await server.json<{capabilities: string[]; template: string}>("/api/show", {name: "coder"});
        expect(coder.body.capabilities).toContain("insert");
        expect(coder.body.template).toContain(".Suffix");
        const plain = await server.json<{capabilities: string[]; template: string}>("/api/show", {name: "plain"});
        expect(plain.body.capabilities).not.toContain("insert");
    });

    it("llama.vscode's /infill request: llama-server's answer fields, n_predict honoured", async () => {
        const {status, body} = await infill(vscodeInfill({temperature: 0}));
        expect(status).toBe(200);
        expect(typeof body.content).toBe("string");
        expect(body.stop).toBe(true);
        expect(body.tokens_predicted).toBe(8);
        expect(body.tokens_evaluated).toBeGreaterThan(10);
        expect(body.stop_type).toBe("limit");
        expect(body.model).toBe("coder");
        const t = body.timings as Record<string, number>;
        for (const k of ["prompt_n", "prompt_ms", "predicted_n", "predicted_ms", "predicted_per_second"]) expect(typeof t[k], k).toBe("number");
        expect(t.predicted_n).toBe(8);
        expect(typeof body.tokens_cached).toBe("number");
        expect(body.truncated).toBe(false);
    });

    it("the warm-up request (n_predict 0, empty prefix and suffix) predicts nothing", async () => {
        const {status, body} = await infill(vscodeInfill({input_prefix: "", input_suffix: "", prompt: "", n_predict: 0, samplers: [], t_max_predict_ms: 1}));
        expect(status).toBe(200);
        expect(body.content).toBe("");
        expect(body.tokens_predicted).toBe(0);
    });

    it("the same FIM prompt gives the same middle on /infill, /api/generate suffix and /v1/completions suffix", async () => {
        const viaInfill = await infill({model: "coder2", input_prefix: PREFIX, input_suffix: SUFFIX, n_predict: 6, temperature: 0});
        const viaOllama = await server.json<{response: string}>("/api/generate", {model: "coder2", prompt: PREFIX, suffix: SUFFIX, stream: false, options: {temperature: 0, num_predict: 6}});
        const openai = new OpenAI({baseURL: server.url + "/v1", apiKey: TEST_KEY, maxRetries: 0});
        const viaOpenAI = await openai.completions.create({model: "coder2", prompt: PREFIX, suffix: SUFFIX, max_tokens: 6, temperature: 0});
        expect(viaInfill.body.content).toBe(viaOllama.body.response);
        expect(viaOpenAI.choices[0]!.text).toBe(viaOllama.body.response);
        // input_extra reaches the prompt, ahead of the prefix
        const withExtra = await infill({model: "coder2", input_prefix: PREFIX, input_suffix: SUFFIX, n_predict: 6, temperature: 0, input_extra: [{filename: "a.py", text: "x = 1\n"}]});
        expect(withExtra.body.tokens_evaluated as number).toBeGreaterThan(viaInfill.body.tokens_evaluated as number);
    });

    it("streams llama-server's SSE chunks, ending with stop: true", async () => {
        const whole = await infill({input_prefix: PREFIX, input_suffix: SUFFIX, n_predict: 6, temperature: 0});
        const res = await server.api("/infill", {method: "POST", json: {input_prefix: PREFIX, input_suffix: SUFFIX, n_predict: 6, temperature: 0, stream: true}});
        const events = (await sse(res)).map((e) => JSON.parse(e.data) as {content: string; stop: boolean});
        expect(events.at(-1)!.stop).toBe(true);
        expect(events.slice(0, -1).every((e) => !e.stop)).toBe(true);
        expect(events.map((e) => e.content).join("")).toBe(whole.body.content);
    });

    it("fits oversized input into the context instead of failing, and says it truncated", async () => {
        const extra = Array.from({length: 100}, (_, i) => ({filename: `f${i}.py`, text: `def f${i}():\n    return ${i}\n`.repeat(20)}));
        const {status, body} = await infill({input_prefix: "x = 1\n".repeat(5000), input_suffix: "y = 2\n".repeat(5000), input_extra: extra, n_predict: 4});
        expect(status).toBe(200);
        expect(body.truncated).toBe(true);
        expect(body.tokens_predicted).toBe(4);
    });

    it("a model without FIM tokens gets a clear 400; so does a request without a model when several models infill and none is default", async () => {
        const plain = await infill({model: "plain", input_prefix: "a", input_suffix: "b", n_predict: 4});
        expect(plain.status).toBe(400);
        expect(String(plain.body.error)).toMatch(/does not support insert/);
        const other = await startTestServer(home);
        try {
            const res = await fetch(other.url + "/infill", {method: "POST", headers: {"Content-Type": "application/json", Authorization: `Bearer ${TEST_KEY}`},
                body: JSON.stringify({input_prefix: "a", input_suffix: "b", n_predict: 4})});
            expect(res.status).toBe(400);
            expect(((await res.json()) as {error: string}).error).toMatch(/several models support fill-in-the-middle \(coder, coder2\)|several models support fill-in-the-middle \(coder2, coder\)/);
        } finally {
            await other.close(500);
        }
    });
});
