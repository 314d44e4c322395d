import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {addModel, makeHome, removeHome} from "../helpers/home.js";
import {ndjson, sse, startTestServer, type TestServer} from "../helpers/server.js";
import {sameOrigin} from "../../src/server/auth.js";

let home: string;
let server: TestServer;

beforeAll(async () => {
    home = await makeHome("zc-plugins-");
    await addModel(home, "plain/plain-q8_0.gguf", {seed: 21});
    await addModel(home, "coder/coder-q8_0.gguf", {fim: true, seed: 22});
    await addModel(home, "tooler/tooler-q8_0.gguf", {tools: true, seed: 23});
    server = await startTestServer(home, {models: {plain: {aliases: ["house-model"]}}});
});

afterAll(async () => {
    await server?.close(1000);
    await removeHome(home);
});

const hi = [{role: "user", content: "hi"}];

describe("API families as plugins with body schemas", () => {
    it("a body of the wrong types is a 400 in each family's own error shape", async () => {
        const ollama = await server.json("/api/chat", {model: 5, messages: hi});
        expect(ollama).toEqual({status: 400, body: {error: "\"model\" must be a string"}});
        const stream = await server.json("/api/generate", {model: "plain", prompt: "x", stream: "yes"});
        expect(stream).toEqual({status: 400, body: {error: "\"stream\" must be true or false"}});
        const openai = await server.json<{error: {message: string; type: string}}>("/v1/chat/completions", {model: "plain", messages: "hello"});
        expect(openai.status).toBe(400);
        expect(openai.body.error).toMatchObject({message: "\"messages\" must be an array", type: "invalid_request_error"});
        const anthropic = await server.json<{type: string; error: {type: string; message: string}}>("/v1/messages", {model: "plain", max_tokens: "lots", messages: hi});
        expect(anthropic.status).toBe(400);
        expect(anthropic.body).toEqual({type: "error", error: {type: "invalid_request_error", message: "\"max_tokens\" must be a number"}});
        const infill = await server.json<{error: string}>("/infill", {model: "coder", input_prefix: 3});
        expect(infill.status).toBe(400);
        expect(infill.body.error).toMatch(/"input_prefix" must be a string/);
        const notObject = await server.api("/api/chat", {method: "POST", body: "[1,2]", headers: {"content-type": "application/json"}});
        expect(notObject.status).toBe(400);
        expect(await notObject.json()).toEqual({error: "the request body must be a JSON object"});
        // the server keeps serving
        expect((await server.json("/api/tags")).status).toBe(200);
    });

    it("unknown routes under /api/ answer a JSON 404, like every other family", async () => {
        const res = await server.api("/api/nothing-here", {method: "POST", json: {}});
        expect(res.status).toBe(404);
        expect(res.headers.get("content-type")).toMatch(/application\/json/);
        expect(await res.json()).toEqual({error: "no route for POST /api/nothing-here"});
    });

    it("answers name the model that served them, in the body and the X-ZombieCoder-Model header", async () => {
        const chat = await server.api("/api/chat", {method: "POST", json: {model: "house-model", messages: hi, stream: false, options: {num_predict: 2}}});
        expect(chat.status).toBe(200);
        expect(chat.headers.get("x-zombiecoder-model")).toBe("plain");
        expect(((await chat.json()) as {model: string}).model).toBe("plain");
        const streamed = await server.api("/api/generate", {method: "POST", json: {model: "house-model", prompt: "x", options: {num_predict: 2}}});
        expect(streamed.headers.get("x-zombiecoder-model")).toBe("plain");
        const chunks = await ndjson(streamed);
        expect(chunks.length).toBeGreaterThan(1);
        expect(chunks.every((c) => c.model === "plain")).toBe(true);
        const openai = await server.api("/v1/chat/completions", {method: "POST", json: {model: "house-model", messages: hi, max_tokens: 2, stream: true}});
        const events = (await sse(openai)).filter((e) => e.data !== "[DONE]").map((e) => JSON.parse(e.data) as {model: string});
        expect(events.every((e) => e.model === "plain")).toBe(true);
        const show = await server.api("/api/show", {method: "POST", json: {model: "house-model"}});
        expect(show.headers.get("x-zombiecoder-model")).toBe("plain");
    });

    it("/v1/models/{id} describes only a model that exists by that name or alias", async () => {
        expect((await server.json("/v1/models/plain")).status).toBe(200);
        expect((await server.json("/v1/models/house-model")).status).toBe(200);
        // "pla" resolves a request by prefix, but no model is called that
        const fuzzy = await server.json<{error: {message: string}}>("/v1/models/pla");
        expect(fuzzy.status).toBe(404);
        expect(fuzzy.body.error.message).toMatch(/^model 'pla' not found/);
    });

    it("logprobs are refused with a 400 that says so, never a silent null", async () => {
        const chat = await server.json<{error: {message: string; param: string}}>("/v1/chat/completions", {model: "plain", messages: hi, logprobs: true, max_tokens: 2});
        expect(chat.status).toBe(400);
        expect(chat.body.error).toMatchObject({param: "logprobs"});
        expect(chat.body.error.message).toMatch(/logprobs are not supported/);
        const completion = await server.json("/v1/completions", {model: "plain", prompt: "x", logprobs: 3, max_tokens: 2});
        expect(completion.status).toBe(400);
        const ollama = await server.json<{error: string}>("/api/chat", {model: "plain", messages: hi, logprobs: true, stream: false});
        expect(ollama.status).toBe(400);
        expect(ollama.body.error).toMatch(/logprobs are not supported/);
        // logprobs: false asks for nothing
        expect((await server.json("/v1/chat/completions", {model: "plain", messages: hi, logprobs: false, max_tokens: 1})).status).toBe(200);
    });

    it("parallel_tool_calls false and disable_parallel_tool_use allow one call", async () => {
        const tools = [{type: "function", function: {name: "pick", description: "pick a city",
            parameters: {type: "object", properties: {city: {enum: ["rome", "oslo"]}}, required: ["city"], additionalProperties: false}}}];
        const openai = await server.json<{choices: Array<{message: {tool_calls?: unknown[]}; finish_reason: string}>}>("/v1/chat/completions", {
            model: "tooler", messages: hi, tools, tool_choice: "required", parallel_tool_calls: false, max_tokens: 400, temperature: 0
        });
        expect(openai.status).toBe(200);
        expect(openai.body.choices[0]!.message.tool_calls).toHaveLength(1);
        const anthropic = await server.json<{content: Array<{type: string}>}>("/v1/messages", {
            model: "tooler", max_tokens: 400, messages: hi, temperature: 0,
            tools: [{name: "pick", input_schema: tools[0]!.function.parameters}], tool_choice: {type: "any", disable_parallel_tool_use: true}
        });
        expect(anthropic.status).toBe(200);
        expect(anthropic.body.content.filter((b) => b.type === "tool_use")).toHaveLength(1);
    });
});

describe("browser origins", () => {
    it("a page served by this server (same IP host and port) may call it; a rebinding domain or another port may not", async () => {
        const port = new URL(server.url).port;
        const same = await server.api("/api/tags", {headers: {origin: `http://127.0.0.1:${port}`}});
        expect(same.status).toBe(200);
        const otherPort = await server.api("/api/tags", {headers: {origin: "http://127.0.0.1:1"}});
        expect(otherPort.status).toBe(403);
        // the Host header a rebinding attacker's page sends names its own domain
        const rebinding = await server.api("/api/tags", {headers: {origin: `http://attacker.example:${port}`, host: `attacker.example:${port}`}});
        expect(rebinding.status).toBe(403);
    });

    it("same origin means an IP address or localhost with the same port, never a domain name", () => {
        expect(sameOrigin("http://192.168.1.5:8007", "192.168.1.5:8007")).toBe(true);
        expect(sameOrigin("http://localhost:8007", "localhost:8007")).toBe(true);
        expect(sameOrigin("http://[::1]:8007", "[::1]:8007")).toBe(true);
        expect(sameOrigin("http://evil.example:8007", "evil.example:8007")).toBe(false);
        expect(sameOrigin("http://192.168.1.5:9000", "192.168.1.5:8007")).toBe(false);
        expect(sameOrigin("not a url", "x")).toBe(false);
    });
});
