/**
 * Scheduling over HTTP with the real engine: a completion served while a long chat streams on the same model,
 * prompts that do not fit refused (OpenAI) or cut with a count (Ollama), and the facts every answer carries.
 */
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {addScriptedModel, ENDLESS, makeHome, removeHome} from "../helpers/home.js";
import {ndjson, sse, startTestServer, type TestServer} from "../helpers/server.js";

const LONG_TEXT = Array.from({length: 900}, (_, i) => `word${i % 50}`).join(" ");

describe("scheduling over HTTP", () => {
    let home: string;
    let server: TestServer;

    beforeAll(async () => {
        home = await makeHome("zc-sched-http-");
        await addScriptedModel(home, "writer/writer-q8_0.gguf", ENDLESS, {seed: 11});
        server = await startTestServer(home, {models: {writer: {context_size: 512, parallel: 2, short_reserved_sequences: 1}}});
    });
    afterAll(async () => {
        await server?.close(1000);
        await removeHome(home);
    });

    it("a completion is answered while a long chat streams on the same model, and says it was short", async () => {
        const ac = new AbortController();
        const chat = await server.api("/api/chat", {method: "POST", signal: ac.signal,
            json: {model: "writer", messages: [{role: "user", content: "tell me everything"}], options: {temperature: 0, num_predict: 100000}}});
        expect(chat.status).toBe(200);
        const reader = chat.body!.getReader();
        await reader.read();
        const t0 = performance.now();
        const fim = await server.api("/v1/completions", {method: "POST",
            json: {model: "writer", prompt: "<|fim_prefix|>def add(a, b):\n    return <|fim_suffix|>\n<|fim_middle|>", max_tokens: 8, temperature: 0}});
        const took = performance.now() - t0;
        expect(fim.status).toBe(200);
        expect(fim.headers.get("x-zombiecoder-latency")).toBe("short");
        const body = await fim.json() as {usage: {completion_tokens: number; zombiecoder: {latency: string; queue_ms: number}}};
        expect(body.usage.completion_tokens).toBe(8);
        expect(body.usage.zombiecoder.latency).toBe("short");
        // the chat is still streaming: the completion did not wait for it to end
        const next = await reader.read();
        expect(next.done).toBe(false);
        ac.abort();
        expect(took).toBeLessThan(20_000);
    });

    it("an OpenAI chat longer than the context is a 400 naming the prompt's tokens and the context, streamed or not", async () => {
        for (const stream of [false, true]) {
            const res = await server.api("/v1/chat/completions", {method: "POST",
                json: {model: "writer", stream, messages: [{role: "user", content: LONG_TEXT}], max_tokens: 4}});
            expect(res.status, `stream: ${stream}`).toBe(400);
            const body = await res.json() as {error: {message: string; code: string; param: string}};
            expect(body.error.code).toBe("context_length_exceeded");
            expect(body.error.message).toMatch(/this model's context holds 512 tokens, but the prompt is \d{3,} tokens/);
            const promptTokens = Number(/the prompt is (\d+) tokens/.exec(body.error.message)![1]);
            expect(promptTokens).toBeGreaterThan(512);
        }
    });

    it("an Ollama chat longer than the context loses its oldest turns, keeps the system prompt, and says how many tokens went", async () => {
        const messages = [
            {role: "system", content: "You are terse."},
            {role: "user", content: LONG_TEXT},
            {role: "assistant", content: "ok"},
            {role: "user", content: "and now?"}
        ];
        const whole = await server.api("/api/chat", {method: "POST", json: {model: "writer", stream: false, messages, options: {temperature: 0, num_predict: 4}}});
        expect(whole.status).toBe(200);
        const dropped = Number(whole.headers.get("x-zombiecoder-truncated-tokens"));
        expect(dropped).toBeGreaterThan(0);
        const body = await whole.json() as {prompt_eval_count: number; zombiecoder: {truncated_tokens: number; prompt_tokens: number}};
        expect(body.zombiecoder.truncated_tokens).toBe(dropped);
        expect(body.zombiecoder.prompt_tokens).toBeLessThan(512);

        const streamed = await ndjson(await server.api("/api/chat", {method: "POST", json: {model: "writer", messages, options: {temperature: 0, num_predict: 4}}}));
        const last = streamed.at(-1) as {done: boolean; zombiecoder: {truncated_tokens: number}};
        expect(last.done).toBe(true);
        expect(last.zombiecoder.truncated_tokens).toBe(dropped);

        // truncate: false is the OpenAI rule on the Ollama API too
        const refused = await server.json<{error: string}>("/api/chat", {model: "writer", stream: false, truncate: false, messages, options: {num_predict: 4}});
        expect(refused.status).toBe(400);
        expect(refused.body.error).toMatch(/context holds 512 tokens/);
    });

    it("every answer says how long it queued and loaded, what was cached and evaluated, and its class", async () => {
        const res = await server.api("/v1/chat/completions", {method: "POST",
            json: {model: "writer", messages: [{role: "user", content: "hi"}], max_tokens: 300, temperature: 0}});
        expect(res.status).toBe(200);
        for (const h of ["queue-ms", "load-ms", "prompt-tokens-cached", "prompt-tokens-evaluated"])
            expect(Number.isFinite(Number(res.headers.get(`x-zombiecoder-${h}`))), h).toBe(true);
        expect(res.headers.get("x-zombiecoder-latency")).toBe("long");
        const body = await res.json() as {usage: {prompt_tokens: number; zombiecoder: {prompt_tokens_cached: number; prompt_tokens_evaluated: number; evicted: string[]}}};
        const z = body.usage.zombiecoder;
        expect(z.prompt_tokens_cached + z.prompt_tokens_evaluated).toBe(body.usage.prompt_tokens);
        expect(z.evicted).toEqual([]);

        const events = await sse(await server.api("/v1/chat/completions", {method: "POST",
            json: {model: "writer", stream: true, stream_options: {include_usage: true}, messages: [{role: "user", content: "hi"}], max_tokens: 3, temperature: 0}}));
        const usage = JSON.parse(events.at(-2)!.data) as {usage: {zombiecoder: {latency: string}}};
        expect(usage.usage.zombiecoder.latency).toBe("short");
    });
});
