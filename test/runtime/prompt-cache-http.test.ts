/**
 * A saved prompt state survives an unload over the real server: a chat, POST /runtime/unload, then the same
 * conversation's next turn evaluates only its new tokens and says the rest came from disk. The oracle is the same
 * turn run cold (the saved states deleted first), never a hard-coded count.
 */
import fs from "node:fs/promises";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {addScriptedModel, makeHome, removeHome} from "../helpers/home.js";
import {startTestServer, type TestServer} from "../helpers/server.js";

interface ChatAnswer {
    message: {role: string; content: string};
    prompt_eval_count: number;
    zombiecoder: {prompt_tokens: number; prompt_tokens_cached: number; prompt_tokens_evaluated: number; prompt_tokens_restored: number};
}

// well above prompt_cache.min_tokens (64 by default), small enough for a 1,024-token context
const CODE = Array.from({length: 10}, (_, i) => `line ${i}: const value${i} = compute(${i});`).join("\n");
const ANSWER = "The lines compute ten values.";

let home: string;
let server: TestServer;

beforeAll(async () => {
    home = await makeHome("zc-prompt-cache-http-");
    await addScriptedModel(home, "coder/coder-q8_0.gguf", ANSWER, {seed: 31});
    server = await startTestServer(home, {models: {coder: {context_size: 1024, parallel: 1}}});
});

afterAll(async () => {
    await server?.close(1000);
    await removeHome(home);
});

async function chat(messages: Array<{role: string; content: string}>): Promise<ChatAnswer> {
    const {status, body} = await server.json<ChatAnswer>("/api/chat", {model: "coder", stream: false, messages, options: {temperature: 0, num_predict: 32}});
    expect(status, JSON.stringify(body)).toBe(200);
    return body;
}

async function unload(): Promise<void> {
    const {status, body} = await server.json<{was_loaded: boolean}>("/runtime/unload/coder", {});
    expect(status).toBe(200);
    expect(body.was_loaded).toBe(true);
}

const stateFiles = async (dir: string) => (await fs.readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith(".state"));

describe("prompt states over HTTP", () => {
    it("the next turn after an unload evaluates only its new tokens; the rest is restored from disk", async () => {
        const dir = server.runtime.config.paths.promptStates;
        const first: Array<{role: string; content: string}> = [{role: "user", content: `Explain this file:\n${CODE}`}];
        const one = await chat(first);
        expect(one.message.content).toBe(ANSWER);
        expect(one.prompt_eval_count).toBe(one.zombiecoder.prompt_tokens);
        await unload();
        expect(await stateFiles(dir)).toHaveLength(1);

        const next = [...first, {role: "assistant", content: one.message.content}, {role: "user", content: "And what does line 7 hold?"}];
        const warm = await chat(next);
        await unload();

        // the oracle: the same turn with nothing saved evaluates every prompt token
        for (const f of await fs.readdir(dir)) await fs.rm(`${dir}/${f}`, {force: true});
        const cold = await chat(next);
        expect(cold.zombiecoder.prompt_tokens_restored).toBe(0);
        expect(cold.prompt_eval_count).toBe(cold.zombiecoder.prompt_tokens);

        expect(warm.zombiecoder.prompt_tokens).toBe(cold.zombiecoder.prompt_tokens);
        // at least the whole first prompt came back from disk, so only the tokens after it were evaluated
        expect(warm.zombiecoder.prompt_tokens_restored).toBeGreaterThanOrEqual(one.zombiecoder.prompt_tokens);
        expect(warm.prompt_eval_count).toBeLessThanOrEqual(cold.prompt_eval_count - one.zombiecoder.prompt_tokens);
        expect(warm.prompt_eval_count).toBeGreaterThan(0);
        expect(warm.zombiecoder.prompt_tokens_evaluated).toBe(warm.prompt_eval_count);
        expect(warm.zombiecoder.prompt_tokens_cached).toBe(warm.zombiecoder.prompt_tokens - warm.prompt_eval_count);
        expect(warm.message.content).toBe(cold.message.content);
    });
});
