import {execFile} from "node:child_process";
import {mkdtemp, rm} from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {promisify} from "node:util";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {
    getLlama,
    LlamaChat,
    LlamaCompletion,
    LlamaLogLevel,
    type ChatHistoryItem,
    type ChatModelFunctions,
    type Llama,
    type LlamaModel,
    type Token
} from "node-llama-cpp";
import {toolCallScript} from "../../src/gguf/script.js";
import {writeTestModel, type TestModelInfo, type TestModelOptions} from "../../src/gguf/test-model.js";

const HISTORY: ChatHistoryItem[] = [
    {type: "system", text: "You are terse."},
    {type: "user", text: "Hello, who are you?"}
];
const ANSWER = "Hello! I am a scripted model, and the answer repeats words: the answer, the end.";

let dir: string;
const llamas = new Map<number, Llama>();

beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "zc-scripted-"));
});

afterAll(async () => {
    for (const llama of llamas.values())
        await llama.dispose();
    await rm(dir, {recursive: true, force: true});
});

/** One Llama per thread count: maxThreads is fixed when a Llama is made. */
async function llamaWith(threads: number): Promise<Llama> {
    let llama = llamas.get(threads);
    if (llama == null) {
        llama = await getLlama({gpu: false, build: "never", maxThreads: threads, logLevel: LlamaLogLevel.error});
        llamas.set(threads, llama);
    }
    return llama;
}

let fileNo = 0;
async function write(options: TestModelOptions): Promise<TestModelInfo> {
    return writeTestModel(path.join(dir, `m${fileNo++}.gguf`), options);
}

async function withModel<T>(info: TestModelInfo, threads: number, fn: (model: LlamaModel) => Promise<T>): Promise<T> {
    const llama = await llamaWith(threads);
    const model = await llama.loadModel({modelPath: info.path, gpuLayers: 0});
    try {
        return await fn(model);
    } finally {
        await model.dispose();
    }
}

async function chatOnce(model: LlamaModel, threads: number, options: {maxTokens?: number; temperature?: number; seed?: number; functions?: ChatModelFunctions} = {}) {
    const context = await model.createContext({contextSize: 1024, threads});
    try {
        const chat = new LlamaChat({contextSequence: context.getSequence()});
        return await chat.generateResponse(HISTORY, {maxTokens: 200, temperature: 0, ...options});
    } finally {
        await context.dispose();
    }
}

describe("scripted models: compiling a script", () => {
    it("gives every piece of the text its own token, also where words repeat, and grows the width to fit", async () => {
        const info = await write({script: ANSWER});
        const turn = info.script!.turns[0]!;
        expect(turn.pieces.join("")).toBe(ANSWER);
        expect(new Set(turn.tokens).size).toBe(turn.tokens.length);
        expect(turn.endToken).toBe(info.tokens.eot);
        expect(info.tieEmbeddings).toBe(false);
        expect(info.dimensions.embeddingLength).toBeGreaterThanOrEqual(info.script!.states);
        expect(info.script!.logit).toBeGreaterThan(40);

        const long = await write({script: Array.from({length: 90}, (_, i) => `w${i}`).join(" ")});
        expect(long.script!.states).toBeGreaterThan(64);
        expect(long.dimensions.embeddingLength % 32).toBe(0);
        expect(long.dimensions.embeddingLength).toBeGreaterThanOrEqual(long.script!.states);
    });

    it("refuses what it cannot build, with the reason", async () => {
        await expect(write({script: "a b c d e f", embeddingLength: 32, headCount: 2, headCountKv: 1, extraTokens: 0}))
            .resolves.toBeDefined();
        await expect(write({script: Array.from({length: 40}, (_, i) => `w${i}`).join(" "), embeddingLength: 32}))
            .rejects.toThrow(/needs \d+ states but embeddingLength is 32/);
        await expect(write({script: "x", tieEmbeddings: true})).rejects.toThrow(/tieEmbeddings/);
        await expect(write({script: "x", embedding: true})).rejects.toThrow(/embedding model/);
        await expect(write({script: [{text: "a"}, {text: "b"}]})).rejects.toThrow(/at most one scripted turn/);
        await expect(write({script: [{text: "a", after: "no such token anywhere"}]})).rejects.toThrow(/no token/);
        await expect(write({script: {text: "a", then: {token: "<|nope|>"}}})).rejects.toThrow(/no token "<\|nope\|>"/);
        await expect(write({script: {text: "", then: "repeat"}})).rejects.toThrow(/"repeat" needs a non-empty text/);
        // one token cannot follow two different tokens: a whole token such as <tool_call> appears once
        await expect(write({tools: true, script: "<tool_call> <tool_call>"})).rejects.toThrow(/no distinct tokens are left/);
    });
});

describe("scripted models in node-llama-cpp: the same text on every encoding and thread count", () => {
    for (const quantization of ["f32", "q8_0"] as const)
        for (const threads of [1, 2])
            it(`${quantization}, ${threads} thread${threads > 1 ? "s" : ""}: greedy chat output is the script, ended by end-of-generation`, async () => {
                const info = await write({script: ANSWER, quantization});
                await withModel(info, threads, async (model) => {
                    const res = await chatOnce(model, threads);
                    expect(res.response).toBe(ANSWER);
                    expect(res.metadata.stopReason).toBe("eogToken");
                });
            });

    it("the scripted token's probability is 1 to float precision, even sampled at temperature 1", async () => {
        const info = await write({script: ANSWER});
        await withModel(info, 1, async (model) => {
            const context = await model.createContext({contextSize: 512});
            try {
                const sequence = context.getSequence();
                const expected = info.script!.turns[0]!.tokens;
                const seen: number[] = [];
                for await (const out of sequence.evaluateWithMetadata(model.tokenize("any prompt at all"), {probabilities: true}, {temperature: 1})) {
                    const ranked = [...out.probabilities.entries()].sort((a, b) => b[1] - a[1]);
                    expect(ranked[0]![0]).toBe(expected[seen.length]);
                    expect(ranked[0]![1]).toBeGreaterThan(1 - 1e-9);
                    expect(ranked[1]?.[1] ?? 0).toBeLessThan(1e-9);
                    seen.push(out.token);
                    if (seen.length === expected.length)
                        break;
                }
                expect(seen).toEqual(expected);
            } finally {
                await context.dispose();
            }
            // and sampling with penalties and a seed writes the same text
            const sampled = await chatOnce(model, 1, {temperature: 1, seed: 7});
            expect(sampled.response).toBe(ANSWER);
        });
    });

    it("\"repeat\" runs 1,500 tokens without end-of-generation, exactly the text over and over", async () => {
        const cycle = "Round and round, never done; ";
        const info = await write({script: {text: cycle, then: "repeat"}});
        const pieces = info.script!.turns[0]!.pieces;
        const expected = Array.from({length: 1500}, (_, i) => pieces[i % pieces.length]).join("");
        await withModel(info, 1, async (model) => {
            const context = await model.createContext({contextSize: 2048});
            try {
                const sequence = context.getSequence();
                const before = sequence.tokenMeter.getState();
                const text = await new LlamaCompletion({contextSequence: sequence}).generateCompletion("go", {maxTokens: 1500, temperature: 0});
                expect(text).toBe(expected);
                expect(sequence.tokenMeter.diff(before).usedOutputTokens).toBe(1500);
            } finally {
                await context.dispose();
            }
        });
    });

    it("`after` picks the turn by the prompt's last token: fill-in-the-middle and plain completion answer differently", async () => {
        const info = await write({fim: true, script: [{text: "plain completion text"}, {after: "<|fim_middle|>", text: "return a + b"}]});
        await withModel(info, 1, async (model) => {
            const context = await model.createContext({contextSize: 512});
            try {
                const completion = new LlamaCompletion({contextSequence: context.getSequence()});
                expect(await completion.generateInfillCompletion("def add(a, b):\n    ", "\n", {maxTokens: 50, temperature: 0})).toBe("return a + b");
                expect(await completion.generateCompletion("def add(a, b):", {maxTokens: 50, temperature: 0})).toBe("plain completion text");
            } finally {
                await context.dispose();
            }
        });
    });

    it("the realistic shape (one block of it) follows its script too", async () => {
        const info = await write({realisticShape: true, blockCount: 1, extraTokens: 200, script: ANSWER});
        expect(info.dimensions.embeddingLength).toBe(896);
        await withModel(info, 2, async (model) => {
            expect((await chatOnce(model, 2)).response).toBe(ANSWER);
        });
    });
});

describe("scripted models under other chat formats", () => {
    it("Qwen3-style: <think>…</think> comes back as a thought segment before the answer", async () => {
        const info = await write({chatFormat: "qwen3", script: "<think>\nThe user greets me.\n</think>\n\nHello! I think, therefore I answer."});
        await withModel(info, 1, async (model) => {
            const res = await chatOnce(model, 1);
            expect(res.response.trim()).toBe("Hello! I think, therefore I answer.");
            const thought = res.fullResponse.find((part) => typeof part !== "string");
            expect(thought).toMatchObject({type: "segment", segmentType: "thought", text: "The user greets me."});
        });
    });

    it("Harmony-style: the final channel's text is the answer", async () => {
        const info = await write({chatFormat: "harmony", script: "Hello from the final channel."});
        await withModel(info, 1, async (model) => {
            // with both <|return|> and <|call|> in the vocabulary, llama.cpp no longer ends generation on <|end|>
            expect(model.isEogToken(model.tokenize("<|return|>", true)[0] as Token)).toBe(true);
            expect(model.isEogToken(model.tokenize("<|end|>", true)[0] as Token)).toBe(false);
            const res = await chatOnce(model, 1);
            expect(res.response).toBe("Hello from the final channel.");
            expect(res.metadata.stopReason).toBe("eogToken");
        });
    });

    it("ChatML tools: a scripted tool call is parsed by node-llama-cpp's function calling", async () => {
        const info = await write({tools: true, script: toolCallScript({name: "get_weather", arguments: {city: "Paris"}})});
        const functions: ChatModelFunctions = {
            get_weather: {description: "Weather in a city", params: {type: "object", properties: {city: {type: "string"}}}},
            get_time: {description: "Time in a zone", params: {type: "object", properties: {zone: {type: "string"}}}}
        };
        await withModel(info, 1, async (model) => {
            const res = await chatOnce(model, 1, {functions, maxTokens: 100});
            expect(res.metadata.stopReason).toBe("functionCalls");
            expect(res.functionCalls?.map((c) => [c.functionName, c.params])).toEqual([["get_weather", {city: "Paris"}]]);
        });
    });
});

describe("make-test-model CLI", () => {
    it("--script writes a scripted model; a bad --then is refused with the usage", async () => {
        const out = path.join(dir, "cli-scripted.gguf");
        const run = (args: string[]) => promisify(execFile)(process.execPath, ["--import", "tsx", path.resolve("scripts/make-test-model.ts"), out, ...args], {cwd: path.resolve(".")});
        const {stdout} = await run(["--script", "Hi from the CLI.", "--then", "repeat"]);
        const info = JSON.parse(stdout) as TestModelInfo;
        expect(info.script?.turns[0]?.pieces.join("")).toBe("Hi from the CLI.");
        expect(info.script?.turns[0]?.then).toBe("repeat");
        await expect(run(["--script", "x", "--then", "never"])).rejects.toMatchObject({code: 1, stderr: expect.stringMatching(/--then must be one of/)});
    });
});
