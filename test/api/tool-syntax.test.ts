import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {addScriptedModel, makeHome, removeHome} from "../helpers/home.js";
import {ndjson, sse, startTestServer, type TestServer} from "../helpers/server.js";

// a scripted model with a Qwen3-Coder-style template that answers with an XML-style tool call, on every CPU
const CALL = "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>";
const PREFACE = "Let me check.";
const ARGS = {city: "Paris", days: 3};
const PARAMS = {type: "object", properties: {city: {type: "string"}, days: {type: "integer"}}};

let home: string;
let server: TestServer;

beforeAll(async () => {
    home = await makeHome("zc-tool-syntax-");
    await addScriptedModel(home, "xmlcoder/xmlcoder-q8_0.gguf", `${PREFACE}\n\n${CALL}`, {chatFormat: "qwen3-coder"});
    server = await startTestServer(home);
});

afterAll(async () => {
    await server?.close(1000);
    await removeHome(home);
});

const hi = [{role: "user", content: "What is the weather in Paris?"}];
const noCallText = (s: string) => expect(s).not.toMatch(/tool_call|function=|parameter=/);

describe("an XML-style tool call comes back as a structured call on every API family", () => {
    it("Ollama /api/chat, whole and streamed", async () => {
        const tools = [{type: "function", function: {name: "get_weather", description: "Weather in a city", parameters: PARAMS}}];
        const whole = await server.json<{message: {content: string; tool_calls?: Array<{function: {name: string; arguments: unknown}}>}}>("/api/chat",
            {model: "xmlcoder", messages: hi, tools, stream: false, options: {temperature: 0, num_predict: 120}});
        expect(whole.status).toBe(200);
        expect(whole.body.message.tool_calls?.map((c) => [c.function.name, c.function.arguments])).toEqual([["get_weather", ARGS]]);
        noCallText(whole.body.message.content);
        const chunks = await ndjson(await server.api("/api/chat", {method: "POST",
            json: {model: "xmlcoder", messages: hi, tools, options: {temperature: 0, num_predict: 120}}}));
        const content = chunks.map((c) => (c.message as {content?: string} | undefined)?.content ?? "").join("");
        noCallText(content);
        const calls = chunks.flatMap((c) => (c.message as {tool_calls?: Array<{function: {name: string; arguments: unknown}}>} | undefined)?.tool_calls ?? []);
        expect(calls.map((c) => [c.function.name, c.function.arguments])).toEqual([["get_weather", ARGS]]);
    });

    it("OpenAI /v1/chat/completions, whole and streamed", async () => {
        const tools = [{type: "function", function: {name: "get_weather", description: "Weather in a city", parameters: PARAMS}}];
        const whole = await server.json<{choices: Array<{message: {content: string | null; tool_calls?: Array<{function: {name: string; arguments: string}}>}; finish_reason: string}>}>(
            "/v1/chat/completions", {model: "xmlcoder", messages: hi, tools, max_tokens: 120, temperature: 0});
        expect(whole.status).toBe(200);
        const choice = whole.body.choices[0]!;
        expect(choice.finish_reason).toBe("tool_calls");
        expect(choice.message.tool_calls?.map((c) => [c.function.name, JSON.parse(c.function.arguments)])).toEqual([["get_weather", ARGS]]);
        noCallText(choice.message.content ?? "");
        const events = (await sse(await server.api("/v1/chat/completions", {method: "POST",
            json: {model: "xmlcoder", messages: hi, tools, max_tokens: 120, temperature: 0, stream: true}})))
            .filter((e) => e.data !== "[DONE]").map((e) => JSON.parse(e.data) as {choices: Array<{delta: {content?: string; tool_calls?: Array<{function: {name: string; arguments: string}}>}}>});
        const deltas = events.flatMap((e) => e.choices.map((c) => c.delta));
        noCallText(deltas.map((d) => d.content ?? "").join(""));
        const calls = deltas.flatMap((d) => d.tool_calls ?? []);
        expect(calls.map((c) => [c.function.name, JSON.parse(c.function.arguments)])).toEqual([["get_weather", ARGS]]);
    });

    it("Anthropic /v1/messages: a tool_use block", async () => {
        const res = await server.json<{content: Array<{type: string; name?: string; input?: unknown; text?: string}>; stop_reason: string}>("/v1/messages", {
            model: "xmlcoder", max_tokens: 120, messages: hi, temperature: 0,
            tools: [{name: "get_weather", description: "Weather in a city", input_schema: PARAMS}]
        });
        expect(res.status).toBe(200);
        expect(res.body.stop_reason).toBe("tool_use");
        expect(res.body.content.filter((b) => b.type === "tool_use").map((b) => [b.name, b.input])).toEqual([["get_weather", ARGS]]);
        noCallText(res.body.content.filter((b) => b.type === "text").map((b) => b.text).join(""));
    });

    it("Responses /v1/responses: a function_call item", async () => {
        const res = await server.json<{output: Array<{type: string; name?: string; arguments?: string; content?: Array<{text?: string}>}>}>("/v1/responses", {
            model: "xmlcoder", input: "What is the weather in Paris?", max_output_tokens: 120, temperature: 0,
            tools: [{type: "function", name: "get_weather", description: "Weather in a city", parameters: PARAMS}]
        });
        expect(res.status).toBe(200);
        const calls = res.body.output.filter((o) => o.type === "function_call");
        expect(calls.map((c) => [c.name, JSON.parse(c.arguments!)])).toEqual([["get_weather", ARGS]]);
        noCallText(JSON.stringify(res.body.output.filter((o) => o.type === "message")));
    });
});
