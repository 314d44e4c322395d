import {Ajv} from "ajv";
import OpenAI from "openai";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {ResponseWriter} from "../../src/api/responses/format.js";
import {parseInput} from "../../src/api/responses/input.js";
import {conversationOf, ResponseStore, type StoredResponse} from "../../src/api/responses/store.js";
import {parseResponsesToolChoice, parseTools} from "../../src/api/responses/tools.js";
import type {ResponseEcho, ResponseObject} from "../../src/api/responses/wire.js";
import type {GenerationResult} from "../../src/runtime/job.js";
import type {ChatMessage} from "../../src/runtime/protocol.js";
import {toolCallScript} from "../../src/gguf/script.js";
import {addModel, makeHome, removeHome, TEST_KEY} from "../helpers/home.js";
import {sse, startTestServer, type TestServer} from "../helpers/server.js";

let home: string;
let server: TestServer;
let openai: OpenAI;

const weatherSchema = {
    type: "object",
    properties: {city: {type: "string", maxLength: 12}, unit: {enum: ["c", "f"]}},
    required: ["city", "unit"],
    additionalProperties: false
};
const validWeather = new Ajv().compile(weatherSchema);
const weatherTool: OpenAI.Responses.FunctionTool = {type: "function", name: "get_weather", description: "Current weather in a city", strict: true, parameters: weatherSchema};
const timeTool: OpenAI.Responses.FunctionTool = {
    type: "function", name: "get_time", description: "Current time in a zone", strict: false,
    parameters: {type: "object", properties: {zone: {enum: ["UTC", "CET"]}}, required: ["zone"]}
};

/** Codex CLI's shell tool, as it declares it. */
const shellTool = {
    type: "function", name: "shell_command", description: "Runs a shell command and returns its output.", strict: false,
    parameters: {type: "object", properties: {command: {type: "string"}, workdir: {type: "string"}}, required: ["command"], additionalProperties: false}
};

beforeAll(async () => {
    home = await makeHome("zc-responses-");
    // random weights with the Qwen2.5-style tools template: shapes, counts and oracles only, never exact text
    await addModel(home, "toolsy/toolsy-q8_0.gguf", {tools: true, seed: 21});
    // scripted models write the same tokens on every CPU
    await addModel(home, "caller/caller-q8_0.gguf", {tools: true, script: toolCallScript({name: "shell_command", arguments: {command: "ls", workdir: "/work"}})});
    await addModel(home, "writer/writer-q8_0.gguf", {tools: true, script: "The folder holds two files."});
    server = await startTestServer(home);
    openai = new OpenAI({baseURL: server.url + "/v1", apiKey: TEST_KEY, maxRetries: 0});
});

afterAll(async () => {
    await server?.close(1000);
    await removeHome(home);
});

/** The extensions this server accepts beyond the Responses type (seed, like llama-server's). */
const seeded = (seed: number) => ({seed} as object);

describe("POST /v1/responses with openai-node", () => {
    it("responses.create: a message with output_text, usage with real counts, the same text Chat Completions gives", async () => {
        const res = await openai.responses.create({model: "toolsy", input: "Say hello", max_output_tokens: 6, temperature: 0});
        expect(res.id).toMatch(/^resp_/);
        expect(res.object).toBe("response");
        expect(res.model).toBe("toolsy");
        // the model never ends by itself: the output limit ends it
        expect(res.status).toBe("incomplete");
        expect(res.incomplete_details).toEqual({reason: "max_output_tokens"});
        expect(res.output).toHaveLength(1);
        const item = res.output[0] as OpenAI.Responses.ResponseOutputMessage;
        expect(item).toMatchObject({type: "message", role: "assistant", status: "incomplete"});
        expect(item.id).toMatch(/^msg_/);
        expect(item.content).toHaveLength(1);
        expect(item.content[0]!.type).toBe("output_text");
        expect(res.output_text).toBe((item.content[0] as OpenAI.Responses.ResponseOutputText).text);
        expect(res.usage!.output_tokens).toBeGreaterThan(0);
        expect(res.usage!.output_tokens).toBeLessThanOrEqual(6);
        expect(res.usage!.input_tokens).toBeGreaterThan(3);
        expect(res.usage!.total_tokens).toBe(res.usage!.input_tokens + res.usage!.output_tokens);
        expect(res.usage!.output_tokens_details.reasoning_tokens).toBe(0);
        expect(res.usage!.input_tokens_details.cached_tokens).toBeGreaterThanOrEqual(0);
        expect(res.max_output_tokens).toBe(6);
        expect(res.temperature).toBe(0);

        // same prompt, same greedy engine, same process: Chat Completions is the oracle
        const chat = await openai.chat.completions.create({model: "toolsy", messages: [{role: "user", content: "Say hello"}], max_tokens: 6, temperature: 0});
        expect(res.output_text).toBe(chat.choices[0]!.message.content);
        expect(res.usage!.input_tokens).toBe(chat.usage!.prompt_tokens);
    });

    it("a scripted model's answer ends by itself: status completed, exact text", async () => {
        const res = await openai.responses.create({model: "writer", input: "What is in the folder?"});
        expect(res.status).toBe("completed");
        expect(res.incomplete_details).toBeNull();
        expect(res.output_text).toBe("The folder holds two files.");
        expect(res.usage!.output_tokens).toBeGreaterThan(0);
    });

    it("responses.stream: the event sequence openai-node accumulates, with sequence numbers, equal to the whole answer", async () => {
        const whole = await openai.responses.create({model: "toolsy", input: "Say hello", max_output_tokens: 8, temperature: 0});
        const stream = openai.responses.stream({model: "toolsy", input: "Say hello", max_output_tokens: 8, temperature: 0});
        const types: string[] = [];
        const sequence: number[] = [];
        let deltas = "";
        stream.on("event", (e) => {
            types.push(e.type);
            sequence.push(e.sequence_number);
        });
        stream.on("response.output_text.delta", (e) => {
            deltas += e.delta;
        });
        const final = await stream.finalResponse();
        expect(final.output_text).toBe(whole.output_text);
        expect(deltas).toBe(whole.output_text);
        expect(final.usage).toMatchObject({output_tokens: whole.usage!.output_tokens, input_tokens: whole.usage!.input_tokens});
        expect(sequence).toEqual(sequence.map((_, i) => i));
        expect(types.slice(0, 4)).toEqual(["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]);
        expect(types.slice(4, -4).every((t) => t === "response.output_text.delta")).toBe(true);
        expect(types.slice(-4)).toEqual(["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.incomplete"]);

        // responses.create({stream: true}) yields the raw events; the scripted model ends with response.completed
        const events: OpenAI.Responses.ResponseStreamEvent[] = [];
        for await (const e of await openai.responses.create({model: "writer", input: "What is in the folder?", stream: true})) events.push(e);
        const last = events.at(-1)!;
        expect(last.type).toBe("response.completed");
        const done = (last as OpenAI.Responses.ResponseCompletedEvent).response;
        expect(done.output_text ?? (done.output[0] as OpenAI.Responses.ResponseOutputMessage).content.map((c) => (c as {text: string}).text).join(""))
            .toBe("The folder holds two files.");
        expect(done.usage!.output_tokens).toBeGreaterThan(0);
        const text = events.filter((e) => e.type === "response.output_text.delta").map((e) => (e as OpenAI.Responses.ResponseTextDeltaEvent).delta).join("");
        expect(text).toBe("The folder holds two files.");
    });

    it("SSE on the wire: each event named by its type, JSON data, content type text/event-stream", async () => {
        const raw = await server.api("/v1/responses", {method: "POST", json: {model: "writer", input: "hi", stream: true}});
        expect(raw.status).toBe(200);
        expect(raw.headers.get("content-type")).toMatch(/^text\/event-stream/);
        const events = await sse(raw);
        for (const e of events) expect((JSON.parse(e.data) as {type: string}).type).toBe(e.event);
        expect(events[0]!.event).toBe("response.created");
        expect(events.at(-1)!.event).toBe("response.completed");
    });

    it("a forced tool_choice makes the model call the tool; the function_call output round-trips into the next prompt", async () => {
        const first = await openai.responses.create({
            model: "toolsy", input: "What is the weather in Paris?", tools: [weatherTool, timeTool],
            tool_choice: {type: "function", name: "get_weather"}, max_output_tokens: 80, ...seeded(3)
        });
        expect(first.status).toBe("completed");
        const calls = first.output.filter((o): o is OpenAI.Responses.ResponseFunctionToolCall => o.type === "function_call");
        expect(calls.length).toBeGreaterThanOrEqual(1);
        const call = calls[0]!;
        expect(call.name).toBe("get_weather");
        expect(call.id).toMatch(/^fc_/);
        expect(call.call_id).toMatch(/^call_/);
        expect(call.status).toBe("completed");
        expect(validWeather(JSON.parse(call.arguments))).toBe(true);
        expect(first.tools.map((t) => (t as {name: string}).name)).toEqual(["get_weather", "get_time"]);

        const answer = (output: string) => openai.responses.create({
            model: "toolsy", tools: [weatherTool, timeTool], tool_choice: "none", max_output_tokens: 3, temperature: 0,
            input: [
                {role: "user", content: "What is the weather in Paris?"},
                {type: "function_call", call_id: call.call_id, name: call.name, arguments: call.arguments},
                {type: "function_call_output", call_id: call.call_id, output}
            ]
        });
        const short = await answer("22C");
        const long = await answer("22C, sunny, light wind from the west, humidity 40 percent, no rain expected today");
        expect(short.output[0]!.type).toBe("message");
        // the tool's output is part of the prompt: a longer output is a longer prompt
        expect(long.usage!.input_tokens).toBeGreaterThan(short.usage!.input_tokens + 10);
        // and so is the call: the same question without it is shorter
        const bare = await openai.responses.create({model: "toolsy", input: "What is the weather in Paris?", tool_choice: "none", tools: [weatherTool], max_output_tokens: 1});
        expect(short.usage!.input_tokens).toBeGreaterThan(bare.usage!.input_tokens + 10);
    });

    it("streams a forced tool call: function_call_arguments delta and done; parallel_tool_calls false returns one call", async () => {
        const stream = openai.responses.stream({
            model: "toolsy", input: "Weather in Paris and the time in Berlin?", tools: [weatherTool, timeTool], tool_choice: "required",
            parallel_tool_calls: false, max_output_tokens: 120, ...seeded(5)
        });
        const types: string[] = [];
        let argumentDeltas = "";
        stream.on("event", (e) => types.push(e.type));
        stream.on("response.function_call_arguments.delta", (e) => {
            argumentDeltas += e.delta;
        });
        const final = await stream.finalResponse();
        const calls = final.output.filter((o) => o.type === "function_call");
        expect(calls).toHaveLength(1);
        const call = calls[0] as OpenAI.Responses.ResponseFunctionToolCall;
        expect(["get_weather", "get_time"]).toContain(call.name);
        expect(argumentDeltas).toBe(call.arguments);
        expect(JSON.parse(call.arguments)).toBeTypeOf("object");
        const at = types.indexOf("response.function_call_arguments.delta");
        expect(types.slice(at - 1, at + 3)).toEqual([
            "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.done", "response.output_item.done"
        ]);
        expect(types.at(-1)).toBe("response.completed");
    });

    it("text.format json_schema: the output parses and validates, whole and streamed", async () => {
        const schema = {
            type: "object",
            properties: {name: {type: "string", minLength: 1, maxLength: 10}, level: {enum: ["low", "mid", "high"]}, ok: {type: "boolean"}},
            required: ["name", "level", "ok"],
            additionalProperties: false
        };
        const valid = new Ajv().compile(schema);
        const text = {format: {type: "json_schema" as const, name: "thing", strict: true, schema}};
        for (const seed of [1, 2, 3]) {
            const res = await openai.responses.create({model: "toolsy", input: "Describe a thing as JSON.", text, max_output_tokens: 200, temperature: 1, ...seeded(seed)});
            expect(res.status, `seed ${seed}`).toBe("completed");
            expect(valid(JSON.parse(res.output_text)), `seed ${seed}: ${res.output_text}`).toBe(true);
        }
        const stream = openai.responses.stream({model: "toolsy", input: "Describe a thing as JSON.", text, max_output_tokens: 200, temperature: 1, ...seeded(4)});
        const final = await stream.finalResponse();
        expect(final.status).toBe("completed");
        expect(valid(JSON.parse(final.output_text)), final.output_text).toBe(true);

        const bad = await server.json<{error: {message: string; param: string}}>("/v1/responses",
            {model: "toolsy", input: "x", text: {format: {type: "json_schema", name: "n", schema: {type: "string", pattern: "^a"}}}});
        expect(bad.status).toBe(400);
        expect(bad.body.error.message).toMatch(/cannot enforce: \/pattern/);
        const both = await server.json<{error: {message: string}}>("/v1/responses",
            {model: "toolsy", input: "x", tools: [weatherTool], text: {format: {type: "json_schema", name: "n", schema}}});
        expect(both.status).toBe(400);
        expect(both.body.error.message).toMatch(/cannot combine tools with text.format/);
    });
});

describe("previous_response_id and the response store", () => {
    it("the second response's prompt is the first's conversation plus the new input; instructions do not carry over", async () => {
        const first = await openai.responses.create({model: "toolsy", instructions: "You answer in one word.", input: "My name is Ada.", max_output_tokens: 5, temperature: 0});
        const second = await openai.responses.create({model: "toolsy", previous_response_id: first.id, input: "What is my name?", max_output_tokens: 3, temperature: 0});
        expect(second.previous_response_id).toBe(first.id);
        const replayed = [
            {role: "user" as const, content: "My name is Ada."},
            {role: "assistant" as const, content: first.output_text},
            {role: "user" as const, content: "What is my name?"}
        ];
        const counted = await openai.responses.inputTokens.count({model: "toolsy", input: replayed});
        expect(second.usage!.input_tokens).toBe(counted.input_tokens);
        const withInstructions = await openai.responses.inputTokens.count({model: "toolsy", instructions: "You answer in one word.", input: replayed});
        expect(withInstructions.input_tokens).toBeGreaterThan(counted.input_tokens);
        // the same chain through the counter: previous_response_id is honoured there too
        const chained = await openai.responses.inputTokens.count({model: "toolsy", previous_response_id: first.id, input: "What is my name?"});
        expect(chained.input_tokens).toBe(counted.input_tokens);

        // a third turn continues the second; the first turn's prompt is a prefix the engine reuses
        const third = await openai.responses.create({model: "toolsy", previous_response_id: second.id, input: "And again?", max_output_tokens: 2, temperature: 0});
        expect(third.usage!.input_tokens).toBeGreaterThan(second.usage!.input_tokens + second.usage!.output_tokens);
        expect(third.usage!.input_tokens_details.cached_tokens).toBeGreaterThanOrEqual(second.usage!.input_tokens - 1);
    });

    it("a tool call chained by previous_response_id: the call and its output reach the prompt", async () => {
        const first = await openai.responses.create({
            model: "toolsy", input: "What is the weather in Paris?", tools: [weatherTool], tool_choice: "required", max_output_tokens: 80, ...seeded(8)
        });
        const call = first.output.find((o): o is OpenAI.Responses.ResponseFunctionToolCall => o.type === "function_call")!;
        const second = await openai.responses.create({
            model: "toolsy", previous_response_id: first.id, tools: [weatherTool], tool_choice: "none", max_output_tokens: 2, temperature: 0,
            input: [{type: "function_call_output", call_id: call.call_id, output: "22C"}]
        });
        const replayed = await openai.responses.inputTokens.count({
            model: "toolsy", tools: [weatherTool], tool_choice: "none",
            input: [
                {role: "user", content: "What is the weather in Paris?"},
                {type: "function_call", call_id: call.call_id, name: call.name, arguments: call.arguments},
                {type: "function_call_output", call_id: call.call_id, output: "22C"}
            ]
        });
        expect(second.usage!.input_tokens).toBe(replayed.input_tokens);
    });

    it("GET /v1/responses/{id} returns a stored response; store: false is never stored; unknown ids are a clear 404", async () => {
        const kept = await openai.responses.create({model: "toolsy", input: "hi", max_output_tokens: 2, temperature: 0, metadata: {run: "a"}});
        const got = await openai.responses.retrieve(kept.id);
        expect(got.id).toBe(kept.id);
        expect(got.output).toEqual(kept.output);
        expect(got.metadata).toEqual({run: "a"});

        const unstored = await openai.responses.create({model: "toolsy", input: "hi", max_output_tokens: 2, store: false});
        expect((unstored as unknown as {store: boolean}).store).toBe(false);
        await expect(openai.responses.retrieve(unstored.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
        const chained = await server.json<{error: {message: string; type: string; code: string; param: string}}>("/v1/responses",
            {model: "toolsy", input: "again", previous_response_id: unstored.id});
        expect(chained.status).toBe(404);
        expect(chained.body.error).toEqual({
            message: `previous response '${unstored.id}' not found: it expired or was never stored`,
            type: "not_found_error", code: "previous_response_not_found", param: "previous_response_id"
        });
        const streamed = await server.api("/v1/responses", {method: "POST", json: {model: "toolsy", input: "x", stream: true, previous_response_id: "resp_gone"}});
        expect(streamed.status).toBe(404);
        expect(((await streamed.json()) as {error: {message: string}}).error.message).toMatch(/previous response 'resp_gone' not found: it expired/);

        await openai.responses.delete(kept.id);
        await expect(openai.responses.retrieve(kept.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    });

    it("the store is bounded: the least recently used response expires first", () => {
        const entry = (id: string, parent: StoredResponse | null = null): StoredResponse =>
            ({id, response: {id} as ResponseObject, parent, turn: [{role: "user", content: id}]});
        const store = new ResponseStore(2);
        const a = entry("a");
        store.put(a);
        store.put(entry("b", a));
        store.get("a");
        store.put(entry("c"));
        expect(store.get("b")).toBeUndefined();
        expect(store.get("a")).toBeDefined();
        expect(store.get("c")).toBeDefined();
        // a kept response still holds its whole conversation, even when an earlier turn's own entry expired
        const d = entry("d", entry("b", a));
        store.put(d);
        expect(conversationOf(d).map((m) => m.content)).toEqual(["a", "b", "d"]);
        expect(() => new ResponseStore(-1)).toThrow(/whole number/);
        const none = new ResponseStore(0);
        none.put(a);
        expect(none.get("a")).toBeUndefined();
    });
});

describe("tool types this server cannot run, and Codex CLI", () => {
    const hosted = [
        {type: "web_search"},
        {type: "image_generation", output_format: "png"},
        {type: "local_shell"},
        {type: "custom", name: "apply_patch", description: "Apply a patch", format: {type: "grammar", syntax: "lark", definition: "start: /.+/"}},
        {type: "mcp", server_label: "deepwiki", server_url: "https://example.invalid/mcp"},
        {type: "file_search", vector_store_ids: []}
    ];
    const namespace = {
        type: "namespace", name: "mcp__files__", description: "Tools of the files MCP server",
        tools: [
            {type: "function", name: "read_file", description: "Read a file", strict: false,
                parameters: {type: "object", properties: {path: {enum: ["a.txt", "b.txt"]}}, required: ["path"]}},
            {type: "custom", name: "grep", description: "Search", format: {type: "text"}}
        ]
    };

    it("accepts them, drops them, names them in dropped_tools; namespace functions are offered and answered with their namespace", async () => {
        const res = await server.json<ResponseObject>("/v1/responses", {
            model: "toolsy", input: "Read a.txt", tools: [...hosted, namespace, weatherTool],
            tool_choice: {type: "function", name: "read_file"}, max_output_tokens: 60, seed: 2
        });
        expect(res.status).toBe(200);
        expect(res.body.dropped_tools).toEqual([
            {type: "web_search"}, {type: "image_generation"}, {type: "local_shell"}, {type: "custom", name: "apply_patch"},
            {type: "mcp", name: "deepwiki"}, {type: "file_search"}, {type: "custom", name: "mcp__files__grep"}
        ]);
        expect(res.body.tools.map((t) => (t as {name: string}).name)).toEqual(["mcp__files__", "get_weather"]);
        const call = res.body.output.find((o) => o.type === "function_call");
        expect(call).toMatchObject({type: "function_call", name: "read_file", namespace: "mcp__files__"});
        expect(["a.txt", "b.txt"]).toContain((JSON.parse(call!.type === "function_call" ? call!.arguments : "{}") as {path: string}).path);

        // the call comes back with its namespace and its output: accepted, not a 400
        const next = await server.json<ResponseObject>("/v1/responses", {
            model: "toolsy", tools: [...hosted, namespace], tool_choice: "none", max_output_tokens: 2,
            input: [
                {type: "message", role: "user", content: [{type: "input_text", text: "Read a.txt"}]},
                {...call, id: undefined, status: undefined},
                {type: "function_call_output", call_id: call!.type === "function_call" ? call!.call_id : "", output: [{type: "input_text", text: "hello"}]}
            ]
        });
        expect(next.status).toBe(200);

        // a tool_choice that forces a dropped tool relaxes to auto; "required" with only dropped tools too
        const forcedHosted = await server.json("/v1/responses", {model: "toolsy", input: "search", tools: hosted, tool_choice: {type: "web_search_preview"}, max_output_tokens: 2});
        expect(forcedHosted.status).toBe(200);
        const required = await server.json("/v1/responses", {model: "toolsy", input: "search", tools: hosted, tool_choice: "required", max_output_tokens: 2});
        expect(required.status).toBe(200);
        // a probe: no input at all, only tools that are dropped, nulls where Codex leaves a field unset
        for (const input of [undefined, [], ""]) {
            const probe = await server.json<ResponseObject>("/v1/responses",
                {model: "toolsy", input, tools: hosted, reasoning: null, prompt_cache_key: null, include: [], max_output_tokens: 1});
            expect(probe.status, JSON.stringify(input)).toBe(200);
            expect(probe.body.output).toHaveLength(1);
        }
    });

    /**
     * The body Codex CLI sends (codex-rs ResponsesApiRequest: model, instructions, input items, tools, tool_choice "auto",
     * parallel_tool_calls, reasoning, store false, stream true, include, prompt_cache_key, text), with its headers.
     */
    function codexRequest(model: string, input: unknown[]) {
        return {
            model,
            instructions: "You are Codex, a coding agent running in the terminal. Use the tools to inspect the workspace.",
            input,
            tools: [shellTool, {type: "function", name: "update_plan", description: "Updates the plan.", strict: false,
                parameters: {type: "object", properties: {plan: {type: "array", items: {type: "string"}}}, required: ["plan"], additionalProperties: false}},
            ...hosted.slice(0, 4), namespace],
            tool_choice: "auto",
            parallel_tool_calls: false,
            reasoning: {effort: "medium", summary: "auto"},
            store: false,
            stream: true,
            include: ["reasoning.encrypted_content"],
            prompt_cache_key: "019a5f2e-7c1d-7a40-9d3e-2b8f0c6e4a11",
            text: {verbosity: "low"}
        };
    }
    const codexHeaders = {originator: "codex_cli_rs", session_id: "019a5f2e-7c1d-7a40-9d3e-2b8f0c6e4a11", accept: "text/event-stream", "OpenAI-Beta": "responses=experimental"};

    async function codexTurn(model: string, input: unknown[]) {
        const res = await server.api("/v1/responses", {method: "POST", json: codexRequest(model, input), headers: {...codexHeaders, authorization: `Bearer ${TEST_KEY}`}});
        expect(res.status).toBe(200);
        const events = (await sse(res)).map((e) => ({event: e.event, data: JSON.parse(e.data) as Record<string, unknown>}));
        for (const e of events) expect(e.data.type).toBe(e.event);
        expect(events.map((e) => e.data.sequence_number)).toEqual(events.map((_, i) => i));
        // what Codex reads: output_item.done items, text deltas, and response.completed with usage
        const done = events.filter((e) => e.event === "response.output_item.done").map((e) => e.data.item as Record<string, unknown>);
        const completed = events.at(-1)!;
        expect(completed.event).toBe("response.completed");
        const response = completed.data.response as ResponseObject;
        expect(response.usage).toMatchObject({input_tokens: expect.any(Number), output_tokens: expect.any(Number),
            input_tokens_details: {cached_tokens: expect.any(Number)}, output_tokens_details: {reasoning_tokens: 0}});
        expect(response.store).toBe(false);
        expect(response.dropped_tools!.map((d) => d.type)).toEqual(["web_search", "image_generation", "local_shell", "custom", "custom"]);
        return {done, response};
    }

    it("a Codex-CLI-shaped sequence completes: a shell call, then its output and the answer; nothing is stored", async () => {
        const user = [
            {type: "message", role: "developer", content: [{type: "input_text", text: "<permissions instructions>Commands run in a sandbox.</permissions instructions>"}]},
            {type: "message", role: "user", content: [{type: "input_text", text: "<environment_context><cwd>/work</cwd><shell>bash</shell></environment_context>"}]},
            {type: "message", role: "user", content: [{type: "input_text", text: "What is in this folder?"}]}
        ];
        const first = await codexTurn("caller", user);
        expect(first.done).toHaveLength(1);
        const call = first.done[0]!;
        expect(call).toMatchObject({type: "function_call", name: "shell_command", status: "completed"});
        expect(JSON.parse(call.arguments as string)).toEqual({command: "ls", workdir: "/work"});

        // Codex sends the whole conversation again (store: false), with the call, its output and a reasoning item it keeps
        const second = await codexTurn("writer", [
            ...user,
            {type: "reasoning", summary: [], content: null, encrypted_content: null},
            {type: "function_call", name: "shell_command", arguments: call.arguments, call_id: call.call_id},
            {type: "function_call_output", call_id: call.call_id, output: "a.txt\nb.txt\n"}
        ]);
        expect(second.done).toEqual([expect.objectContaining({type: "message", role: "assistant", status: "completed",
            content: [expect.objectContaining({type: "output_text", text: "The folder holds two files."})]})]);
        await expect(openai.responses.retrieve(second.response.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    });

    it("/v1/models gives each model's context length; /v1/responses/input_tokens counts with the model's template", async () => {
        const models = await openai.models.list();
        for (const m of models.data) expect((m as unknown as {context_length: number}).context_length).toBeGreaterThanOrEqual(512);
        const one = await server.json<{context_length: number}>("/v1/models/toolsy");
        expect(one.body.context_length).toBe((models.data.find((m) => m.id === "toolsy") as unknown as {context_length: number}).context_length);

        const counted = await openai.responses.inputTokens.count({model: "toolsy", instructions: "Be brief.", input: "Say hello"});
        expect(counted.object).toBe("response.input_tokens");
        const res = await openai.responses.create({model: "toolsy", instructions: "Be brief.", input: "Say hello", max_output_tokens: 1});
        expect(counted.input_tokens).toBe(res.usage!.input_tokens);
    });

    it("bad input gets a clear 400 in OpenAI's shape", async () => {
        const cases: Array<[unknown, RegExp]> = [
            [{model: "toolsy", input: 5}, /"input" must be a string or an array/],
            [{model: "toolsy", input: [{role: "robot", content: "x"}]}, /input\[0\]\.role must be user, assistant, system or developer/],
            [{model: "toolsy", input: [{role: "user", content: [{type: "input_image", image_url: "data:,"}]}]}, /input_image: this engine reads text only/],
            [{model: "toolsy", input: [{type: "function_call", name: "f", call_id: "c", arguments: "{oops"}]}, /arguments is not valid JSON/],
            [{model: "toolsy", input: "x", max_output_tokens: 0}, /"max_output_tokens" must be a positive integer/],
            [{model: "toolsy", input: "x", reasoning: {effort: "huge"}}, /reasoning.effort must be one of/],
            [{model: "toolsy", input: "x", tools: [{type: "function"}]}, /tools\[0\]\.name is required/],
            [{model: "toolsy", input: "x", tools: [weatherTool], tool_choice: {type: "function", name: "launch"}}, /'launch', which is not among the tools sent/],
            [{model: "toolsy", input: "x", background: true}, /background responses are not supported/],
            [{model: "toolsy", input: "x", stream: "yes"}, /"stream" must be true or false/],
            [{model: "toolsy", input: "x", top_logprobs: 2}, /logprobs are not supported/],
            [{model: "toolsy", input: "x", include: ["message.output_text.logprobs"]}, /logprobs are not supported/]
        ];
        for (const [body, message] of cases) {
            const res = await server.json<{error: {message: string; type: string}}>("/v1/responses", body);
            expect(res.status, JSON.stringify(body)).toBe(400);
            expect(res.body.error.type).toBe("invalid_request_error");
            expect(res.body.error.message).toMatch(message);
        }
        const unknown = await server.json<{error: {message: string}}>("/v1/responses", {model: "no-such-model", input: "x"});
        expect(unknown.status).toBe(404);
        expect(unknown.body.error.message).toMatch(/model 'no-such-model' not found/);
        // every reasoning effort is accepted
        for (const effort of ["none", "minimal", "low", "medium", "high", "xhigh"]) {
            const ok = await server.json("/v1/responses", {model: "toolsy", input: "x", reasoning: {effort}, max_output_tokens: 1});
            expect(ok.status, effort).toBe(200);
        }
    });
});

describe("Responses parsing and writing", () => {
    const echo = {instructions: null, metadata: null, parallel_tool_calls: false, temperature: 0.8, top_p: 0.9, tool_choice: "auto", tools: [],
        max_output_tokens: null, previous_response_id: null, reasoning: null, store: true, text: {format: {type: "text"}}, truncation: "disabled",
        prompt_cache_key: null, user: null} satisfies ResponseEcho;
    const result = (done_reason: "stop" | "length" | "tool_calls"): GenerationResult => ({
        stats: {done_reason, prompt_eval_count: 4, prompt_tokens: 10, cached_tokens: 6, eval_count: 5, prompt_eval_duration_ns: 1, eval_duration_ns: 1, context_size: 2048},
        loadMs: 0, queueMs: 0, totalMs: 1, contextSize: 2048, contextCapped: false
    });

    it("the writer: text then calls (cut to the call limit, namespaced names restored), one completion, a failure as response.failed + error", () => {
        const tools = parseTools([{type: "namespace", name: "mcp__fs__", tools: [{type: "function", name: "read"}]}, {type: "function", name: "ls"}]);
        const events: Array<{type: string; data: Record<string, unknown>}> = [];
        const completed: Array<{response: ResponseObject; answer: ChatMessage}> = [];
        const writer = new ResponseWriter({id: "resp_x", model: "m", echo, tools, dropped: [{type: "web_search"}], maxToolCalls: 1,
            onComplete: (response, answer) => completed.push({response, answer})}, (type, data) => events.push({type, data}));
        writer.begin();
        writer.text("Let me ");
        writer.text("look.");
        writer.toolCalls([{id: "call_1", name: "mcp__fs__read", arguments: {path: "a"}}, {id: "call_2", name: "ls", arguments: {}}]);
        const response = writer.finish(result("tool_calls"));
        expect(events.map((e) => e.type)).toEqual([
            "response.created", "response.in_progress",
            "response.output_item.added", "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
            "response.output_text.done", "response.content_part.done", "response.output_item.done",
            "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.done", "response.output_item.done",
            "response.completed"
        ]);
        expect(response.status).toBe("completed");
        expect(response.usage).toEqual({input_tokens: 10, input_tokens_details: {cached_tokens: 6}, output_tokens: 5, output_tokens_details: {reasoning_tokens: 0}, total_tokens: 15,
            zombiecoder: {queue_ms: 0, load_ms: 0, evicted: [], prompt_tokens: 10, prompt_tokens_cached: 6, prompt_tokens_evaluated: 4, prompt_tokens_restored: 0, truncated_tokens: 0, latency: null}});
        expect(response.dropped_tools).toEqual([{type: "web_search"}]);
        expect(response.output).toEqual([
            expect.objectContaining({type: "message", status: "completed", content: [expect.objectContaining({text: "Let me look."})]}),
            expect.objectContaining({type: "function_call", call_id: "call_1", name: "read", namespace: "mcp__fs__", arguments: "{\"path\":\"a\"}"})
        ]);
        // the created event shows the response before any output, not as it grew afterwards
        expect((events[0]!.data.response as ResponseObject).output).toEqual([]);
        expect(completed).toHaveLength(1);
        expect(completed[0]!.answer).toEqual({role: "assistant", content: "Let me look.", tool_calls: [{id: "call_1", name: "mcp__fs__read", arguments: {path: "a"}}]});

        const failing: string[] = [];
        const broken = new ResponseWriter({id: "resp_y", model: "m", echo, tools, dropped: [], maxToolCalls: Infinity, onComplete: () => {
            throw new Error("a failed response is never stored");
        }}, (type, data) => failing.push(type + (type === "response.failed" ? `:${JSON.stringify((data.response as ResponseObject).error)}` : "")));
        broken.begin();
        broken.text("par");
        broken.fail("the runner crashed", 500);
        expect(failing.slice(-5)).toEqual(["response.output_text.done", "response.content_part.done", "response.output_item.done",
            "response.failed:{\"code\":\"server_error\",\"message\":\"the runner crashed\"}", "error"]);

        // nothing written at all still answers with one (empty) message; a length stop is incomplete
        const empty = new ResponseWriter({id: "resp_z", model: "m", echo, tools, dropped: [], maxToolCalls: Infinity, onComplete: () => undefined}, () => undefined);
        const cut = empty.finish(result("length"));
        expect(cut.status).toBe("incomplete");
        expect(cut.incomplete_details).toEqual({reason: "max_output_tokens"});
        expect(cut.output).toEqual([expect.objectContaining({type: "message", status: "incomplete", content: [expect.objectContaining({text: ""})]})]);
    });

    it("input items become chat messages: calls join the assistant turn before them, outputs answer them by call id", () => {
        const tools = parseTools([weatherTool]);
        const {messages, skipped} = parseInput([
            {role: "developer", content: "rules"},
            {type: "message", role: "user", content: [{type: "input_text", text: "a"}, {type: "input_text", text: "b"}]},
            {type: "message", role: "assistant", content: [{type: "output_text", text: "Let me check."}]},
            {type: "function_call", call_id: "c1", name: "get_weather", arguments: "{\"city\":\"Paris\",\"unit\":\"c\"}"},
            {type: "function_call", call_id: "c2", name: "get_weather", arguments: "{\"city\":\"Rome\",\"unit\":\"c\"}", namespace: "mcp__w__"},
            {type: "function_call_output", call_id: "c1", output: "20"},
            {type: "function_call_output", call_id: "c2", output: [{type: "input_text", text: "25"}, {type: "input_image", image_url: "x"}]},
            {type: "reasoning", summary: []},
            {type: "item_reference", id: "msg_1"},
            {type: "brand_new_kind"}
        ], tools);
        expect(messages).toEqual([
            {role: "system", content: "rules"},
            {role: "user", content: "ab"},
            {role: "assistant", content: "Let me check.", tool_calls: [
                {id: "c1", name: "get_weather", arguments: {city: "Paris", unit: "c"}},
                {id: "c2", name: "mcp__w__get_weather", arguments: {city: "Rome", unit: "c"}}
            ]},
            {role: "tool", content: "20", tool_call_id: "c1", tool_name: "get_weather"},
            {role: "tool", content: "25[input_image omitted: this model reads text only]", tool_call_id: "c2", tool_name: "mcp__w__get_weather"}
        ]);
        expect(skipped).toEqual(["reasoning", "item_reference", "brand_new_kind (unknown)"]);
        expect(parseInput("hello", tools).messages).toEqual([{role: "user", content: "hello"}]);
    });

    it("tools: functions (flat or Chat Completions style) kept, namespaces joined, the rest dropped; tool_choice forms", () => {
        const tools = parseTools([
            {type: "function", name: "a", parameters: {type: "object"}},
            {type: "function", function: {name: "b", description: "old style"}},
            {type: "namespace", name: "ns", tools: [{type: "function", name: "c"}]},
            {type: "web_search_preview"}
        ]);
        expect(tools.definitions.map((d) => d.name)).toEqual(["a", "b", "ns__c"]);
        expect(tools.wireName("ns__c")).toEqual({name: "c", namespace: "ns"});
        expect(tools.dropped).toEqual([{type: "web_search_preview"}]);
        expect(() => parseTools([{type: "function", name: "a"}, {type: "function", name: "a"}])).toThrow(/already sent/);
        expect(parseResponsesToolChoice({type: "function", name: "c"}, tools).choice).toEqual({name: "ns__c"});
        expect(parseResponsesToolChoice("required", parseTools([{type: "web_search"}]))).toMatchObject({choice: "auto"});
        expect(() => parseResponsesToolChoice("required", parseTools([]))).toThrow(/no tools were sent/);
        const allowed = parseTools([{type: "function", name: "a"}, {type: "function", name: "b"}]);
        expect(parseResponsesToolChoice({type: "allowed_tools", mode: "required", tools: [{type: "function", name: "b"}]}, allowed).choice).toBe("required");
        expect(allowed.definitions.map((d) => d.name)).toEqual(["b"]);
    });
});
