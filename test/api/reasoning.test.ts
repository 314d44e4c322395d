import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {addScriptedModel, makeHome, removeHome} from "../helpers/home.js";
import {ndjson, sse, startTestServer, type TestServer} from "../helpers/server.js";

// a scripted model with a Qwen3-style template: its greedy answer is this thought, then this answer, on every CPU
const THOUGHT = "The user greets me.";
const ANSWER = "Hello! I think, therefore I answer.";

let home: string;
let server: TestServer;

beforeAll(async () => {
    home = await makeHome("zc-reasoning-api-");
    await addScriptedModel(home, "thinker/thinker-q8_0.gguf", `<think>\n${THOUGHT}\n</think>\n\n${ANSWER}`, {chatFormat: "qwen3"});
    server = await startTestServer(home);
});

afterAll(async () => {
    await server?.close(1000);
    await removeHome(home);
});

const hi = [{role: "user", content: "Hello there"}];

describe("reasoning fields on every API family (scripted Qwen3-style model)", () => {
    it("Ollama: think → message.thinking, whole and streamed; the answer has no thought text", async () => {
        const whole = await server.json<{message: {content: string; thinking?: string}; eval_count: number}>("/api/chat",
            {model: "thinker", messages: hi, think: true, stream: false, options: {temperature: 0, num_predict: 80}});
        expect(whole.status).toBe(200);
        expect(whole.body.message.thinking).toBe(THOUGHT);
        expect(whole.body.message.content).toBe(ANSWER);
        const streamed = await ndjson(await server.api("/api/chat", {method: "POST",
            json: {model: "thinker", messages: hi, think: true, options: {temperature: 0, num_predict: 80}}}));
        const thinking = streamed.map((c) => (c.message as {thinking?: string} | undefined)?.thinking ?? "").join("");
        const content = streamed.map((c) => (c.message as {content?: string} | undefined)?.content ?? "").join("");
        expect(thinking).toBe(THOUGHT);
        expect(content).toBe(ANSWER);
    });

    it("OpenAI chat: reasoning_content in the message and the deltas; reasoning_tokens in usage", async () => {
        const whole = await server.json<{choices: Array<{message: {content: string; reasoning_content?: string}}>;
            usage: {completion_tokens: number; completion_tokens_details?: {reasoning_tokens?: number}}}>("/v1/chat/completions",
            {model: "thinker", messages: hi, max_tokens: 80, temperature: 0, reasoning_effort: "medium"});
        expect(whole.status).toBe(200);
        expect(whole.body.choices[0]!.message.reasoning_content).toBe(THOUGHT);
        expect(whole.body.choices[0]!.message.content).toBe(ANSWER);
        const reasoning = whole.body.usage.completion_tokens_details?.reasoning_tokens ?? 0;
        expect(reasoning).toBeGreaterThan(0);
        expect(whole.body.usage.completion_tokens).toBeGreaterThan(reasoning);
        const events = (await sse(await server.api("/v1/chat/completions", {method: "POST",
            json: {model: "thinker", messages: hi, max_tokens: 80, temperature: 0, stream: true, reasoning_effort: "medium"}})))
            .filter((e) => e.data !== "[DONE]").map((e) => JSON.parse(e.data) as {choices: Array<{delta: {content?: string; reasoning_content?: string}}>});
        const deltas = events.flatMap((e) => e.choices.map((c) => c.delta));
        expect(deltas.map((d) => d.reasoning_content ?? "").join("")).toBe(THOUGHT);
        expect(deltas.map((d) => d.content ?? "").join("")).toBe(ANSWER);
    });

    it("Anthropic: thinking blocks (with a signature) before the text, whole and streamed", async () => {
        const body = {model: "thinker", max_tokens: 200, messages: hi, temperature: 0, thinking: {type: "enabled", budget_tokens: 100}};
        const whole = await server.json<{content: Array<{type: string; thinking?: string; signature?: string; text?: string}>}>("/v1/messages", body);
        expect(whole.status).toBe(200);
        const thinkingBlock = whole.body.content.find((b) => b.type === "thinking");
        expect(thinkingBlock?.thinking).toBe(THOUGHT);
        expect(typeof thinkingBlock?.signature).toBe("string");
        expect(whole.body.content.find((b) => b.type === "text")?.text).toBe(ANSWER);
        expect(whole.body.content.findIndex((b) => b.type === "thinking")).toBeLessThan(whole.body.content.findIndex((b) => b.type === "text"));
        const events = (await sse(await server.api("/v1/messages", {method: "POST", json: {...body, stream: true}})))
            .map((e) => JSON.parse(e.data) as {type: string; delta?: {type: string; thinking?: string; text?: string}});
        const deltas = events.filter((e) => e.type === "content_block_delta").map((e) => e.delta!);
        expect(deltas.filter((d) => d.type === "thinking_delta").map((d) => d.thinking).join("")).toBe(THOUGHT);
        expect(deltas.filter((d) => d.type === "text_delta").map((d) => d.text).join("")).toBe(ANSWER);
        expect(deltas.some((d) => d.type === "signature_delta")).toBe(true);
    });

    it("Responses: a reasoning item before the message; reasoning_tokens in usage", async () => {
        const res = await server.json<{output: Array<{type: string; content?: Array<{type: string; text?: string}>}>;
            usage: {output_tokens_details?: {reasoning_tokens?: number}}}>("/v1/responses",
            {model: "thinker", input: "Hello there", max_output_tokens: 80, temperature: 0, reasoning: {effort: "medium"}});
        expect(res.status).toBe(200);
        const types = res.body.output.map((o) => o.type);
        expect(types.indexOf("reasoning")).toBeGreaterThanOrEqual(0);
        expect(types.indexOf("reasoning")).toBeLessThan(types.indexOf("message"));
        const reasoningText = JSON.stringify(res.body.output.find((o) => o.type === "reasoning"));
        expect(reasoningText).toContain(THOUGHT);
        const message = res.body.output.find((o) => o.type === "message")!;
        expect(message.content!.map((c) => c.text ?? "").join("")).toBe(ANSWER);
        expect(res.body.usage.output_tokens_details?.reasoning_tokens ?? 0).toBeGreaterThan(0);
    });
});
