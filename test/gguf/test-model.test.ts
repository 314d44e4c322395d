import {execFile} from "node:child_process";
import {mkdtemp, open, readFile, rm, stat} from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {promisify} from "node:util";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {
    GgufInsights,
    JinjaTemplateChatWrapper,
    LlamaChat,
    LlamaCompletion,
    LlamaLogLevel,
    TokenBias,
    getLlama,
    readGgufFileInfo,
    resolveChatWrapper,
    type ChatHistoryItem,
    type GgufTensorInfo,
    type Llama,
    type LlamaModel,
    type Token
} from "node-llama-cpp";
import {writeTestModel, type TestModelInfo, type TestModelOptions} from "../../src/gguf/test-model.js";
import {encodeF16, encodeQ8_0} from "../../src/gguf/writer.js";

const HISTORY: ChatHistoryItem[] = [
    {type: "system", text: "You are terse."},
    {type: "user", text: "Hello, who are you?"}
];
// Every sampling option explicit: node-llama-cpp's defaults are not Ollama's.
const GREEDY = {maxTokens: 16, temperature: 0, topK: 40, topP: 0.95, minP: 0, repeatPenalty: false} as const;

let dir: string;
let llama: Llama;
const models: Record<string, TestModelInfo> = {};

const VARIANTS: Record<string, TestModelOptions> = {
    default: {},
    f32: {quantization: "f32"},
    f16: {quantization: "f16"},
    fim: {fim: true},
    tools: {tools: true},
    embeddingMean: {embedding: {pooling: "mean"}},
    embeddingLast: {embedding: {pooling: "last"}},
    split: {split: 3},
    projector: {projector: true, name: "Vision Test"},
    truncated: {truncateTensorData: true},
    qwen2: {architecture: "qwen2"},
    aligned64: {alignment: 64, tieEmbeddings: true},
    // The realistic preset's shape with one block and a small vocabulary, so the suite stays fast.
    realisticSlice: {realisticShape: true, blockCount: 1, extraTokens: 200}
};

beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "zc-test-model-"));
    for (const [name, options] of Object.entries(VARIANTS))
        models[name] = await writeTestModel(path.join(dir, `${name}.gguf`), options);
    llama = await getLlama({gpu: false, build: "never", maxThreads: 1, logLevel: LlamaLogLevel.error});
});

afterAll(async () => {
    await llama?.dispose();
    await rm(dir, {recursive: true, force: true});
});

async function withModel<T>(modelPath: string, fn: (model: LlamaModel) => Promise<T>): Promise<T> {
    const model = await llama.loadModel({modelPath, gpuLayers: 0});
    try {
        return await fn(model);
    } finally {
        await model.dispose();
    }
}

/** `times` greedy chats, each on a fresh sequence of one context. */
async function chat(modelPath: string, times = 1): Promise<{texts: string[]; stopReason: string; wrapper: string}> {
    return withModel(modelPath, async (model) => {
        const context = await model.createContext({contextSize: 256, sequences: times});
        const texts: string[] = [];
        let stopReason = "";
        let wrapper = "";
        for (let i = 0; i < times; i++) {
            const chat = new LlamaChat({contextSequence: context.getSequence()});
            const res = await chat.generateResponse(HISTORY, GREEDY);
            texts.push(res.response);
            stopReason = res.metadata.stopReason;
            wrapper = chat.chatWrapper.wrapperName;
        }
        return {texts, stopReason, wrapper};
    });
}

/** `general.type` is written by gguf-py ("model" | "adapter" | "mmproj") but missing from node-llama-cpp's typings. */
function generalType(info: {metadata: {general: object}}): unknown {
    return (info.metadata.general as {type?: unknown}).type;
}

async function readTensorBytes(file: string, tensor: GgufTensorInfo, length: number): Promise<Buffer> {
    const fh = await open(file, "r");
    try {
        const buf = Buffer.alloc(length);
        await fh.read(buf, 0, length, Number(tensor.fileOffset));
        return buf;
    } finally {
        await fh.close();
    }
}

describe("test-model headers (readGgufFileInfo)", () => {
    it("the default model is a tiny q8_0 llama with a ChatML template", async () => {
        const m = models.default;
        expect(m.totalSize).toBeLessThan(512 * 1024);
        const info = await readGgufFileInfo(m.path, {logWarnings: false});
        expect(info.version).toBe(3);
        expect(info.metadata.general.architecture).toBe("llama");
        expect(generalType(info)).toBe("model");
        expect(info.metadata.general.file_type).toBe(7);
        expect(info.metadata.general.name).toBe("ZombieCoder Test llama");
        expect(info.metadata.general.size_label).toBe(m.sizeLabel);
        expect(info.architectureMetadata.context_length).toBe(2048);
        expect(info.architectureMetadata.embedding_length).toBe(64);
        expect(info.architectureMetadata.block_count).toBe(2);
        expect(info.architectureMetadata.attention?.head_count_kv).toBe(2);
        expect(info.architectureMetadata.vocab_size).toBe(m.vocabSize);
        expect(info.architectureMetadata.pooling_type).toBeUndefined();
        expect(info.metadata.tokenizer.ggml.model).toBe("llama");
        expect(info.metadata.tokenizer.ggml.tokens.length).toBe(m.vocabSize);
        expect(info.metadata.tokenizer.ggml.tokens[m.tokens.imEnd]).toBe("<|im_end|>");
        expect(info.metadata.tokenizer.ggml.tokens[m.tokens.byteBase + 0x0a]).toBe("<0x0A>");
        expect(info.metadata.tokenizer.ggml.eot_token_id).toBe(m.tokens.imEnd);
        expect(info.metadata.tokenizer.ggml.fim_pre_token_id).toBeUndefined();
        expect(info.metadata.tokenizer.chat_template).toContain("<|im_start|>");
        expect(info.metadata.tokenizer.chat_template).not.toMatch(/\btools\b/);
        expect(info.tensorInfo?.length).toBe(m.tensorCount);
        expect(m.tensorCount).toBe(3 + 9 * 2);
    });

    it("records the encoding in general.file_type", async () => {
        for (const [name, fileType] of [["f32", 0], ["f16", 1], ["default", 7]] as const) {
            const info = await readGgufFileInfo(models[name].path, {logWarnings: false});
            expect(info.metadata.general.file_type).toBe(fileType);
        }
    });

    it("describes FIM, tools, embedding, split, projector, second-architecture and realistic variants", async () => {
        const fim = await readGgufFileInfo(models.fim.path, {logWarnings: false});
        expect(fim.metadata.tokenizer.ggml.fim_pre_token_id).toBe(models.fim.tokens.fimPrefix);
        expect(fim.metadata.tokenizer.ggml.fim_suf_token_id).toBe(models.fim.tokens.fimSuffix);
        expect(fim.metadata.tokenizer.ggml.fim_mid_token_id).toBe(models.fim.tokens.fimMiddle);

        const tools = await readGgufFileInfo(models.tools.path, {logWarnings: false});
        expect(tools.metadata.tokenizer.chat_template).toMatch(/\btools\b/);
        expect(tools.metadata.tokenizer.chat_template).toContain("<tool_call>");

        const emb = await readGgufFileInfo(models.embeddingMean.path, {logWarnings: false});
        expect(emb.architectureMetadata.pooling_type).toBe(1);
        expect(emb.metadata.tokenizer.chat_template).toBeUndefined();
        const embLast = await readGgufFileInfo(models.embeddingLast.path, {logWarnings: false});
        expect(embLast.architectureMetadata.pooling_type).toBe(3);

        const split = await readGgufFileInfo(models.split.path, {logWarnings: false});
        expect(models.split.files.map((f) => path.basename(f.path)))
            .toEqual(["split-00001-of-00003.gguf", "split-00002-of-00003.gguf", "split-00003-of-00003.gguf"]);
        expect(split.splicedParts).toBe(3);
        expect(split.totalTensorCount).toBe(models.default.tensorCount);
        const splitMeta = split.metadata as unknown as {split: {no: number; count: number; tensors: {count: number}}};
        expect(splitMeta.split).toEqual({no: 0, count: 3, tensors: {count: models.default.tensorCount}});
        expect(split.architectureMetadata.context_length).toBe(2048);

        const projector = models.projector.projector;
        expect(projector).toBeDefined();
        expect(path.basename(projector?.path ?? "")).toBe("mmproj-projector.gguf");
        const proj = await readGgufFileInfo(projector?.path ?? "", {logWarnings: false});
        expect(proj.metadata.general.architecture).toBe("clip");
        expect(generalType(proj)).toBe("mmproj");
        const clip = (proj.metadata as unknown as {clip: {projector_type: string; vision: {projection_dim: number}}}).clip;
        expect(clip.projector_type).toBe("mlp");
        expect(clip.vision.projection_dim).toBe(64);
        expect(proj.tensorInfo?.[0]?.dimensions).toEqual([16, 16, 3, 32]);

        const qwen2 = await readGgufFileInfo(models.qwen2.path, {logWarnings: false});
        expect(qwen2.metadata.general.architecture).toBe("qwen2");
        expect(qwen2.architectureMetadata.embedding_length).toBe(64);
        expect(qwen2.tensorInfo?.some((t) => t.name === "blk.0.attn_q.bias")).toBe(true);

        const aligned = await readGgufFileInfo(models.aligned64.path, {logWarnings: false});
        expect(aligned.metadata.general.alignment).toBe(64);
        expect(aligned.tensorInfo?.every((t) => Number(t.fileOffset) % 64 === 0)).toBe(true);
        expect(aligned.tensorInfo?.some((t) => t.name === "output.weight")).toBe(false);

        const real = await readGgufFileInfo(models.realisticSlice.path, {logWarnings: false});
        expect(real.architectureMetadata).toMatchObject({
            embedding_length: 896, feed_forward_length: 4864, context_length: 32768,
            attention: {head_count: 14, head_count_kv: 2}, rope: {dimension_count: 64}
        });
        expect(real.metadata.general.file_type).toBe(7);
        const insights = await GgufInsights.from(real, llama);
        expect(insights.totalParameters).toBe(models.realisticSlice.parameterCount);
    });

    it("a truncated model keeps a readable header but fails to load", async () => {
        const m = models.truncated;
        expect((await stat(m.path)).size).toBe(m.files[0].size);
        expect(m.files[0].size).toBeLessThan(models.default.files[0].size);
        const info = await readGgufFileInfo(m.path, {logWarnings: false});
        expect(info.metadata.general.architecture).toBe("llama");
        expect(info.tensorInfo?.length).toBe(m.tensorCount);
        // node-llama-cpp 3.22.1: a rejected loadModel leaves a prevent-disposal handle on its Llama that is
        // only released through the half-built model; once that is garbage-collected, llama.dispose() never
        // settles. So the failing load runs on a throwaway instance that is deliberately not disposed.
        const probe = await getLlama({gpu: false, build: "never", maxThreads: 1, logLevel: LlamaLogLevel.fatal});
        await expect(probe.loadModel({modelPath: m.path, gpuLayers: 0})).rejects.toThrow(/Failed to load model/);
    });
});

describe("test-model weights", () => {
    it("f32, f16 and q8_0 encode the same numbers (f16/q8_0 bytes equal re-encoding the f32 values)", async () => {
        const [f32, f16, q8] = await Promise.all(["f32", "f16", "default"].map((n) => readGgufFileInfo(models[n].path, {logWarnings: false})));
        // output.weight includes the zeroed (suppressed) rows, attn_q a plain random matrix.
        for (const name of ["output.weight", "blk.1.attn_q.weight", "token_embd.weight"]) {
            const t32 = f32.tensorInfo?.find((t) => t.name === name);
            const t16 = f16.tensorInfo?.find((t) => t.name === name);
            const t8 = q8.tensorInfo?.find((t) => t.name === name);
            if (t32 == null || t16 == null || t8 == null)
                throw new Error(`missing ${name}`);
            const count = t32.dimensions.reduce((a: number, b) => a * Number(b), 1);
            const raw = await readTensorBytes(models.f32.path, t32, count * 4);
            const values = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
            expect(values.some((v) => v !== 0)).toBe(true);
            // Buffer.equals: vitest's deep equality is slow on 100 KB buffers.
            expect((await readTensorBytes(models.f16.path, t16, count * 2)).equals(encodeF16(values)), `${name} f16`).toBe(true);
            expect((await readTensorBytes(models.default.path, t8, (count / 32) * 34)).equals(encodeQ8_0(values)), `${name} q8_0`).toBe(true);
        }
    });

    it("the same seed writes the same bytes; another seed does not", async () => {
        const again = await writeTestModel(path.join(dir, "again.gguf"));
        const other = await writeTestModel(path.join(dir, "other.gguf"), {seed: 2});
        const base = await readFile(models.default.path);
        expect((await readFile(again.path)).equals(base)).toBe(true);
        expect((await readFile(other.path)).equals(base)).toBe(false);
    });
});

describe("test models in node-llama-cpp", () => {
    it("the default model answers a chat deterministically via LlamaChat; the split copy agrees, every encoding generates", async () => {
        const {texts, stopReason, wrapper} = await chat(models.default.path, 2);
        expect(wrapper).toBe("ChatML");
        expect(texts[0].length).toBeGreaterThan(0);
        expect(texts[1]).toBe(texts[0]);
        expect(stopReason).toBe("maxTokens");
        // The split copy runs the very same tensors through the very same kernels.
        expect((await chat(models.split.path)).texts[0]).toBe(texts[0]);
        // f32 and f16 hold the same numbers, but each encoding has its own kernels (q8_0 also rounds the activations),
        // so a random model's greedy text may part ways between them; scripted-model.test.ts checks that a scripted
        // model's text does not.
        for (const name of ["f32", "f16"])
            expect((await chat(models[name].path)).texts[0].length, name).toBeGreaterThan(0);
    });

    it("the tokenizer round-trips text and ends a turn on <|im_end|>", async () => {
        const m = models.default;
        await withModel(m.path, async (model) => {
            expect(model.vocabularyType).toBe("spm");
            expect(model.tokens.bos).toBe(m.tokens.bos);
            expect(model.tokens.eos).toBe(m.tokens.eos);
            expect(model.tokens.eot).toBe(m.tokens.imEnd);
            expect(model.isEogToken(m.tokens.imEnd as Token)).toBe(true);
            expect(model.tokens.infill.prefix).toBeNull();
            const tokens = model.tokenize("<|im_start|>user\nHello world, 1+1=2 ünï", true);
            expect(tokens[0]).toBe(m.tokens.imStart);
            expect(model.detokenize(tokens, true)).toBe("<|im_start|>user\nHello world, 1+1=2 ünï");
            expect(model.detokenize(model.tokenize("the user"))).toBe("the user");

            // TokenBias ignores end-of-generation tokens, so <|im_end|> is forced by banning every other token.
            const onlyImEnd = new TokenBias(model.tokenizer);
            for (let id = 0; id < m.vocabSize; id++)
                if (id !== m.tokens.imEnd)
                    onlyImEnd.set(id as Token, "never");
            const context = await model.createContext({contextSize: 256});
            const chat = new LlamaChat({contextSequence: context.getSequence()});
            const res = await chat.generateResponse(HISTORY, {...GREEDY, tokenBias: onlyImEnd});
            expect(res.response).toBe("");
            expect(res.metadata.stopReason).not.toBe("maxTokens");
        });
    });

    it("a tool-capable template is run by the Jinja wrapper with a function-call syntax", async () => {
        await withModel(models.tools.path, async (model) => {
            const wrapper = resolveChatWrapper(model);
            expect(wrapper).toBeInstanceOf(JinjaTemplateChatWrapper);
            expect((wrapper as JinjaTemplateChatWrapper).usingJinjaFunctionCallTemplate).toBe(true);
            const context = await model.createContext({contextSize: 512});
            const chat = new LlamaChat({contextSequence: context.getSequence(), chatWrapper: wrapper});
            const res = await chat.generateResponse(HISTORY, {
                ...GREEDY, functions: {getWeather: {description: "Weather for a city", params: {type: "object", properties: {city: {type: "string"}}}}}
            });
            expect(typeof res.response).toBe("string");
        });
    });

    it("FIM models support infill; others do not", async () => {
        await withModel(models.fim.path, async (model) => {
            expect(model.tokens.infill.prefix).toBe(models.fim.tokens.fimPrefix);
            expect(model.tokens.infill.suffix).toBe(models.fim.tokens.fimSuffix);
            expect(model.tokens.infill.middle).toBe(models.fim.tokens.fimMiddle);
            const context = await model.createContext({contextSize: 256});
            const completion = new LlamaCompletion({contextSequence: context.getSequence()});
            expect(completion.infillSupported).toBe(true);
            const fill = await completion.generateInfillCompletion("function add(a, b) {\n    ", "\n}", {...GREEDY, maxTokens: 8});
            expect(fill.length).toBeGreaterThan(0);
        });
        await withModel(models.default.path, async (model) => {
            const context = await model.createContext({contextSize: 256});
            const completion = new LlamaCompletion({contextSequence: context.getSequence()});
            expect(completion.infillSupported).toBe(false);
        });
    });

    it("embedding models produce embedding_length vectors, pooled as the header says", async () => {
        const vectors: Record<string, readonly number[]> = {};
        for (const name of ["embeddingMean", "embeddingLast"])
            await withModel(models[name].path, async (model) => {
                const ec = await model.createEmbeddingContext({contextSize: 256});
                vectors[name] = (await ec.getEmbeddingFor("Hello world")).vector;
            });
        expect(vectors.embeddingMean.length).toBe(64);
        expect(vectors.embeddingLast.length).toBe(64);
        // Same weights, different pooling_type: llama.cpp must honour the key.
        expect(vectors.embeddingMean).not.toEqual(vectors.embeddingLast);
    });

    it("the qwen2-labelled model and a tied-embedding model load and generate", async () => {
        for (const name of ["qwen2", "aligned64"]) {
            const {texts} = await chat(models[name].path);
            expect(texts[0].length, name).toBeGreaterThan(0);
        }
    });
});

describe("make-test-model CLI", () => {
    it("writes a model and prints its info as JSON", async () => {
        const out = path.join(dir, "cli.gguf");
        const {stdout} = await promisify(execFile)(
            process.execPath,
            ["--import", "tsx", path.resolve("scripts/make-test-model.ts"), out, "--fim", "--tools", "--quant", "f16", "--seed", "7"],
            {cwd: path.resolve(".")}
        );
        const info = JSON.parse(stdout) as TestModelInfo;
        expect(info.path).toBe(out);
        expect(info.quantization).toBe("f16");
        expect(info.seed).toBe(7);
        expect(info.tokens.fimPrefix).toBeTypeOf("number");
        const header = await readGgufFileInfo(out, {logWarnings: false});
        expect(header.metadata.general.file_type).toBe(1);
        expect(header.metadata.tokenizer.chat_template).toContain("<tool_call>");
    });
});
