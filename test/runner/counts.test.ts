/**
 * eval_count is the number of tokens the model generated, in every mode; the oracle is node-llama-cpp's own token
 * meter (or its own output) in this process, on the same model file, so the tests hold on any CPU.
 */
import {getLlama, LlamaChat, LlamaCompletion, type Llama, type LlamaModel} from "node-llama-cpp";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {Engine} from "../../src/runner/engine.js";
import {greedy, modelDir, run, spec, writeModel} from "./helpers.js";

const PROMPT = "The quick brown fox";
const N = 24;
/** A byte the test models never generate (non-printable tokens are suppressed): a stop string ending in it never completes. */
const NEVER = "\u0001";

let remove: () => Promise<void>;
let engine: Engine;
let llama: Llama;
let oracle: LlamaModel;

beforeAll(async () => {
    const dir = await modelDir("zc-runner-counts-");
    remove = dir.remove;
    const model = await writeModel(dir.dir, "fim", {fim: true, tools: true, seed: 5});
    engine = new Engine();
    await engine.load(spec(model.path));
    llama = await getLlama({gpu: false, build: "never", maxThreads: 1});
    oracle = await llama.loadModel({modelPath: model.path});
});

afterAll(async () => {
    await engine?.dispose();
    await llama?.dispose();
    await remove?.();
});

/** Runs `fn` on a fresh one-sequence context of the oracle model and returns its result and the tokens it generated. */
async function withOracle<T>(fn: (seq: ReturnType<Awaited<ReturnType<LlamaModel["createContext"]>>["getSequence"]>) => Promise<T>): Promise<{result: T; generated: number}> {
    // the runner turns flash attention off on a CPU; the oracle must compute the same way to give the same tokens
    const ctx = await oracle.createContext({contextSize: 2048, sequences: 1, threads: {ideal: 1, min: 1}, flashAttention: false});
    try {
        const seq = ctx.getSequence();
        const before = seq.tokenMeter.getState();
        const result = await fn(seq);
        return {result, generated: seq.tokenMeter.diff(before).usedOutputTokens};
    } finally {
        await ctx.dispose();
    }
}

describe("eval_count counts generated tokens, not released ones", () => {
    it("completion: the tokens a stop string holds back when the limit ends the run are still counted", async () => {
        const {result: text} = await withOracle((seq) => new LlamaCompletion({contextSequence: seq}).generateCompletion(PROMPT, {maxTokens: N, temperature: 0}));
        // a stop string that begins with the output's last characters and never completes: those tokens stay held
        const stop = text.slice(-2) + NEVER;
        const {generated} = await withOracle((seq) => new LlamaCompletion({contextSequence: seq}).generateCompletion(PROMPT, {maxTokens: N, temperature: 0, customStopTriggers: [stop]}));
        const r = await run(engine, {mode: "completion", prompt: PROMPT, options: greedy({num_predict: N, stop: [stop]})});
        expect(r.stats.done_reason).toBe("length");
        expect(r.releasedTokens).toBeLessThan(N);
        expect(r.stats.eval_count).toBe(N);
        expect(r.stats.eval_count).toBe(generated);
    });

    it("chat: the same, through the chat template", async () => {
        const history = [{type: "user" as const, text: PROMPT}];
        const chatOpts = {maxTokens: N, temperature: 0, trimWhitespaceSuffix: false};
        const {result: first} = await withOracle((seq) => new LlamaChat({contextSequence: seq}).generateResponse(history, chatOpts));
        const stop = first.response.slice(-2) + NEVER;
        const {generated} = await withOracle((seq) => new LlamaChat({contextSequence: seq}).generateResponse(history, {...chatOpts, customStopTriggers: [stop]}));
        const r = await run(engine, {mode: "chat", messages: [{role: "user", content: PROMPT}], options: greedy({num_predict: N, stop: [stop]})});
        expect(r.stats.done_reason).toBe("length");
        expect(r.releasedTokens).toBeLessThan(N);
        expect(r.stats.eval_count).toBe(N);
        expect(r.stats.eval_count).toBe(generated);
    });

    it("infill: the same, with the model's fill-in-the-middle tokens", async () => {
        const prefix = "def add(a, b):\n    ";
        const suffix = "\n    return c\n";
        const {result: text} = await withOracle((seq) => new LlamaCompletion({contextSequence: seq}).generateInfillCompletion(prefix, suffix, {maxTokens: N, temperature: 0}));
        const stop = text.slice(-2) + NEVER;
        const r = await run(engine, {mode: "infill", prompt: prefix, suffix, options: greedy({num_predict: N, stop: [stop]})});
        expect(r.text).toBe(text.slice(0, r.text.length));
        expect(r.stats.done_reason).toBe("length");
        expect(r.releasedTokens).toBeLessThan(N);
        expect(r.stats.eval_count).toBe(N);
    });

    it("grammar: a JSON-constrained completion reports what node-llama-cpp's meter counted", async () => {
        const grammar = await llama.getGrammarFor("json");
        const {result: text, generated} = await withOracle((seq) => new LlamaCompletion({contextSequence: seq}).generateCompletion(PROMPT, {maxTokens: N, temperature: 0, grammar}));
        const r = await run(engine, {mode: "completion", prompt: PROMPT, format: "json", options: greedy({num_predict: N})});
        expect(r.text).toBe(text);
        expect(r.stats.eval_count).toBe(generated);
        if (r.stats.done_reason === "length") expect(r.stats.eval_count).toBe(N);
    });

    it("tools: a forced call cut by the limit counts every token of its arguments, and its generation time is not zero", async () => {
        const tools = [{name: "fill_form", parameters: {
            type: "object",
            properties: {first: {type: "string"}, second: {type: "string"}, third: {type: "string"}},
            required: ["first", "second", "third"]
        }}];
        // the call's JSON alone needs more than 10 tokens, so the limit always lands inside it
        const r = await run(engine, {mode: "chat", messages: [{role: "user", content: "Fill the form."}], tools, tool_choice: "required", options: greedy({num_predict: 10})});
        expect(r.stats.done_reason).toBe("length");
        expect(r.calls).toEqual([]);
        expect(r.stats.eval_count).toBe(10);
        // none of these tokens is released as text: the generation's time is measured from the first sampled token
        expect(r.releasedTokens).toBe(0);
        expect(r.stats.eval_duration_ns).toBeGreaterThan(0);
        expect(r.stats.prompt_eval_duration_ns).toBeGreaterThan(0);
    });

    it("the chat prompt the runner counts is the one node-llama-cpp evaluates: a repeat reuses all of it but the last token", async () => {
        const req = {mode: "chat" as const, messages: [{role: "user" as const, content: "Count me exactly."}], options: greedy({num_predict: 3})};
        await run(engine, req);
        const again = await run(engine, req);
        expect(again.stats.prompt_eval_count).toBe(1);
        expect(again.stats.cached_tokens).toBe(again.stats.prompt_tokens - 1);
        expect(engine.countTokens("", req.messages)).toBe(again.stats.prompt_tokens);
    });

    it("the infill prompt it counts is the one node-llama-cpp evaluates, too", async () => {
        const req = {mode: "infill" as const, prompt: "x = 1\ny = ", suffix: "\nprint(x + y)\n", options: greedy({num_predict: 3})};
        const first = await run(engine, req);
        const again = await run(engine, req);
        expect(again.stats.prompt_tokens).toBe(first.stats.prompt_tokens);
        expect(again.stats.prompt_eval_count).toBe(1);
        expect(again.stats.cached_tokens).toBe(again.stats.prompt_tokens - 1);
    });
});
