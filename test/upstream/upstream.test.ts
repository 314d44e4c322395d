import {Ollama} from "ollama";
import OpenAI from "openai";
import {pino} from "pino";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {addModel, makeHome, removeHome, TEST_KEY} from "../helpers/home.js";
import {ndjson, startTestServer, type TestServer} from "../helpers/server.js";
import {closedPortUrl, startBlackHole, startOllamaStandIn, type OllamaStandIn} from "./standin.js";

let home: string;
let remoteHome: string;
let standIn: OllamaStandIn;
let blackHole: {url: string; close(): Promise<void>};
let deadUrl: string;
/** A second instance of this server: the OpenAI-compatible upstream. */
let remote: TestServer;
let server: TestServer;
const logLines: Array<Record<string, unknown>> = [];

beforeAll(async () => {
    standIn = await startOllamaStandIn();
    blackHole = await startBlackHole();
    deadUrl = await closedPortUrl();
    remoteHome = await makeHome("zc-up-remote-");
    await addModel(remoteHome, "remote-coder/remote-coder-q8_0.gguf", {tools: true, seed: 71});
    remote = await startTestServer(remoteHome);
    home = await makeHome("zc-up-local-");
    await addModel(home, "shared/shared-q8_0.gguf", {seed: 72});
    // a fuzzy/normalised match for "remote-llama", which the upstream's exact name must beat
    await addModel(home, "Remote_Llama/Remote_Llama-q8_0.gguf", {seed: 73});
    const logger = pino({level: "info"}, {write: (line: string) => logLines.push(JSON.parse(line) as Record<string, unknown>)});
    server = await startTestServer(home, {
        upstreams: [
            {name: "standin", url: standIn.url, type: "ollama", api_key: "upstream-key", timeout_ms: 1500},
            {name: "zc2", url: remote.url, type: "openai", api_key: TEST_KEY},
            {name: "hanging", url: blackHole.url, type: "ollama", timeout_ms: 800},
            {name: "dead", url: deadUrl, type: "ollama", timeout_ms: 800}
        ]
    }, {logger, upstreamListTtlMs: 300});
});

afterAll(async () => {
    await server?.close(1000);
    await remote?.close(1000);
    await standIn?.close();
    await blackHole?.close();
    await removeHome(home);
    await removeHome(remoteHome);
});

const ask = [{role: "user" as const, content: "hi"}];

describe("upstream: merged lists", () => {
    it("/api/tags, /v1/models and /models/installed merge the upstreams' models; each says where it lives; a local name wins a clash", async () => {
        const t0 = Date.now();
        const tags = await server.json<{models: Array<Record<string, unknown>>}>("/api/tags");
        // the hanging upstream costs at most its list timeout, once
        expect(Date.now() - t0).toBeLessThan(3000);
        const byName = new Map(tags.body.models.map((m) => [m.name as string, m]));
        expect(byName.get("remote-llama:latest")).toMatchObject({upstream: "standin", remote_host: standIn.url, details: {family: "llama"}});
        expect(byName.get("remote-coder")).toMatchObject({upstream: "zc2", remote_host: remote.url});
        expect(typeof byName.get("remote-coder")!.modified_at).toBe("string");
        // local "shared" wins over the upstream's "shared:latest"
        expect(byName.get("shared")).toMatchObject({source: "models_dir"});
        expect(byName.has("shared:latest")).toBe(false);
        expect([...byName.values()].filter((m) => m.upstream === "hanging" || m.upstream === "dead")).toEqual([]);

        const models = await server.json<{data: Array<{id: string; owned_by: string}>}>("/v1/models");
        expect(models.body.data).toEqual(expect.arrayContaining([
            expect.objectContaining({id: "remote-llama:latest", owned_by: "standin"}),
            expect.objectContaining({id: "remote-coder", owned_by: "zc2"}),
            expect.objectContaining({id: "shared", owned_by: "zombiecoder"})
        ]));
        const installed = await server.json<{models: Array<Record<string, unknown>>}>("/models/installed");
        expect(installed.body.models.find((m) => m.name === "remote-llama:latest")).toMatchObject({status: "upstream", upstream: "standin"});
        // the key of an upstream goes to that upstream only
        expect(standIn.seen.find((r) => r.path === "/api/tags")!.headers.authorization).toBe("Bearer upstream-key");
    });

    it("an unavailable upstream is warned about once, not per request", async () => {
        for (let i = 0; i < 3; i++) {
            await server.json("/api/tags");
            await new Promise((r) => setTimeout(r, 350));
        }
        const warnings = logLines.filter((l) => l.msg === "upstream is unavailable; its models are hidden until it answers");
        expect(warnings.filter((w) => w.upstream === "dead")).toHaveLength(1);
        expect(warnings.filter((w) => w.upstream === "hanging")).toHaveLength(1);
        expect(String(warnings.find((w) => w.upstream === "hanging")!.error)).toMatch(/did not answer within 800 ms/);
    });
});

describe("upstream: Ollama passthrough", () => {
    it("passes /api/chat through as it is and streams chunk by chunk (the second line is written only after the first arrived)", async () => {
        const res = await server.api("/api/chat", {method: "POST", json: {model: "remote-llama", messages: ask, options: {num_ctx: 4096}, keep_alive: "10m"}});
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toMatch(/ndjson/);
        const reader = res.body!.getReader();
        const decoder = new TextDecoder();
        const first = decoder.decode((await reader.read()).value);
        expect(JSON.parse(first.trim()).message.content).toBe("Hello");
        // the stand-in holds its second line until now: a proxy that buffered would never get here
        standIn.openGate();
        let rest = "";
        for (;;) {
            const r = await reader.read();
            if (r.done) break;
            rest += decoder.decode(r.value);
        }
        const lines = rest.trim().split("\n").map((l) => JSON.parse(l) as {done: boolean; message: {content: string}});
        expect(lines.at(-1)!.done).toBe(true);
        expect(lines[0]!.message.content).toBe(" from upstream");
        const seen = standIn.seen.filter((r) => r.path === "/api/chat").at(-1)!;
        // as sent, with the upstream's exact name and its own key
        expect(seen.body).toEqual({model: "remote-llama:latest", messages: ask, options: {num_ctx: 4096}, keep_alive: "10m"});
        expect(seen.headers.authorization).toBe("Bearer upstream-key");
    });

    it("an exact upstream name beats a fuzzy local match; ollama-js works through the proxy", async () => {
        const ollama = new Ollama({host: server.url, headers: {Authorization: `Bearer ${TEST_KEY}`}});
        const res = await ollama.chat({model: "remote-llama", messages: ask, stream: false});
        expect(res.message.content).toBe("Hello from upstream");
        const show = await ollama.show({model: "remote-llama"});
        expect(show.capabilities).toContain("tools");
        const embed = await ollama.embed({model: "remote-llama", input: ["a", "b"]});
        expect(embed.embeddings).toEqual([[0.6, 0.8], [0.6, 0.8]]);
        standIn.openGate();
        const gen = await ollama.generate({model: "remote-llama", prompt: "x", stream: false});
        expect(gen.response).toBe("Hello from upstream");
    });

    it("an OpenAI request for a model on an Ollama upstream is translated to /api/chat with every sampling value explicit", async () => {
        const before = standIn.seen.length;
        const pending = server.json<{choices: Array<{message: {content: string}; finish_reason: string}>; usage: {prompt_tokens: number; completion_tokens: number}}>("/v1/chat/completions",
            {model: "remote-llama", messages: ask, max_tokens: 20, temperature: 0.3, stop: ["END"]});
        // translated requests stream from the upstream: let the stand-in finish once it has the request
        while (!standIn.seen.slice(before).some((r) => r.path === "/api/chat")) await new Promise((r) => setTimeout(r, 10));
        standIn.openGate();
        const res = await pending;
        expect(res.status).toBe(200);
        expect(res.body.choices[0]!.message.content).toBe("Hello from upstream");
        expect(res.body.choices[0]!.finish_reason).toBe("stop");
        expect(res.body.usage).toMatchObject({prompt_tokens: 5, completion_tokens: 2});
        const sent = standIn.seen.slice(before).find((r) => r.path === "/api/chat")!.body!;
        expect(sent).toMatchObject({model: "remote-llama:latest", stream: true, messages: [{role: "user", content: "hi"}],
            options: {temperature: 0.3, num_predict: 20, stop: ["END"], top_k: 40, top_p: 0.9, repeat_penalty: 1}});
    });

    it("an upstream killed mid-stream ends the stream with an error line naming it", async () => {
        const res = await server.api("/api/chat", {method: "POST", json: {model: "dying", messages: ask}});
        expect(res.status).toBe(200);
        const lines = await ndjson(res);
        expect((lines[0]!.message as {content: string}).content).toBe("Hello");
        expect(String(lines.at(-1)!.error)).toMatch(/upstream 'standin' \(http:\/\/127\.0\.0\.1:\d+\) broke off the response mid-stream/);
        expect(lines.some((l) => l.done === true)).toBe(false);
    });

    it("an upstream that never answers is a 504 naming it, streamed or not; local models are unaffected", async () => {
        for (const stream of [true, false]) {
            const t0 = Date.now();
            const res = await server.json<{error: string}>("/api/chat", {model: "silent", messages: ask, stream});
            expect(res.status).toBe(504);
            expect(res.body.error).toMatch(/^upstream 'standin' \(http:\/\/127\.0\.0\.1:\d+\) did not answer within 1500 ms$/);
            expect(Date.now() - t0).toBeLessThan(4000);
        }
        const openai = await server.json<{error: {message: string; type: string}}>("/v1/chat/completions", {model: "silent", messages: ask, max_tokens: 3});
        expect(openai.status).toBe(504);
        expect(openai.body.error.message).toMatch(/upstream 'standin'/);
        const local = await server.json<{message: {content: string}}>("/api/chat", {model: "shared", messages: ask, stream: false, options: {num_predict: 3}});
        expect(local.status).toBe(200);
    });

    it("a client that goes away aborts the upstream request", async () => {
        const ac = new AbortController();
        const res = await server.api("/api/chat", {method: "POST", json: {model: "held", messages: ask}, signal: ac.signal});
        const reader = res.body!.getReader();
        await reader.read();
        ac.abort();
        await expect(Promise.race([standIn.aborted.then(() => "aborted"), new Promise((r) => setTimeout(() => r("still open"), 3000))])).resolves.toBe("aborted");
    });

    it("a name no one has is a 502 naming the unreachable upstreams (the model may live there), not a bare 404", async () => {
        const res = await server.json<{error: string}>("/api/chat", {model: "nowhere-model", messages: ask});
        expect(res.status).toBe(502);
        expect(res.body.error).toMatch(/model 'nowhere-model' not found locally, and upstream 'hanging'.*unavailable.*upstream 'dead'.*unavailable/);
    });
});

describe("upstream: OpenAI-compatible (a second ZombieCoder)", () => {
    it("/api/chat is translated through the internal request and answers in Ollama's shape, with the same text as the upstream's own", async () => {
        const options = {temperature: 0, num_predict: 8};
        const direct = await remote.json<{message: {content: string}; eval_count: number}>("/api/chat", {model: "remote-coder", messages: ask, stream: false, options});
        const via = await server.json<{model: string; message: {content: string}; done: boolean; eval_count: number}>("/api/chat", {model: "remote-coder", messages: ask, stream: false, options});
        expect(via.status).toBe(200);
        expect(via.body.model).toBe("remote-coder");
        expect(via.body.message.content).toBe(direct.body.message.content);
        // the upstream's own count for the same request: whatever this CPU's greedy text, translation keeps it
        expect(via.body.eval_count).toBe(direct.body.eval_count);
        const lines = await ndjson(await server.api("/api/chat", {method: "POST", json: {model: "remote-coder", messages: ask, options}}));
        expect(lines.at(-1)!.done).toBe(true);
        expect(lines.slice(0, -1).map((l) => (l.message as {content: string}).content).join("")).toBe(direct.body.message.content);
    });

    it("OpenAI and Anthropic requests reach it too, forced tool calls included; embeddings too", async () => {
        const client = new OpenAI({baseURL: server.url + "/v1", apiKey: TEST_KEY, maxRetries: 0});
        const tools: OpenAI.ChatCompletionTool[] = [{type: "function", function: {name: "pick", parameters: {type: "object", properties: {x: {enum: ["a", "b"]}}, required: ["x"]}}}];
        const res = await client.chat.completions.create({model: "remote-coder", messages: ask, tools, tool_choice: "required", max_tokens: 40, seed: 1});
        expect(res.choices[0]!.finish_reason).toBe("tool_calls");
        const call = res.choices[0]!.message.tool_calls![0]!;
        if (call.type !== "function") throw new Error("not a function call");
        expect(["a", "b"]).toContain((JSON.parse(call.function.arguments) as {x: string}).x);
        const anthropic = await server.json<{content: Array<{type: string}>; stop_reason: string}>("/v1/messages", {model: "remote-coder", max_tokens: 5, messages: ask});
        expect(anthropic.status).toBe(200);
        // the same request straight to the upstream says why this CPU's greedy answer ended
        const directAnthropic = await remote.json<{stop_reason: string}>("/v1/messages", {model: "remote-coder", max_tokens: 5, messages: ask});
        expect(anthropic.body.stop_reason).toBe(directAnthropic.body.stop_reason);
        const emb = await client.embeddings.create({model: "remote-coder", input: "text", encoding_format: "float"});
        expect(Math.hypot(...emb.data[0]!.embedding)).toBeCloseTo(1, 4);
    });

    it("its errors come back with their status, naming it", async () => {
        const res = await server.json<{error: {message: string}}>("/v1/chat/completions", {model: "remote-coder", messages: ask, max_tokens: 3, grammar: "root ::= (\"unclosed\""});
        expect(res.status).toBe(400);
        expect(res.body.error.message).toMatch(/^upstream 'zc2' \(http:\/\/127\.0\.0\.1:\d+\)/);
    });
});
