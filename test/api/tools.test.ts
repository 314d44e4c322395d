import Anthropic from "@anthropic-ai/sdk";
import {Ajv} from "ajv";
import {Ollama} from "ollama";
import OpenAI from "openai";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {addModel, makeHome, removeHome, TEST_KEY} from "../helpers/home.js";
import {ndjson, sse, startTestServer, type TestServer} from "../helpers/server.js";

let home: string;
let server: TestServer;
let openai: OpenAI;
let anthropic: Anthropic;
let ollama: Ollama;

const weatherSchema = {
    type: "object",
    properties: {city: {type: "string", maxLength: 12}, unit: {enum: ["c", "f"]}},
    required: ["city", "unit"],
    additionalProperties: false
};
const timeSchema = {type: "object", properties: {zone: {enum: ["UTC", "CET", "PST"]}}, required: ["zone"]};
const validWeather = new Ajv().compile(weatherSchema);
const validTime = new Ajv().compile(timeSchema);

const openaiTools: OpenAI.ChatCompletionTool[] = [
    {type: "function", function: {name: "get_weather", description: "Current weather in a city", parameters: weatherSchema}},
    {type: "function", function: {name: "get_time", description: "Current time in a zone", parameters: timeSchema}}
];

beforeAll(async () => {
    home = await makeHome("zc-tools-");
    // the generator's Qwen2.5-style template renders tools and <tool_call> blocks: the model supports tools
    await addModel(home, "toolsy/toolsy-q8_0.gguf", {tools: true, seed: 21});
    server = await startTestServer(home);
    openai = new OpenAI({baseURL: server.url + "/v1", apiKey: TEST_KEY, maxRetries: 0});
    anthropic = new Anthropic({baseURL: server.url, apiKey: TEST_KEY, maxRetries: 0});
    ollama = new Ollama({host: server.url, headers: {Authorization: `Bearer ${TEST_KEY}`}});
});

afterAll(async () => {
    await server?.close(1000);
    await removeHome(home);
});

const ask = [{role: "user" as const, content: "What is the weather in Paris?"}];

describe("tool calling: OpenAI", () => {
    it("reports the tools capability for a template that renders tools", async () => {
        const show = await server.json<{capabilities: string[]}>("/api/show", {model: "toolsy"});
        expect(show.body.capabilities).toContain("tools");
    });

    it("tool_choice required forces a schema-valid call: arguments as a JSON string, finish_reason tool_calls", async () => {
        for (const seed of [1, 2, 3]) {
            const res = await openai.chat.completions.create({model: "toolsy", messages: ask, tools: openaiTools, tool_choice: "required", max_tokens: 80, seed});
            const choice = res.choices[0]!;
            expect(choice.finish_reason).toBe("tool_calls");
            const calls = choice.message.tool_calls!;
            expect(calls.length).toBeGreaterThan(0);
            for (const c of calls) {
                if (c.type !== "function") throw new Error("not a function call");
                expect(c.id).toMatch(/^call_/);
                expect(typeof c.function.arguments).toBe("string");
                const args = JSON.parse(c.function.arguments) as unknown;
                expect(c.function.name === "get_weather" ? validWeather(args) : validTime(args)).toBe(true);
            }
        }
    });

    it("a named tool_choice calls exactly that function, also when streamed through openai-node's stream helper", async () => {
        for (const seed of [4, 5]) {
            const res = await openai.chat.completions.create({model: "toolsy", messages: ask, tools: openaiTools, tool_choice: {type: "function", function: {name: "get_time"}}, max_tokens: 60, seed});
            const calls = res.choices[0]!.message.tool_calls!;
            expect(calls).toHaveLength(1);
            const call = calls[0]!;
            if (call.type !== "function") throw new Error("not a function call");
            expect(call.function.name).toBe("get_time");
            expect(validTime(JSON.parse(call.function.arguments))).toBe(true);
        }
        const runner = openai.chat.completions.stream({model: "toolsy", messages: ask, tools: openaiTools, tool_choice: {type: "function", function: {name: "get_weather"}}, max_tokens: 60, seed: 6});
        const final = await runner.finalChatCompletion();
        const call = final.choices[0]!.message.tool_calls![0]!;
        if (call.type !== "function") throw new Error("not a function call");
        expect(call.function.name).toBe("get_weather");
        expect(validWeather(JSON.parse(call.function.arguments))).toBe(true);
        expect(final.choices[0]!.finish_reason).toBe("tool_calls");
    });

    it("the tool result goes back in the next turn and reaches the prompt", async () => {
        const first = await openai.chat.completions.create({model: "toolsy", messages: ask, tools: openaiTools, tool_choice: "required", max_tokens: 60, seed: 7});
        const call = first.choices[0]!.message.tool_calls![0]!;
        const turn = (result: string) => openai.chat.completions.create({
            model: "toolsy", tools: openaiTools, tool_choice: "none", max_tokens: 4, temperature: 0,
            messages: [...ask, {role: "assistant", content: null, tool_calls: [call]}, {role: "tool", tool_call_id: call.id, content: result}]
        });
        const short = await turn("sunny");
        const long = await turn("sunny with a light breeze from the west and twenty degrees in the afternoon");
        expect(short.choices[0]!.finish_reason).toBe("length");
        expect(short.choices[0]!.message.tool_calls).toBeUndefined();
        expect(long.usage!.prompt_tokens).toBeGreaterThan(short.usage!.prompt_tokens + 5);
    });

    it("tool_choice none never calls; tools with response_format is a 400; a named tool that was not sent is a 400", async () => {
        const none = await openai.chat.completions.create({model: "toolsy", messages: ask, tools: openaiTools, tool_choice: "none", max_tokens: 5, temperature: 0});
        expect(none.choices[0]!.message.tool_calls).toBeUndefined();
        expect(none.choices[0]!.finish_reason).toBe("length");
        const both = await server.json<{error: {message: string}}>("/v1/chat/completions",
            {model: "toolsy", messages: ask, tools: openaiTools, response_format: {type: "json_object"}});
        expect(both.status).toBe(400);
        expect(both.body.error.message).toMatch(/cannot combine tools/);
        const unknown = await server.json<{error: {message: string}}>("/v1/chat/completions",
            {model: "toolsy", messages: ask, tools: openaiTools, tool_choice: {type: "function", function: {name: "launch"}}});
        expect(unknown.status).toBe(400);
        expect(unknown.body.error.message).toMatch(/'launch'/);
    });
});

describe("tool calling: Anthropic", () => {
    const tools: Anthropic.Tool[] = [
        {name: "get_weather", description: "Current weather in a city", input_schema: weatherSchema as Anthropic.Tool.InputSchema},
        {name: "get_time", description: "Current time in a zone", input_schema: timeSchema as Anthropic.Tool.InputSchema}
    ];

    it("tool_choice any gives tool_use blocks with schema-valid input and stop_reason tool_use", async () => {
        const msg = await anthropic.messages.create({model: "toolsy", max_tokens: 80, messages: ask, tools, tool_choice: {type: "any"}});
        expect(msg.stop_reason).toBe("tool_use");
        const uses = msg.content.filter((b): b is Anthropic.ToolUseBlock => b.type === "tool_use");
        expect(uses.length).toBeGreaterThan(0);
        for (const u of uses) expect(u.name === "get_weather" ? validWeather(u.input) : validTime(u.input)).toBe(true);
    });

    it("streams tool_use as content_block_start + input_json_delta, and the SDK assembles the input", async () => {
        const stream = anthropic.messages.stream({model: "toolsy", max_tokens: 80, messages: ask, tools, tool_choice: {type: "tool", name: "get_weather"}});
        const final = await stream.finalMessage();
        const use = final.content.find((b): b is Anthropic.ToolUseBlock => b.type === "tool_use")!;
        expect(use.name).toBe("get_weather");
        expect(validWeather(use.input)).toBe(true);
        expect(final.stop_reason).toBe("tool_use");
        const raw = await server.api("/v1/messages", {method: "POST", json: {model: "toolsy", max_tokens: 80, stream: true, messages: ask, tools, tool_choice: {type: "tool", name: "get_time"}}});
        const events = await sse(raw);
        const start = events.find((e) => e.event === "content_block_start" && e.data.includes("tool_use"))!;
        expect(JSON.parse(start.data).content_block).toMatchObject({type: "tool_use", name: "get_time", input: {}});
        const delta = events.find((e) => e.event === "content_block_delta" && e.data.includes("input_json_delta"))!;
        expect(validTime(JSON.parse((JSON.parse(delta.data) as {delta: {partial_json: string}}).delta.partial_json))).toBe(true);
    });

    it("tool_result blocks answer the call in the next turn", async () => {
        const first = await anthropic.messages.create({model: "toolsy", max_tokens: 80, messages: ask, tools, tool_choice: {type: "tool", name: "get_weather"}});
        const use = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === "tool_use")!;
        const turn = (text: string) => anthropic.messages.create({
            model: "toolsy", max_tokens: 4, ...({temperature: 0} as object), tools,
            messages: [...ask, {role: "assistant", content: first.content}, {role: "user", content: [{type: "tool_result", tool_use_id: use.id, content: [{type: "text", text}]}]}]
        });
        const short = await turn("sunny");
        const long = await turn("sunny with a light breeze from the west and twenty degrees in the afternoon");
        expect(short.stop_reason).toBe("max_tokens");
        expect(long.usage.input_tokens + (long.usage.cache_read_input_tokens ?? 0))
            .toBeGreaterThan(short.usage.input_tokens + (short.usage.cache_read_input_tokens ?? 0) + 5);
    });
});

describe("tool calling: Ollama", () => {
    const tools = openaiTools.map((t) => t.type === "function" ? {type: "function", function: t.function} : t);

    it("message.tool_calls[].function.arguments is an object (tool_choice is accepted on /api/chat too)", async () => {
        const res = await server.json<{message: {tool_calls: Array<{function: {name: string; arguments: unknown}}>}; done_reason: string}>("/api/chat",
            {model: "toolsy", messages: ask, tools, tool_choice: "required", stream: false, options: {num_predict: 80, seed: 3}});
        expect(res.status).toBe(200);
        const call = res.body.message.tool_calls[0]!;
        expect(typeof call.function.arguments).toBe("object");
        expect(call.function.name === "get_weather" ? validWeather(call.function.arguments) : validTime(call.function.arguments)).toBe(true);
        const lines = ndjson(await server.api("/api/chat", {method: "POST", json: {model: "toolsy", messages: ask, tools, tool_choice: {type: "function", function: {name: "get_time"}}, options: {num_predict: 60, seed: 3}}}));
        const withCalls = (await lines).find((l) => (l.message as {tool_calls?: unknown[]}).tool_calls?.length);
        expect(((withCalls!.message as {tool_calls: Array<{function: {name: string}}>}).tool_calls[0]!.function.name)).toBe("get_time");
    });

    it("ollama-js sends the tool result back with role tool, and it reaches the prompt", async () => {
        const first = await server.json<{message: {role: "assistant"; content: string; tool_calls: Array<{function: {name: string; arguments: Record<string, unknown>}}>}}>("/api/chat",
            {model: "toolsy", messages: ask, tools, tool_choice: "required", stream: false, options: {num_predict: 80, seed: 4}});
        const turn = (result: string) => ollama.chat({
            model: "toolsy", tools: tools as Parameters<Ollama["chat"]>[0]["tools"], stream: false, options: {num_predict: 4, temperature: 0},
            messages: [...ask, first.body.message, {role: "tool", content: result, tool_name: first.body.message.tool_calls[0]!.function.name}]
        });
        // prompt_eval_count counts only what a cached sequence did not already hold (as Ollama's does). Measured as
        // short, long, short: the long turn and the second short one each find exactly the history before the tool
        // result cached, so their counts differ by the results' sizes alone.
        await turn("sunny");
        const long = await turn("sunny with a light breeze from the west and twenty degrees in the afternoon");
        const short = await turn("sunny");
        expect(short.done).toBe(true);
        expect(short.done_reason).toBe("length");
        expect(short.prompt_eval_count).toBeGreaterThan(0);
        expect(long.prompt_eval_count).toBeGreaterThan(short.prompt_eval_count + 5);
    });
});
