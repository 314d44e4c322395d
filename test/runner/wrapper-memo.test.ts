/**
 * The chat-wrapper memo against its oracle, node-llama-cpp's own resolveChatWrapper: for each template the test
 * models can carry (and with the custom settings a request turns thinking off with), the wrapper a second runner
 * gets from the memo must be the one the search returns, field by field, and render the same prompt.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {getLlama, LlamaLogLevel, resolveChatWrapper, type ChatHistoryItem, type Llama} from "node-llama-cpp";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {writeTestModel} from "../../src/gguf/test-model.js";
import {CHAT_FORMATS, type ChatFormatName} from "../../src/gguf/templates.js";
import {sameState, WrapperMemo} from "../../src/runner/wrapper-memo.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zc-wrapper-memo-"));
let llama: Llama;
beforeAll(async () => {
    llama = await getLlama({build: "never", gpu: false, maxThreads: 1, logLevel: LlamaLogLevel.error});
});
afterAll(() => fs.rmSync(dir, {recursive: true, force: true}));

// written for this test in the shape of Llama 3's and Gemma's templates, so specialized wrappers get matched too
const LLAMA3_STYLE = "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
const GEMMA_STYLE = "{{ bos_token }}{% for message in messages %}{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}";

const history: ChatHistoryItem[] = [
    {type: "system", text: "Be brief."},
    {type: "user", text: "hi"},
    {type: "model", response: ["hello"]},
    {type: "user", text: "and then?"}
];
const thinkingOff = {qwen: {thoughts: "discourage" as const}, jinjaTemplate: {reasoning: false}};

const cases: {name: string; format?: ChatFormatName; template?: string; tokens?: string[]}[] = [
    {name: "default"},
    ...(Object.keys(CHAT_FORMATS) as ChatFormatName[]).map((format) => ({name: format, format})),
    {name: "llama3-style", template: LLAMA3_STYLE, tokens: ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]},
    {name: "gemma-style", template: GEMMA_STYLE, tokens: ["<start_of_turn>", "<end_of_turn>"]}
];

describe("chat-wrapper memo", () => {
    for (const c of cases) {
        it(`gives the search's wrapper for the ${c.name} template`, async () => {
            const file = path.join(dir, `${c.name}.gguf`);
            await writeTestModel(file, {chatFormat: c.format, chatTemplate: c.template, specialTokens: c.tokens});
            const memoFile = path.join(dir, `${c.name}.json`);
            const model = await llama.loadModel({modelPath: file});
            try {
                for (const custom of [{}, thinkingOff]) {
                    const oracle = resolveChatWrapper(model, {customWrapperSettings: custom, warningLogs: false});
                    const first = new WrapperMemo({file: memoFile, engineVersion: "test"}).resolve(model, file, custom);
                    const second = new WrapperMemo({file: memoFile, engineVersion: "test"}).resolve(model, file, custom);
                    expect(first.wrapperName).toBe(oracle.wrapperName);
                    expect(sameState(second, oracle)).toBe(true);
                    const prompt = (w: typeof oracle) => JSON.stringify(w.generateContextState({chatHistory: history}).contextText.toJSON());
                    expect(prompt(second)).toBe(prompt(oracle));
                }
                // both settings were remembered: the second runner did not search
                const kept = JSON.parse(fs.readFileSync(memoFile, "utf8")) as {entries: Record<string, unknown>};
                expect(Object.keys(kept.entries)).toHaveLength(2);
            } finally {
                await model.dispose();
            }
        });
    }

    it("searches again for a changed file, another engine version, or a recipe that does not build", async () => {
        const file = path.join(dir, "changing.gguf");
        await writeTestModel(file, {});
        const memoFile = path.join(dir, "changing.json");
        const model = await llama.loadModel({modelPath: file});
        try {
            new WrapperMemo({file: memoFile, engineVersion: "a"}).resolve(model, file, {});
            new WrapperMemo({file: memoFile, engineVersion: "b"}).resolve(model, file, {});
            fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
            new WrapperMemo({file: memoFile, engineVersion: "a"}).resolve(model, file, {});
            const kept = JSON.parse(fs.readFileSync(memoFile, "utf8")) as {format: number; entries: Record<string, {type: string}>};
            expect(Object.keys(kept.entries)).toHaveLength(3);
            // a recipe naming a wrapper this version does not have: the search answers, and its recipe replaces it
            for (const k of Object.keys(kept.entries)) kept.entries[k] = {type: "noSuchWrapper"};
            fs.writeFileSync(memoFile, JSON.stringify(kept));
            const w = new WrapperMemo({file: memoFile, engineVersion: "a"}).resolve(model, file, {});
            expect(sameState(w, resolveChatWrapper(model, {warningLogs: false}))).toBe(true);
            const after = JSON.parse(fs.readFileSync(memoFile, "utf8")) as {entries: Record<string, {type: string}>};
            expect(Object.values(after.entries).filter((r) => r.type !== "noSuchWrapper")).toHaveLength(1);
        } finally {
            await model.dispose();
        }
    });

    it("compares state deeply: values, prototypes and closures' source, passing over only _llama", () => {
        class A {
            constructor(readonly v: unknown, readonly f = () => 1, readonly _llama: unknown = {}) {}
        }
        expect(sameState(new A({x: [1, 2]}), new A({x: [1, 2]}))).toBe(true);
        expect(sameState(new A({x: [1, 2]}), new A({x: [1, 3]}))).toBe(false);
        expect(sameState(new A(1, () => 2), new A(1))).toBe(false);
        expect(sameState(new A(1, undefined, "one engine"), new A(1, undefined, "another"))).toBe(true);
        expect(sameState(new A(new Map([["k", 1]])), new A(new Map([["k", 2]])))).toBe(false);
        expect(sameState({a: 1}, new A(1))).toBe(false);
        const cyclic: {self?: unknown} = {};
        cyclic.self = cyclic;
        const other: {self?: unknown} = {};
        other.self = other;
        expect(sameState(cyclic, other)).toBe(true);
    });
});
