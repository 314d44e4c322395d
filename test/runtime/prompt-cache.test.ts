/**
 * Prompt states across an unload, with the real engine: the first engine saves its sequences' states when it is
 * disposed (what a runner does when it is unloaded, evicted or shut down); a second one for the same model reads
 * the state back and evaluates only the tokens after it.
 */
import fs from "node:fs/promises";
import path from "node:path";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {Engine} from "../../src/runner/engine.js";
import type {PromptCacheSpec} from "../../src/runtime/prompt-cache.js";
import type {GenerateRequest} from "../../src/runtime/protocol.js";
import {greedy, modelDir, run, spec, writeModel} from "../runner/helpers.js";

const PROMPT = Array.from({length: 25}, (_, i) => `line ${i}: const value${i} = compute(${i});`).join("\n");

describe("prompt states that survive an unload", () => {
    let dir: string;
    let remove: () => Promise<void>;
    let modelPath: string;
    let other: string;

    beforeAll(async () => {
        ({dir, remove} = await modelDir("zc-prompt-cache-"));
        modelPath = (await writeModel(dir, "coder", {seed: 21})).path;
        other = (await writeModel(dir, "other", {seed: 22})).path;
    });
    afterAll(async () => remove());

    const cache = (name: string, model = "fingerprint-coder"): PromptCacheSpec => ({dir: path.join(dir, name), maxBytes: 512 * 1024 * 1024, minTokens: 16, model});
    const completion = (prompt: string): GenerateRequest => ({mode: "completion", prompt, options: greedy({num_predict: 4})});

    async function withEngine<T>(modelFile: string, promptCache: PromptCacheSpec, fn: (e: Engine) => Promise<T>): Promise<T> {
        const engine = new Engine();
        await engine.load(spec(modelFile, {promptCache}));
        try {
            return await fn(engine);
        } finally {
            await engine.dispose();
        }
    }

    it("restores the saved state after a reload: prompt_eval_count counts only the new tokens", async () => {
        const store = cache("restore");
        const first = await withEngine(modelPath, store, (e) => run(e, completion(PROMPT)));
        expect(first.stats.prompt_eval_count).toBe(first.stats.prompt_tokens);
        const files = await fs.readdir(store.dir);
        expect(files.filter((f) => f.endsWith(".state"))).toHaveLength(1);

        const longer = PROMPT + "\nline 25: return value24;";
        const second = await withEngine(modelPath, store, (e) => run(e, completion(longer)));
        const uncached = await withEngine(modelPath, cache("none-saved-here"), (e) => run(e, completion(longer)));
        expect(uncached.stats.prompt_eval_count).toBe(uncached.stats.prompt_tokens);
        // everything the first request evaluated came back from disk
        expect(second.stats.prompt_tokens).toBe(uncached.stats.prompt_tokens);
        expect(second.stats.prompt_eval_count).toBe(second.stats.prompt_tokens - first.stats.prompt_tokens);
        expect(second.stats.restored_tokens).toBe(first.stats.prompt_tokens);
        // and the answer is the one a full evaluation gives
        expect(second.text).toBe(uncached.text);
    });

    it("a damaged state file is ignored with a log line and deleted, and the prompt is evaluated in full", async () => {
        const store = cache("damaged");
        await withEngine(modelPath, store, (e) => run(e, completion(PROMPT)));
        const state = (await fs.readdir(store.dir)).find((f) => f.endsWith(".state"))!;
        const file = path.join(store.dir, state);
        const bytes = await fs.readFile(file);
        bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
        await fs.writeFile(file, bytes);
        const lines: string[] = [];
        const engine = new Engine((level, msg, data) => lines.push(`${level} ${msg} ${JSON.stringify(data)}`));
        await engine.load(spec(modelPath, {promptCache: store}));
        try {
            const r = await run(engine, completion(PROMPT + "\nmore"));
            expect(r.stats.prompt_eval_count).toBe(r.stats.prompt_tokens);
        } finally {
            // nothing new worth saving replaces it here: the damaged entry must be gone
            await fs.rm(store.dir, {recursive: true, force: true});
            await engine.dispose();
        }
        expect(lines.some((l) => /prompt state ignored/.test(l) && /checksum/.test(l))).toBe(true);
    });

    it("a state saved for another model is never loaded", async () => {
        const store = cache("foreign");
        await withEngine(modelPath, store, (e) => run(e, completion(PROMPT)));
        // the same folder, another model's identity: its entries are not even considered
        const r = await withEngine(other, {...store, model: "fingerprint-other"}, (e) => run(e, completion(PROMPT)));
        expect(r.stats.prompt_eval_count).toBe(r.stats.prompt_tokens);
        expect(r.stats.restored_tokens ?? 0).toBe(0);
    });

    it("keeps the folder within max bytes, least recently used first", async () => {
        const store = cache("bounded");
        await withEngine(modelPath, store, (e) => run(e, completion(PROMPT)));
        const one = (await fs.stat(path.join(store.dir, (await fs.readdir(store.dir)).find((f) => f.endsWith(".state"))!))).size;
        const bounded = {...store, maxBytes: Math.floor(one * 1.5)};
        await withEngine(modelPath, bounded, (e) => run(e, completion("something else entirely, " + PROMPT.slice(0, 500))));
        const states = (await fs.readdir(store.dir)).filter((f) => f.endsWith(".state"));
        expect(states).toHaveLength(1);
    });
});
