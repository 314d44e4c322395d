import OpenAI from "openai";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {addModel, ENDLESS, makeHome, removeHome, TEST_KEY} from "../helpers/home.js";
import {sse, startTestServer, type TestServer} from "../helpers/server.js";

let home: string;
let server: TestServer;
let client: OpenAI;

beforeAll(async () => {
    home = await makeHome("zc-openai-");
    // scripted never to end by itself, so finish reasons and token counts are exact on any CPU; fill-in-the-middle
    // prompts (ending in <|fim_middle|>) get a text of their own
    await addModel(home, "coder/coder-q8_0.gguf", {tools: true, fim: true, seed: 11,
        script: [ENDLESS, {after: "<|fim_middle|>", text: "a + b + c; ", then: "repeat"}]});
    await addModel(home, "plain/plain-q8_0.gguf", {seed: 12, script: ENDLESS});
    await addModel(home, "embedder/embedder-f32.gguf", {embedding: true, quantization: "f32", seed: 13});
    server = await startTestServer(home);
    client = new OpenAI({baseURL: server.url + "/v1", apiKey: TEST_KEY, maxRetries: 0});
});

afterAll(async () => {
    await server?.close(1000);
    await removeHome(home);
});

const hi = [{role: "user" as const, content: "Say hello"}];

describe("OpenAI chat completions", () => {
    it("non-streaming: one choice, real usage counts, finish_reason length at max_tokens", async () => {
        const res = await client.chat.completions.create({model: "plain", messages: hi, max_tokens: 7, temperature: 0});
        expect(res.object).toBe("chat.completion");
        expect(res.id).toMatch(/^chatcmpl-/);
        expect(res.model).toBe("plain");
        expect(res.choices).toHaveLength(1);
        expect(res.choices[0]!.message.role).toBe("assistant");
        expect(typeof res.choices[0]!.message.content).toBe("string");
        expect(res.choices[0]!.finish_reason).toBe("length");
        expect(res.usage!.completion_tokens).toBe(7);
        expect(res.usage!.prompt_tokens).toBeGreaterThan(3);
        expect(res.usage!.total_tokens).toBe(res.usage!.prompt_tokens + 7);
    });

    it("streaming parses in openai-node; the text equals the non-streamed text; include_usage adds a usage chunk before [DONE]", async () => {
        const whole = await client.chat.completions.create({model: "plain", messages: hi, max_tokens: 9, temperature: 0});
        const stream = await client.chat.completions.create({model: "plain", messages: hi, max_tokens: 9, temperature: 0, stream: true, stream_options: {include_usage: true}});
        let text = "";
        let finish: string | null = null;
        let usage: OpenAI.CompletionUsage | null | undefined = null;
        let first = true;
        for await (const chunk of stream) {
            expect(chunk.object).toBe("chat.completion.chunk");
            if (first) expect(chunk.choices[0]!.delta.role).toBe("assistant");
            first = false;
            if (chunk.usage) usage = chunk.usage;
            for (const c of chunk.choices) {
                text += c.delta.content ?? "";
                if (c.finish_reason) finish = c.finish_reason;
            }
        }
        expect(text).toBe(whole.choices[0]!.message.content);
        expect(finish).toBe("length");
        expect(usage!.completion_tokens).toBe(9);

        const raw = await server.api("/v1/chat/completions", {method: "POST", json: {model: "plain", messages: hi, max_tokens: 3, stream: true, stream_options: {include_usage: true}}});
        expect(raw.headers.get("content-type")).toMatch(/^text\/event-stream/);
        const events = await sse(raw);
        expect(events.at(-1)!.data).toBe("[DONE]");
        const usageChunk = JSON.parse(events.at(-2)!.data) as {choices: unknown[]; usage: {completion_tokens: number}};
        expect(usageChunk.choices).toEqual([]);
        expect(usageChunk.usage.completion_tokens).toBe(3);
        expect(events.every((e) => e.event === undefined)).toBe(true);
    });

    it("accepts content as text parts, developer messages, stop, seed and penalties", async () => {
        const body = {
            model: "plain",
            messages: [{role: "developer" as const, content: "Be brief."}, {role: "user" as const, content: [{type: "text" as const, text: "Say "}, {type: "text" as const, text: "hello"}]}],
            max_completion_tokens: 12, temperature: 0.9, top_p: 0.9, seed: 42, frequency_penalty: 0.1, presence_penalty: 0.1
        };
        const a = await client.chat.completions.create(body);
        const b = await client.chat.completions.create(body);
        expect(a.choices[0]!.message.content).toBe(b.choices[0]!.message.content);
        const text = a.choices[0]!.message.content!;
        const stopAt = text.slice(2, 4);
        const stopped = await client.chat.completions.create({...body, stop: [stopAt]});
        expect(stopped.choices[0]!.message.content).toBe(text.slice(0, text.indexOf(stopAt)));
        expect(stopped.choices[0]!.finish_reason).toBe("stop");
    });

    it("refuses what it cannot do with OpenAI's error shape", async () => {
        const image = await server.json<{error: {message: string; type: string}}>("/v1/chat/completions",
            {model: "plain", messages: [{role: "user", content: [{type: "image_url", image_url: {url: "data:image/png;base64,AAAA"}}]}]});
        expect(image.status).toBe(400);
        expect(image.body.error.type).toBe("invalid_request_error");
        expect(image.body.error.message).toMatch(/images are not supported/);
        const n2 = await server.json<{error: {param: string}}>("/v1/chat/completions", {model: "plain", messages: hi, n: 2});
        expect(n2.status).toBe(400);
        expect(n2.body.error.param).toBe("n");
        const empty = await server.json<{error: {message: string}}>("/v1/chat/completions", {model: "plain", messages: []});
        expect(empty.body.error.message).toBe("[] is too short - 'messages'");
        const tools = await server.json<{error: {message: string}}>("/v1/chat/completions",
            {model: "plain", messages: hi, tools: [{type: "function", function: {name: "f", parameters: {type: "object", properties: {}}}}]});
        expect(tools.status).toBe(400);
        expect(tools.body.error.message).toBe("plain does not support tools");
        const embedChat = await server.json<{error: {message: string}}>("/v1/chat/completions", {model: "embedder", messages: hi});
        expect(embedChat.status).toBe(400);
        expect(embedChat.body.error.message).toMatch(/embedding model/);
    });

    it("401, 404 and unknown routes use OpenAI's error shape, and openai-node raises its typed errors", async () => {
        const anon = new OpenAI({baseURL: server.url + "/v1", apiKey: "wrong", maxRetries: 0});
        await expect(anon.chat.completions.create({model: "plain", messages: hi})).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
        await expect(client.chat.completions.create({model: "no-such-model", messages: hi})).rejects.toBeInstanceOf(OpenAI.NotFoundError);
        const missing = await server.json<{error: {message: string; type: string; param: string | null; code: string | null}}>("/v1/chat/completions", {model: "no-such-model", messages: hi});
        expect(missing.status).toBe(404);
        expect(missing.body.error).toMatchObject({type: "not_found_error", param: "model", code: "model_not_found"});
        expect(missing.body.error.message).toMatch(/^model 'no-such-model' not found; /);
        const noKey = await fetch(server.url + "/v1/models");
        expect(noKey.status).toBe(401);
        expect(((await noKey.json()) as {error: {type: string}}).error.type).toBe("authentication_error");
        const route = await server.json<{error: {type: string}}>("/v1/nothing-here");
        expect(route.status).toBe(404);
        expect(route.body.error.type).toBe("not_found_error");
        const badJson = await server.api("/v1/chat/completions", {method: "POST", body: "{nope", headers: {"content-type": "application/json"}});
        expect(badJson.status).toBe(400);
        expect(((await badJson.json()) as {error: {type: string}}).error.type).toBe("invalid_request_error");
    });
});

describe("OpenAI completions, models and embeddings", () => {
    it("/v1/completions: raw prompt, suffix for fill-in-the-middle, a clear 400 for suffix without FIM tokens", async () => {
        const c = await client.completions.create({model: "coder", prompt: "def add(a, b):", max_tokens: 6, temperature: 0});
        expect(c.object).toBe("text_completion");
        expect(c.choices[0]!.finish_reason).toBe("length");
        expect(c.usage!.completion_tokens).toBe(6);
        const fim = await client.completions.create({model: "coder", prompt: "def add(a, b):\n    ", suffix: "\n    return c\n", max_tokens: 5, temperature: 0});
        expect(fim.choices[0]!.text.length).toBeGreaterThan(0);
        expect(fim.choices[0]!.text).not.toBe(c.choices[0]!.text);
        const stream = await client.completions.create({model: "coder", prompt: "def add(a, b):\n    ", suffix: "\n    return c\n", max_tokens: 5, temperature: 0, stream: true});
        let text = "";
        for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
        expect(text).toBe(fim.choices[0]!.text);
        await expect(client.completions.create({model: "plain", prompt: "x", suffix: "y", max_tokens: 3}))
            .rejects.toMatchObject({status: 400, message: expect.stringMatching(/does not support insert/)});
    });

    it("/v1/models lists every servable model; /v1/models/{id} answers or 404s", async () => {
        const list = await client.models.list();
        const ids = list.data.map((m) => m.id);
        expect(ids).toEqual(expect.arrayContaining(["coder", "plain", "embedder"]));
        for (const m of list.data) {
            expect(m.object).toBe("model");
            expect(typeof m.created).toBe("number");
            expect(m.owned_by).toBe("zombiecoder");
        }
        const one = await client.models.retrieve("coder");
        expect(one.id).toBe("coder");
        await expect(client.models.retrieve("missing-model")).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    });

    it("/v1/embeddings: string or array input, float or base64, L2-normalised, dimensions; chat models embed too", async () => {
        const res = await client.embeddings.create({model: "embedder", input: ["first text", "second text"], encoding_format: "float"});
        expect(res.object).toBe("list");
        expect(res.data.map((d) => d.index)).toEqual([0, 1]);
        expect(res.usage.prompt_tokens).toBeGreaterThan(0);
        for (const d of res.data) expect(Math.hypot(...d.embedding)).toBeCloseTo(1, 4);
        // base64 is little-endian float32 of the same vector
        const b64 = await server.json<{data: Array<{embedding: string}>}>("/v1/embeddings", {model: "embedder", input: "first text", encoding_format: "base64"});
        const buf = Buffer.from(b64.body.data[0]!.embedding, "base64");
        const decoded = Array.from({length: buf.length / 4}, (_, i) => buf.readFloatLE(i * 4));
        decoded.forEach((x, i) => expect(x).toBeCloseTo(res.data[0]!.embedding[i]!, 5));
        // openai-node asks for base64 by default and decodes it
        const viaSdk = await client.embeddings.create({model: "embedder", input: "first text"});
        viaSdk.data[0]!.embedding.forEach((x, i) => expect(x).toBeCloseTo(res.data[0]!.embedding[i]!, 5));
        const small = await client.embeddings.create({model: "embedder", input: "first text", dimensions: 16, encoding_format: "float"});
        expect(small.data[0]!.embedding).toHaveLength(16);
        expect(Math.hypot(...small.data[0]!.embedding)).toBeCloseTo(1, 4);
        const chatModel = await client.embeddings.create({model: "plain", input: "a chat model can embed", encoding_format: "float"});
        expect(chatModel.data[0]!.embedding.length).toBeGreaterThan(0);
        const bad = await server.json<{error: {param: string}}>("/v1/embeddings", {model: "embedder", input: "x", encoding_format: "int8"});
        expect(bad.status).toBe(400);
        expect(bad.body.error.param).toBe("encoding_format");
        const empty = await server.json<{error: {message: string}}>("/v1/embeddings", {model: "embedder", input: []});
        expect(empty.status).toBe(400);
    });
});
