import Anthropic from "@anthropic-ai/sdk";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {addModel, ENDLESS, makeHome, removeHome, TEST_KEY} from "../helpers/home.js";
import {sse, startTestServer, type TestServer} from "../helpers/server.js";

let home: string;
let server: TestServer;
let client: Anthropic;

beforeAll(async () => {
    home = await makeHome("zc-anthropic-");
    // scripted never to end by itself: stop reasons and token counts below are exact on any CPU
    await addModel(home, "plain/plain-q8_0.gguf", {seed: 31, script: ENDLESS});
    server = await startTestServer(home);
    client = new Anthropic({baseURL: server.url, apiKey: TEST_KEY, maxRetries: 0});
});

afterAll(async () => {
    await server?.close(1000);
    await removeHome(home);
});

const hi: Anthropic.MessageParam[] = [{role: "user", content: "Say hello"}];
/** This SDK version no longer types temperature; the server still accepts it (older clients and Claude Code send it). */
const greedy: object = {temperature: 0};

describe("Anthropic Messages API", () => {
    it("messages.create: a text block, usage with real counts, stop_reason max_tokens", async () => {
        const msg = await client.messages.create({model: "plain", max_tokens: 6, ...greedy, messages: hi});
        expect(msg.type).toBe("message");
        expect(msg.role).toBe("assistant");
        expect(msg.id).toMatch(/^msg_/);
        expect(msg.model).toBe("plain");
        expect(msg.content).toHaveLength(1);
        expect(msg.content[0]!.type).toBe("text");
        expect(msg.stop_reason).toBe("max_tokens");
        expect(msg.stop_sequence).toBeNull();
        expect(msg.usage.output_tokens).toBe(6);
        expect(msg.usage.input_tokens + (msg.usage.cache_read_input_tokens ?? 0)).toBeGreaterThan(3);
    });

    it("system as a string or as text blocks with cache_control reaches the prompt; stop_sequences stop the turn", async () => {
        const bare = await client.messages.create({model: "plain", max_tokens: 12, ...greedy, messages: hi});
        const total = (m: Anthropic.Message) => m.usage.input_tokens + (m.usage.cache_read_input_tokens ?? 0);
        const withString = await client.messages.create({model: "plain", max_tokens: 2, ...greedy, messages: hi, system: "You are a pirate."});
        const withBlocks = await client.messages.create({model: "plain", max_tokens: 2, ...greedy, messages: hi,
            system: [{type: "text", text: "You are a pirate.", cache_control: {type: "ephemeral"}}]});
        expect(total(withString)).toBeGreaterThan(total(bare) + 3);
        expect(total(withBlocks)).toBe(total(withString));
        const text = (bare.content[0] as Anthropic.TextBlock).text;
        const stop = text.slice(3, 5);
        const stopped = await client.messages.create({model: "plain", max_tokens: 12, ...greedy, messages: hi, stop_sequences: [stop]});
        expect(stopped.stop_reason).toBe("stop_sequence");
        expect(stopped.stop_sequence).toBe(stop);
        expect((stopped.content[0] as Anthropic.TextBlock).text).toBe(text.slice(0, text.indexOf(stop)));
    });

    it("streams Anthropic's event sequence; the SDK's stream gives the same text as the non-streamed call", async () => {
        const whole = await client.messages.create({model: "plain", max_tokens: 8, ...greedy, messages: hi});
        const stream = client.messages.stream({model: "plain", max_tokens: 8, ...greedy, messages: hi});
        let streamed = "";
        stream.on("text", (t) => {
            streamed += t;
        });
        const final = await stream.finalMessage();
        expect(streamed).toBe((whole.content[0] as Anthropic.TextBlock).text);
        expect(final.content).toEqual(whole.content);
        expect(final.stop_reason).toBe("max_tokens");
        expect(final.usage.output_tokens).toBe(8);

        const raw = await server.api("/v1/messages", {method: "POST", json: {model: "plain", max_tokens: 3, stream: true, messages: hi}});
        expect(raw.headers.get("content-type")).toMatch(/^text\/event-stream/);
        const events = await sse(raw);
        for (const e of events) expect((JSON.parse(e.data) as {type: string}).type).toBe(e.event);
        const names = events.map((e) => e.event).filter((n) => n !== "ping");
        expect(names[0]).toBe("message_start");
        expect(names[1]).toBe("content_block_start");
        expect(names.slice(2, -3).every((n) => n === "content_block_delta")).toBe(true);
        expect(names.slice(-3)).toEqual(["content_block_stop", "message_delta", "message_stop"]);
        const delta = JSON.parse(events.find((e) => e.event === "message_delta")!.data) as {delta: {stop_reason: string}; usage: {output_tokens: number}};
        expect(delta.delta.stop_reason).toBe("max_tokens");
        expect(delta.usage.output_tokens).toBe(3);
    });

    it("count_tokens counts the prompt the model would see", async () => {
        const counted = await client.messages.countTokens({model: "plain", messages: hi, system: "You are a pirate."});
        const msg = await client.messages.create({model: "plain", max_tokens: 1, messages: hi, system: "You are a pirate."});
        expect(counted.input_tokens).toBe(msg.usage.input_tokens + (msg.usage.cache_read_input_tokens ?? 0));
    });

    it("errors use Anthropic's shape: 401 for a wrong x-api-key, 404, 400 for a missing max_tokens or an image", async () => {
        const wrong = new Anthropic({baseURL: server.url, apiKey: "wrong-key", maxRetries: 0});
        await expect(wrong.messages.create({model: "plain", max_tokens: 3, messages: hi})).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
        const unauth = await fetch(server.url + "/v1/messages", {method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify({model: "plain"})});
        expect(unauth.status).toBe(401);
        expect(await unauth.json()).toMatchObject({type: "error", error: {type: "authentication_error"}});
        await expect(client.messages.create({model: "claude-no-such", max_tokens: 3, messages: hi})).rejects.toBeInstanceOf(Anthropic.NotFoundError);
        const missing = await server.json<{type: string; error: {type: string; message: string}}>("/v1/messages", {model: "plain", messages: hi});
        expect(missing.status).toBe(400);
        expect(missing.body).toEqual({type: "error", error: {type: "invalid_request_error", message: "max_tokens: Field required"}});
        const image = await server.json<{error: {message: string}}>("/v1/messages", {model: "plain", max_tokens: 3,
            messages: [{role: "user", content: [{type: "image", source: {type: "base64", media_type: "image/png", data: "AAAA"}}]}]});
        expect(image.status).toBe(400);
        expect(image.body.error.message).toMatch(/image blocks are not supported/);
        const serverTool = await server.json<{error: {message: string}}>("/v1/messages", {model: "plain", max_tokens: 3, messages: hi,
            tools: [{type: "web_search_20250305", name: "web_search"}]});
        expect(serverTool.status).toBe(400);
        expect(serverTool.body.error.message).toMatch(/server tool/);
    });
});
