/**
 * The Responses API reports the scheduling facts every family reports: `usage.zombiecoder` in the whole response and
 * in response.completed, and the `X-ZombieCoder-*` headers on a whole answer, all telling the same counts. An input
 * longer than the context is refused as OpenAI refuses it, or cut with `truncation: "auto"` and the cut reported.
 */
import OpenAI from "openai";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {addScriptedModel, makeHome, removeHome, TEST_KEY} from "../helpers/home.js";
import {sse, startTestServer, type TestServer} from "../helpers/server.js";

interface Facts {
    queue_ms: number;
    load_ms: number;
    evicted: string[];
    prompt_tokens: number;
    prompt_tokens_cached: number;
    prompt_tokens_evaluated: number;
    prompt_tokens_restored: number;
    truncated_tokens: number;
    latency: string | null;
}
interface Usage {
    input_tokens: number;
    input_tokens_details: {cached_tokens: number};
    output_tokens: number;
    zombiecoder: Facts;
}

const LONG_TEXT = Array.from({length: 900}, (_, i) => `word${i % 50}`).join(" ");

let home: string;
let server: TestServer;

beforeAll(async () => {
    home = await makeHome("zc-responses-usage-");
    await addScriptedModel(home, "writer/writer-q8_0.gguf", "The folder holds two files.");
    server = await startTestServer(home, {models: {writer: {context_size: 512, parallel: 1}}});
});

afterAll(async () => {
    await server?.close(1000);
    await removeHome(home);
});

/** The facts agree with the Responses usage they ride in. */
function expectConsistent(usage: Usage): Facts {
    const z = usage.zombiecoder;
    expect(z).toBeDefined();
    expect(z.prompt_tokens).toBe(usage.input_tokens);
    expect(z.prompt_tokens_cached).toBe(usage.input_tokens_details.cached_tokens);
    expect(z.prompt_tokens_cached + z.prompt_tokens_evaluated).toBe(usage.input_tokens);
    expect(z.evicted).toEqual([]);
    expect(z.truncated_tokens).toBe(0);
    expect(["short", "long"]).toContain(z.latency);
    expect(z.queue_ms).toBeGreaterThanOrEqual(0);
    expect(z.load_ms).toBeGreaterThanOrEqual(0);
    return z;
}

describe("Responses usage carries the zombiecoder facts", () => {
    it("a whole response: usage.zombiecoder matches its usage and the X-ZombieCoder-* headers", async () => {
        const input = "Which files are in the folder?";
        const res = await server.api("/v1/responses", {method: "POST", json: {model: "writer", input, temperature: 0}});
        expect(res.status).toBe(200);
        const body = await res.json() as {id: string; usage: Usage};
        const z = expectConsistent(body.usage);
        // the first request loads the model and evaluates its whole prompt
        expect(z.prompt_tokens_evaluated).toBe(body.usage.input_tokens);
        expect(z.load_ms).toBeGreaterThan(0);
        expect(Number(res.headers.get("x-zombiecoder-queue-ms"))).toBe(z.queue_ms);
        expect(Number(res.headers.get("x-zombiecoder-load-ms"))).toBe(z.load_ms);
        expect(Number(res.headers.get("x-zombiecoder-prompt-tokens-cached"))).toBe(z.prompt_tokens_cached);
        expect(Number(res.headers.get("x-zombiecoder-prompt-tokens-evaluated"))).toBe(z.prompt_tokens_evaluated);
        expect(res.headers.get("x-zombiecoder-latency")).toBe(z.latency);

        // the stored response keeps them, and openai-node reads the response with the extra field in place
        const openai = new OpenAI({baseURL: server.url + "/v1", apiKey: TEST_KEY, maxRetries: 0});
        const again = await openai.responses.retrieve(body.id);
        expect((again.usage as unknown as Usage).zombiecoder).toEqual(z);

        // the same input again: its prefix is reused, and the facts say so
        const second = await openai.responses.create({model: "writer", input, temperature: 0});
        const z2 = expectConsistent(second.usage as unknown as Usage);
        expect(z2.prompt_tokens_cached).toBeGreaterThan(0);
        expect(z2.load_ms).toBe(0);
    });

    it("a browser page may read every X-ZombieCoder-* header: each one sent is in Access-Control-Expose-Headers", async () => {
        const origin = new URL(server.url).origin;
        const res = await server.api("/v1/responses", {method: "POST", headers: {origin}, json: {model: "writer", input: "Name one file.", temperature: 0}});
        expect(res.status).toBe(200);
        await res.arrayBuffer();
        const sent = [...res.headers.keys()].filter((h) => h.startsWith("x-zombiecoder-"));
        expect(sent.length).toBeGreaterThanOrEqual(6);
        const exposed = (res.headers.get("access-control-expose-headers") ?? "").split(",").map((h) => h.trim().toLowerCase());
        expect(sent.filter((h) => !exposed.includes(h))).toEqual([]);
    });

    it("a streamed response: response.completed's usage carries them, and only the final event does", async () => {
        const res = await server.api("/v1/responses", {method: "POST", json: {model: "writer", input: "List them, please.", stream: true, temperature: 0}});
        expect(res.status).toBe(200);
        // a stream's headers leave before the answer is known: the facts travel in the events
        expect(res.headers.get("x-zombiecoder-prompt-tokens-evaluated")).toBeNull();
        const events = (await sse(res)).map((e) => JSON.parse(e.data) as {type: string; response?: {usage: Usage | null}});
        const completed = events.find((e) => e.type === "response.completed");
        expect(completed, events.map((e) => e.type).join(", ")).toBeDefined();
        const z = expectConsistent(completed!.response!.usage!);
        expect(z.prompt_tokens).toBeGreaterThan(0);
        expect(events.find((e) => e.type === "response.created")!.response!.usage).toBeNull();
    });

    it("an input longer than the context is a 400 naming input, streamed or not; truncation auto cuts it and says how much", async () => {
        const input = [
            {role: "user", content: LONG_TEXT},
            {role: "assistant", content: "ok"},
            {role: "user", content: "and now?"}
        ];
        for (const stream of [false, true]) {
            const res = await server.api("/v1/responses", {method: "POST", json: {model: "writer", input, stream, max_output_tokens: 4}});
            expect(res.status, `stream: ${stream}`).toBe(400);
            const body = await res.json() as {error: {message: string; type: string; code: string; param: string}};
            expect(body.error).toMatchObject({type: "invalid_request_error", code: "context_length_exceeded", param: "input"});
            expect(body.error.message).toMatch(/this model's context holds 512 tokens, but the prompt is \d{3,} tokens/);
        }
        const res = await server.api("/v1/responses", {method: "POST", json: {model: "writer", input, truncation: "auto", max_output_tokens: 4}});
        expect(res.status).toBe(200);
        const body = await res.json() as {truncation: string; usage: Usage};
        expect(body.truncation).toBe("auto");
        expect(body.usage.zombiecoder.truncated_tokens).toBeGreaterThan(0);
        expect(body.usage.input_tokens).toBeLessThan(512);
        expect(Number(res.headers.get("x-zombiecoder-truncated-tokens"))).toBe(body.usage.zombiecoder.truncated_tokens);
    });
});
