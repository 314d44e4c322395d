import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {Engine} from "../../src/runner/engine.js";
import type {GenerateRequest, ToolDefinition} from "../../src/runtime/protocol.js";
import {greedy, modelDir, run, spec, writeModel} from "./helpers.js";

// scripted models: their greedy output is the script on every CPU (src/gguf/script.ts)
const THOUGHT = "The user greets me.";
const ANSWER = "Hello! I think, therefore I answer.";
const WEATHER: ToolDefinition[] = [{name: "get_weather", description: "Weather in a city",
    parameters: {type: "object", properties: {city: {type: "string"}, days: {type: "integer"}}}}];

let dir: Awaited<ReturnType<typeof modelDir>>;
const engines: Engine[] = [];

async function engineFor(name: string, opts: Parameters<typeof writeModel>[2]): Promise<Engine> {
    const info = await writeModel(dir.dir, name, opts);
    const engine = new Engine();
    await engine.load(spec(info.path));
    engines.push(engine);
    return engine;
}

const chat = (over: Partial<GenerateRequest> = {}): GenerateRequest =>
    ({mode: "chat", messages: [{role: "user", content: "Hello there"}], options: greedy({num_predict: 80}), ...over});

beforeAll(async () => {
    dir = await modelDir("zc-reasoning-");
});

afterAll(async () => {
    for (const e of engines) await e.dispose();
    await dir.remove();
});

describe("reasoning: thought segments as their own events", () => {
    it("Qwen3-style <think>…</think>: thinking events, then the answer; thought tokens counted in eval_count and reported", async () => {
        const engine = await engineFor("qwen3", {chatFormat: "qwen3", script: `<think>\n${THOUGHT}\n</think>\n\n${ANSWER}`});
        const r = await run(engine, chat());
        const thinking = r.events.flatMap((e) => (e.type === "thinking" ? [e.text] : [])).join("");
        expect(thinking).toBe(THOUGHT);
        expect(r.text).toBe(ANSWER);
        // every thinking event comes before the first text event
        const lastThought = r.events.map((e) => e.type).lastIndexOf("thinking");
        expect(lastThought).toBeLessThan(r.events.findIndex((e) => e.type === "text"));
        expect(r.stats.reasoning_tokens).toBeGreaterThan(0);
        expect(r.stats.eval_count).toBeGreaterThan(r.stats.reasoning_tokens! + 5);

        // thinking off: this scripted model thinks whatever the prompt says, so the thoughts are left out (and counted)
        const off = await run(engine, chat({reasoning: {enabled: false}}));
        expect(off.events.some((e) => e.type === "thinking")).toBe(false);
        expect(off.text).toBe(ANSWER);
        expect(off.stats.reasoning_tokens).toBeGreaterThan(0);
    });

    it("Harmony (gpt-oss): the analysis channel is thinking, the final channel the answer", async () => {
        const thinker = await engineFor("harmony-think", {chatFormat: "harmony",
            script: {text: ["<|channel|>", "analysis", "<|message|>", "The", " user", " says", " hello."], then: {token: "<|return|>"}}});
        const t = await run(thinker, chat());
        expect(t.events.filter((e) => e.type === "thinking").map((e) => e.type === "thinking" ? e.text : "").join("")).toBe("The user says hello.");
        expect(t.text).toBe("");
        const answerer = await engineFor("harmony-final", {chatFormat: "harmony",
            script: {text: ["<|channel|>", "final", "<|message|>", "Hello", " from", " gpt-oss."], then: {token: "<|return|>"}}});
        const a = await run(answerer, chat({reasoning: {enabled: true, effort: "high"}}));
        expect(a.text).toBe("Hello from gpt-oss.");
        expect(a.stats.reasoning_tokens).toBe(0);
    });
});

describe("tool calls in the model's own syntax", () => {
    it("Qwen3-Coder XML: a structured call with typed arguments, no call text in the answer", async () => {
        const call = "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>";
        const engine = await engineFor("coder", {chatFormat: "qwen3-coder", script: `Let me check.\n\n${call}`});
        const r = await run(engine, chat({tools: WEATHER}));
        expect(r.calls.map((c) => [c.name, c.arguments])).toEqual([["get_weather", {city: "Paris", days: 3}]]);
        expect(r.text).toBe("Let me check.");
        expect(r.text).not.toMatch(/tool_call|function=|parameter=/);
        expect(r.stats.done_reason).toBe("tool_calls");
    });

    it("Harmony: a call in the commentary channel through node-llama-cpp's function calling", async () => {
        const engine = await engineFor("harmony-call", {chatFormat: "harmony", script: [
            {text: ["<|channel|>", "commentary", " to="]},
            {after: ".", text: ["get_weather"]},
            {after: "<|message|>", text: ['{"city": "Paris"}']},
            {after: "<|call|>", text: ""}
        ]});
        const tools: ToolDefinition[] = [{name: "get_weather", description: "Weather", parameters: {type: "object", properties: {city: {type: "string"}}}}];
        const r = await run(engine, chat({tools, options: greedy({num_predict: 60})}));
        expect(r.calls.map((c) => [c.name, c.arguments])).toEqual([["get_weather", {city: "Paris"}]]);
        expect(r.text).toBe("");
    });
});
