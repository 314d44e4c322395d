/**
 * Tiny, valid, deterministic GGUF models for tests, benchmarks and the first-run setup.
 *
 * The weights are random (seeded), so the text is gibberish, but every variant loads in llama.cpp /
 * node-llama-cpp and greedy decoding is reproducible. Weights are drawn as `q · 2^k` with integer
 * |q| ≤ 127 and every 32-value block containing a ±127, so f32, f16 and q8_0 encode *exactly* the
 * same numbers; only the engine's activation rounding differs between encodings.
 *
 * How a header scanner tells the variants apart (all of it visible to readGgufFileInfo):
 * - embedding model: `<arch>.pooling_type` present and ≠ 0 (1 mean, 2 cls, 3 last, 4 rank), and no chat
 *   template. `general.type` stays "model" (gguf-py has no "embedding" type); real-world embedding GGUFs
 *   are also recognisable by encoder architectures (bert, nomic-bert, …) or `<arch>.attention.causal = false`.
 * - projector: `general.type == "mmproj"` or `general.architecture == "clip"` (older files lack general.type);
 *   never list it as a model of its own, pair it with the model in the same folder.
 * - FIM: `tokenizer.ggml.fim_pre_token_id` + `fim_suf_token_id`, *or* tokens named `<|fim_prefix|>`,
 *   `<|fim_suffix|>` (llama.cpp also detects them by text alone, verified without the keys).
 * - tools: the Jinja `tokenizer.chat_template` references `tools` (and usually `<tool_call>`).
 * - split: `split.count` > 1 in part 1; parts match `-NNNNN-of-NNNNN.gguf`; only part 1 has metadata.
 *
 * A *scripted* model (option `script`, see script.ts) is the exception to "gibberish": its weights make greedy
 * decoding write a chosen text with a logit margin of about 64, so the output is the same on every CPU kernel,
 * thread count and encoding. Every block's attention and feed-forward weights are zero, so each block adds exactly
 * zero and the residual stream reaching the output head is the current token's embedding; embeddings are one-hot
 * (one coordinate per script state, every other token on a shared "sink" coordinate); the output head maps each
 * state's coordinate to its successor token. The RMSNorm of a one-hot vector is √n_embd on that coordinate, so the
 * scripted token's logit is (output value) · √n_embd, about 64, and every other logit is exactly 0.
 */
import path from "node:path";
import {compileScript, type CompiledTurn, type TestModelScript} from "./script.js";
import {CHAT_FORMATS, type ChatFormatName} from "./templates.js";
import {buildVocab, suppressedTokenIds, type TestModelTokenIds, type Vocab} from "./vocab.js";
import {
    GgmlType,
    encodeGgufHeader,
    encodeTensorValues,
    float32ToFloat16Bits,
    gguf,
    Q8_0_BLOCK_BYTES,
    writeGgufFile,
    type GgufMetadataValue,
    type GgufTensor,
    type WriteGgufResult
} from "./writer.js";

export {CHATML_TEMPLATE, CHATML_TOOLS_TEMPLATE} from "./templates.js";
export type {ChatFormatName} from "./templates.js";
export type {TestModelTokenIds} from "./vocab.js";
export type {CompiledTurn, ScriptEnd, ScriptedTurn, TestModelScript} from "./script.js";

export type TestModelQuantization = "f32" | "f16" | "q8_0";
export type TestModelPooling = "none" | "mean" | "cls" | "last" | "rank";

export interface TestModelDimensions {
    /** `<arch>.embedding_length` (n_embd). */
    embeddingLength: number;
    /** `<arch>.block_count`. */
    blockCount: number;
    /** `<arch>.attention.head_count`; must divide embeddingLength. */
    headCount: number;
    /** `<arch>.attention.head_count_kv`; must divide headCount. */
    headCountKv: number;
    /** `<arch>.feed_forward_length`. */
    feedForwardLength: number;
    /** `<arch>.context_length` (training context). */
    contextLength: number;
    /** Normal (merged / single-character) vocabulary pieces on top of the 256 byte tokens and the specials. */
    extraTokens: number;
}

export interface TestModelOptions extends Partial<TestModelDimensions> {
    /** Starting point for every unset dimension; explicit fields override it. Default "tiny". */
    preset?: TestModelPresetName;
    /** Shorthand for `preset: "realistic"` (Qwen2.5-0.5B-like shape, q8_0, tied embeddings). */
    realisticShape?: boolean;
    /** `general.name`. Default "ZombieCoder Test <arch>". */
    name?: string;
    /** PRNG seed for the weights. Default 1. */
    seed?: number;
    /** Encoding of the 2-D weights (norms and biases stay f32, as converters do). Default: the preset's. */
    quantization?: TestModelQuantization;
    /**
     * `general.architecture` and the prefix of the hyperparameter keys. The tensors are always llama's;
     * "qwen2" additionally gets q/k/v biases so llama.cpp loads it. Other names only yield a readable header.
     */
    architecture?: string;
    /** Omit `output.weight` (the engine then reuses `token_embd`). Default: the preset's. */
    tieEmbeddings?: boolean;
    /** Add `<|fim_prefix|>`, `<|fim_suffix|>`, `<|fim_middle|>` and the tokenizer.ggml.fim_*_token_id keys. */
    fim?: boolean;
    /** Qwen2.5-style chat template that renders `tools` and `<tool_call>` blocks (plus those tokens). */
    tools?: boolean;
    /** Replace the generated chat template; `false` writes none. */
    chatTemplate?: string | false;
    /**
     * A chat format: its template (unless `chatTemplate` is given), the tokens it writes and its end-of-turn token.
     * "chatml-tools" and "qwen3" imply `tools`. Default "chatml" ("chatml-tools" with `tools`).
     */
    chatFormat?: ChatFormatName;
    /** More control tokens, rendered only as special tokens (`<|start|>`…). */
    specialTokens?: readonly string[];
    /** More user-defined tokens: kept whole in any input, rendered as text (`<think>`…). */
    addedTokens?: readonly string[];
    /**
     * Make greedy (and sampled: the margin is about 64 logits) decoding write these turns, the same on every CPU.
     * Needs untied embeddings; grows `embeddingLength` when the script has more states than it (an explicit
     * embeddingLength that is too small is an error). See script.ts for how prompts pick the turn.
     */
    script?: TestModelScript;
    /**
     * Make it an embedding model: writes `<arch>.pooling_type` and (by default) no chat template.
     * `true` means mean pooling.
     */
    embedding?: boolean | {pooling?: TestModelPooling};
    /** Write `<base>-00001-of-0000N.gguf` … with split.* keys; N ≥ 2. */
    split?: number;
    /** Also write a CLIP-style projector `mmproj-<base>.gguf` next to the model. */
    projector?: boolean;
    /** Cut the tensor data short (header stays valid, loading fails). Applies to the last file written. */
    truncateTensorData?: boolean;
    /** GGUF data alignment (`general.alignment` is written when not 32). */
    alignment?: number;
    /**
     * Zero the output rows of control/unknown tokens and non-printable byte tokens so greedy decoding
     * emits printable text and never ends by itself. Default true. With tied embeddings the same rows of
     * `token_embd` are zeroed, i.e. those tokens also have a zero input embedding (harmless, still valid).
     * To end a turn in a test, ban every other token with TokenBias ("never"): node-llama-cpp's TokenBias
     * silently ignores biases on end-of-generation tokens, so `<|im_end|>` cannot be boosted directly.
     */
    suppressSpecialTokens?: boolean;
}


export interface TestModelFile {
    path: string;
    /** Bytes on disk. */
    size: number;
    tensorCount: number;
}

export interface TestModelInfo {
    /** What to pass to loadModel / readGgufFileInfo (the first part of a split model). */
    path: string;
    /** Every model file written, in part order (one entry unless split). */
    files: TestModelFile[];
    /** Sum of the model files' sizes (projector excluded). */
    totalSize: number;
    projector?: TestModelFile & {projectorType: string};
    name: string;
    architecture: string;
    quantization: TestModelQuantization;
    /** `general.file_type`: 0 ALL_F32, 1 MOSTLY_F16, 7 MOSTLY_Q8_0. */
    fileType: number;
    dimensions: TestModelDimensions;
    vocabSize: number;
    headDim: number;
    parameterCount: number;
    sizeLabel: string;
    tensorCount: number;
    tieEmbeddings: boolean;
    tokens: TestModelTokenIds;
    chatTemplate?: string;
    pooling?: TestModelPooling;
    /** The compiled script of a scripted model. */
    script?: TestModelScriptInfo;
    splitCount: number;
    truncated: boolean;
    seed: number;
    alignment: number;
}

export interface TestModelScriptInfo {
    turns: CompiledTurn[];
    /** Logit of the scripted next token; every other token's logit is 0. */
    logit: number;
    /** Distinct states (sink included); embeddingLength is at least this. */
    states: number;
}

export type TestModelPresetName = "tiny" | "realistic";

interface Preset extends TestModelDimensions {
    quantization: TestModelQuantization;
    tieEmbeddings: boolean;
}

export const TEST_MODEL_PRESETS: Readonly<Record<TestModelPresetName, Readonly<Preset>>> = {
    // ≈ 200 KB at q8_0; multiples of 32 everywhere so every encoding is legal.
    tiny: {
        embeddingLength: 64,
        blockCount: 2,
        headCount: 4,
        headCountKv: 2,
        feedForwardLength: 192,
        contextLength: 2048,
        extraTokens: 256,
        quantization: "q8_0",
        tieEmbeddings: false
    },
    // Qwen2.5-0.5B's transformer shape with a small vocabulary: ≈ 360 M parameters, ≈ 380 MB at q8_0.
    realistic: {
        embeddingLength: 896,
        blockCount: 24,
        headCount: 14,
        headCountKv: 2,
        feedForwardLength: 4864,
        contextLength: 32768,
        extraTokens: 4096,
        quantization: "q8_0",
        tieEmbeddings: true
    }
};

const POOLING_TYPE_IDS: Readonly<Record<TestModelPooling, number>> = {none: 0, mean: 1, cls: 2, last: 3, rank: 4};

const QUANT: Readonly<Record<TestModelQuantization, {ggml: GgmlType; fileType: number}>> = {
    f32: {ggml: GgmlType.F32, fileType: 0},
    f16: {ggml: GgmlType.F16, fileType: 1},
    q8_0: {ggml: GgmlType.Q8_0, fileType: 7}
};

// ---------------------------------------------------------------------------------------------
// Weights

/** FNV-1a, to give every tensor its own stream independent of order, split layout and encoding. */
function hashString(s: string, seed: number): number {
    let h = (0x811c9dc5 ^ seed) >>> 0;
    for (let i = 0; i < s.length; i++) {
        h ^= s.charCodeAt(i);
        h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h;
}

/** xorshift128: fast, plenty for weights, fully reproducible across platforms. */
class Xorshift128 {
    private a: number;
    private b: number;
    private c: number;
    private d: number;

    constructor(seed: number) {
        // splitmix32 to spread a weak seed over the four state words (never all zero).
        let s = seed >>> 0;
        const next = (): number => {
            s = (s + 0x9e3779b9) >>> 0;
            let z = s;
            z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
            z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
            return (z ^ (z >>> 16)) >>> 0;
        };
        this.a = next();
        this.b = next();
        this.c = next();
        this.d = next() | 1;
    }

    nextU32(): number {
        let t = this.d;
        const s = this.a;
        this.d = this.c;
        this.c = this.b;
        this.b = s;
        t ^= t << 11;
        t ^= t >>> 8;
        this.a = (t ^ s ^ (s >>> 19)) >>> 0;
        return this.a;
    }
}

type Init =
    | {kind: "random"; std: number}
    | {kind: "constant"; value: number}
    /** Zero except the listed `[column, value]` entries of each listed row (row = index along dims[1]). */
    | {kind: "sparse"; rows: ReadonlyMap<number, ReadonlyArray<readonly [number, number]>>};

interface TensorPlan {
    name: string;
    dims: number[];
    type: GgmlType;
    init: Init;
    /** Rows (indices along dims[1]) to zero. */
    zeroRows?: Set<number>;
}

const BLOCK = 32;
// Chunk for streaming: big enough to amortize call overhead, small enough to keep memory flat.
const CHUNK_ELEMENTS = 1 << 20;

/** Power of two closest to the scale that gives uniform integers in [-127, 127] (std 127/√3) the target std. */
function weightScale(std: number): number {
    return 2 ** Math.round(Math.log2(std / (127 / Math.sqrt(3))));
}

/**
 * Values are `q · 2^k`, q uniform in [-127, 127], with one ±127 per block of 32 so q8_0's per-block
 * scale is exactly 2^k and the f16/q8_0 encodings reproduce the f32 values bit for bit. Because of
 * that, q8_0 blocks are laid out directly from q (byte-identical to `encodeQ8_0` of the floats, which
 * the tests check) instead of paying for a float round trip on 360 M values.
 */
function* tensorChunks(plan: TensorPlan, seed: number): Generator<Uint8Array> {
    const rowLength = plan.dims[0];
    const rows = plan.dims.slice(1).reduce((a, b) => a * b, 1);
    const rowsPerChunk = Math.max(1, Math.floor(CHUNK_ELEMENTS / rowLength));
    const init = plan.init;
    if (init.kind === "constant") {
        for (let row = 0; row < rows; row += rowsPerChunk) {
            const values = new Float32Array(Math.min(rowsPerChunk, rows - row) * rowLength).fill(init.value);
            yield encodeTensorValues(plan.type, values);
        }
        return;
    }
    if (init.kind === "sparse") {
        for (let row = 0; row < rows; row += rowsPerChunk) {
            const chunkRows = Math.min(rowsPerChunk, rows - row);
            const values = new Float32Array(chunkRows * rowLength);
            for (let r = 0; r < chunkRows; r++)
                for (const [col, value] of init.rows.get(row + r) ?? [])
                    values[r * rowLength + col] = value;
            yield encodeTensorValues(plan.type, values);
        }
        return;
    }

    const rng = new Xorshift128(hashString(plan.name, seed));
    const scale = weightScale(init.std);
    const scaleF16 = float32ToFloat16Bits(scale);
    for (let row = 0; row < rows; row += rowsPerChunk) {
        const chunkRows = Math.min(rowsPerChunk, rows - row);
        const q = new Int8Array(chunkRows * rowLength);
        for (let i = 0; i < q.length; i += BLOCK) {
            const n = Math.min(BLOCK, q.length - i);
            // Four weights per 32-bit draw; (byte · 255) >> 8 maps 0..255 onto 0..254.
            for (let j = 0; j < n; j += 4) {
                let r = rng.nextU32();
                const m = Math.min(4, n - j);
                for (let k = 0; k < m; k++, r >>>= 8)
                    q[i + j + k] = (((r & 0xff) * 255) >>> 8) - 127;
            }
            const r = rng.nextU32();
            q[i + (r & (BLOCK - 1)) % n] = r & 0x80 ? -127 : 127;
        }
        if (plan.zeroRows != null)
            for (let r = 0; r < chunkRows; r++)
                if (plan.zeroRows.has(row + r))
                    q.fill(0, r * rowLength, (r + 1) * rowLength);

        if (plan.type === GgmlType.Q8_0) {
            const blocks = q.length / BLOCK;
            const out = new Uint8Array(blocks * Q8_0_BLOCK_BYTES);
            const outQ = new Int8Array(out.buffer);
            for (let b = 0; b < blocks; b++) {
                const src = q.subarray(b * BLOCK, (b + 1) * BLOCK);
                const o = b * Q8_0_BLOCK_BYTES;
                // A zeroed row gives amax 0, for which ggml stores d = 0.
                const d = src[0] === 0 && src.every((x) => x === 0) ? 0 : scaleF16;
                out[o] = d & 0xff;
                out[o + 1] = d >>> 8;
                outQ.set(src, o + 2);
            }
            yield out;
        } else {
            const values = new Float32Array(q.length);
            for (let i = 0; i < q.length; i++)
                values[i] = q[i] * scale;
            yield encodeTensorValues(plan.type, values);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scripted weights

/** One-hot embedding value: q · 2^k with q = 127, so f32, f16 and q8_0 store it exactly. */
const EMBEDDING_VALUE = 127 * 2 ** -7;
/** The logit the scripted token should get: far beyond any rounding, and beyond sampling at temperature 1 too. */
const SCRIPTED_LOGIT = 64;

function greatestCommonDivisor(a: number, b: number): number {
    return b === 0 ? a : greatestCommonDivisor(b, a % b);
}

/**
 * The smallest valid embedding length that gives every script state its own coordinate: a multiple of 32 (q8_0
 * blocks) and of twice the head count (whole, even head dimensions), never below the preset's.
 */
function scriptedEmbeddingLength(dims: Preset, states: number, explicit: boolean): number {
    if (dims.embeddingLength >= states)
        return dims.embeddingLength;
    if (explicit)
        throw new RangeError(`the script needs ${states} states but embeddingLength is ${dims.embeddingLength}; omit it or raise it to at least ${states}`);
    const step = (BLOCK * 2 * dims.headCount) / greatestCommonDivisor(BLOCK, 2 * dims.headCount);
    return Math.ceil(states / step) * step;
}

/**
 * token_embd: token t → EMBEDDING_VALUE on its state's coordinate (0, the sink, for tokens outside the script).
 * output: row j gets the output value (127 · 2^k, k chosen per width) on the coordinate of every state whose
 * successor is j. After RMSNorm the residual is √n_embd on one coordinate, so that state's successor scores that
 * value · √n_embd and all else 0.
 */
function scriptedHeads(vocab: Vocab, stateOf: ReadonlyMap<number, number>, successor: readonly number[], nEmbd: number) {
    // q · 2^k again, k chosen so that the logit lands near SCRIPTED_LOGIT for this width.
    const outputValue = 127 * 2 ** Math.round(Math.log2(SCRIPTED_LOGIT / (Math.sqrt(nEmbd) * 127)));
    const embeddingRows = new Map<number, Array<[number, number]>>();
    for (let id = 0; id < vocab.tokens.length; id++)
        embeddingRows.set(id, [[stateOf.get(id) ?? 0, EMBEDDING_VALUE]]);
    const outputRows = new Map<number, Array<[number, number]>>();
    successor.forEach((next, state) => {
        const row = outputRows.get(next) ?? [];
        row.push([state, outputValue]);
        outputRows.set(next, row);
    });
    return {
        embedding: {kind: "sparse", rows: embeddingRows} satisfies Init,
        output: {kind: "sparse", rows: outputRows} satisfies Init,
        logit: outputValue * Math.sqrt(nEmbd)
    };
}

// ---------------------------------------------------------------------------------------------

function resolveDimensions(opts: TestModelOptions): Preset {
    const presetName: TestModelPresetName = opts.preset ?? (opts.realisticShape === true ? "realistic" : "tiny");
    const preset = TEST_MODEL_PRESETS[presetName];
    const pick = <K extends keyof Preset>(key: K): Preset[K] => (opts[key] ?? preset[key]) as Preset[K];
    return {
        embeddingLength: pick("embeddingLength"),
        blockCount: pick("blockCount"),
        headCount: pick("headCount"),
        headCountKv: pick("headCountKv"),
        feedForwardLength: pick("feedForwardLength"),
        contextLength: pick("contextLength"),
        extraTokens: pick("extraTokens"),
        quantization: pick("quantization"),
        tieEmbeddings: pick("tieEmbeddings")
    };
}

function validate(d: Preset, quant: TestModelQuantization): void {
    const positive = ["embeddingLength", "blockCount", "headCount", "headCountKv", "feedForwardLength", "contextLength"] as const;
    for (const key of positive)
        if (!Number.isSafeInteger(d[key]) || d[key] <= 0)
            throw new RangeError(`${key} must be a positive integer, got ${d[key]}`);
    if (!Number.isSafeInteger(d.extraTokens) || d.extraTokens < 0)
        throw new RangeError(`extraTokens must be a non-negative integer, got ${d.extraTokens}`);
    if (d.embeddingLength % d.headCount !== 0)
        throw new RangeError(`headCount (${d.headCount}) must divide embeddingLength (${d.embeddingLength})`);
    if (d.headCount % d.headCountKv !== 0)
        throw new RangeError(`headCountKv (${d.headCountKv}) must divide headCount (${d.headCount})`);
    if ((d.embeddingLength / d.headCount) % 2 !== 0)
        throw new RangeError("the head dimension must be even (RoPE rotates pairs)");
    if (quant === "q8_0")
        for (const key of ["embeddingLength", "feedForwardLength"] as const)
            if (d[key] % BLOCK !== 0)
                throw new RangeError(`q8_0 needs ${key} to be a multiple of ${BLOCK}, got ${d[key]}`);
}

export function formatSizeLabel(parameters: number): string {
    const units: Array<[number, string]> = [[1e12, "T"], [1e9, "B"], [1e6, "M"], [1e3, "K"]];
    for (const [scale, unit] of units)
        if (parameters >= scale) {
            const v = parameters / scale;
            return `${v >= 10 ? Math.round(v) : Math.round(v * 10) / 10}${unit}`;
        }
    return String(parameters);
}

/** `<dir>/<base>.gguf` → `<dir>/<base>-0000i-of-0000N.gguf` (the pattern llama.cpp and node-llama-cpp expect). */
export function splitPartPath(filePath: string, part: number, parts: number): string {
    const base = filePath.replace(/\.gguf$/i, "");
    return `${base}-${String(part).padStart(5, "0")}-of-${String(parts).padStart(5, "0")}.gguf`;
}

/** `mmproj-<model file base name>.gguf` in the model's folder. */
export function projectorPathFor(filePath: string): string {
    const base = path.basename(filePath).replace(/\.gguf$/i, "").replace(/-\d{5}-of-\d{5}$/, "");
    return path.join(path.dirname(filePath), `mmproj-${base}.gguf`);
}

/**
 * Write a test model to `filePath` (or its split parts) and return what was written.
 * The default is a ≈ 200 KB llama model with a ChatML template, written in milliseconds.
 */
export async function writeTestModel(filePath: string, options: TestModelOptions = {}): Promise<TestModelInfo> {
    const dims = resolveDimensions(options);
    const quantization = options.quantization ?? dims.quantization;
    if (!Object.hasOwn(QUANT, quantization))
        throw new RangeError(`quantization must be f32, f16 or q8_0, got ${quantization}`);
    const scripted = options.script != null;
    if (scripted && options.tieEmbeddings === true)
        throw new RangeError("a scripted model needs its own output head: tieEmbeddings cannot be true");
    // The scripted output head differs from the embedding matrix, so scripts never tie (the realistic preset does).
    const tie = scripted ? false : options.tieEmbeddings ?? dims.tieEmbeddings;
    const architecture = options.architecture ?? "llama";
    const seed = (options.seed ?? 1) >>> 0;
    const fim = options.fim === true;
    if (options.chatFormat != null && !Object.hasOwn(CHAT_FORMATS, options.chatFormat))
        throw new RangeError(`chatFormat must be one of ${Object.keys(CHAT_FORMATS).join(", ")}, got ${options.chatFormat}`);
    const tools = options.tools === true || options.chatFormat === "chatml-tools" || options.chatFormat === "qwen3";
    const format = CHAT_FORMATS[options.chatFormat ?? (tools ? "chatml-tools" : "chatml")];
    const pooling: TestModelPooling | undefined = options.embedding == null || options.embedding === false
        ? undefined
        : options.embedding === true ? "mean" : options.embedding.pooling ?? "mean";
    if (pooling != null && !Object.hasOwn(POOLING_TYPE_IDS, pooling))
        throw new RangeError(`embedding.pooling must be one of ${Object.keys(POOLING_TYPE_IDS).join(", ")}, got ${pooling}`);
    if (scripted && pooling != null)
        throw new RangeError("an embedding model cannot be scripted (it generates no text)");
    const splitCount = options.split ?? 1;
    // split.count is a u16 in gguf-split's format.
    if (!Number.isSafeInteger(splitCount) || splitCount < 1 || splitCount > 0xffff)
        throw new RangeError(`split must be an integer from 1 to 65535, got ${splitCount}`);
    const name = options.name ?? `ZombieCoder Test ${architecture}`;

    const vocab = buildVocab({
        extraTokens: dims.extraTokens, fim, tools,
        specialTokens: [...format.specialTokens, ...(options.specialTokens ?? [])],
        addedTokens: [...format.addedTokens, ...(options.addedTokens ?? [])],
        endOfTurn: format.endOfTurn
    });
    // Compiling appends the script's pieces to the vocabulary, so it comes before anything sized by it.
    const script = options.script == null ? undefined : compileScript(vocab, options.script);
    if (script != null)
        dims.embeddingLength = scriptedEmbeddingLength(dims, script.successor.length, options.embeddingLength != null);
    validate(dims, quantization);
    const nVocab = vocab.tokens.length;
    const nEmbd = dims.embeddingLength;
    const headDim = nEmbd / dims.headCount;
    const nEmbdKv = headDim * dims.headCountKv;
    const nFf = dims.feedForwardLength;
    const wType = QUANT[quantization].ggml;
    const suppress = options.suppressSpecialTokens ?? true;

    // ---- tensors (ggml dims: [input/contiguous, output]) ----
    const plans: TensorPlan[] = [];
    const mat = (name: string, inDim: number, outDim: number, extra: Partial<TensorPlan> = {}): void => {
        // A scripted model's blocks add exactly zero to the residual stream (see the header comment).
        const init: Init = script != null ? {kind: "constant", value: 0} : {kind: "random", std: 1 / Math.sqrt(inDim)};
        plans.push({name, dims: [inDim, outDim], type: wType, init, ...extra});
    };
    const vec = (name: string, len: number, value: number): void => {
        plans.push({name, dims: [len], type: GgmlType.F32, init: {kind: "constant", value}});
    };
    let scriptInfo: TestModelScriptInfo | undefined;
    if (script != null) {
        const heads = scriptedHeads(vocab, script.stateOf, script.successor, nEmbd);
        plans.push({name: "token_embd.weight", dims: [nEmbd, nVocab], type: wType, init: heads.embedding});
        vec("output_norm.weight", nEmbd, 1);
        plans.push({name: "output.weight", dims: [nEmbd, nVocab], type: wType, init: heads.output});
        scriptInfo = {turns: script.turns, logit: heads.logit, states: script.successor.length};
    } else {
        const zeroRows = suppress ? suppressedTokenIds(vocab) : undefined;
        plans.push({
            name: "token_embd.weight", dims: [nEmbd, nVocab], type: wType, init: {kind: "random", std: 1},
            // With tied embeddings the output head *is* this matrix.
            zeroRows: tie ? zeroRows : undefined
        });
        vec("output_norm.weight", nEmbd, 1);
        if (!tie)
            mat("output.weight", nEmbd, nVocab, {zeroRows});
    }
    const qkvBias = architecture === "qwen2";
    for (let i = 0; i < dims.blockCount; i++) {
        const p = `blk.${i}.`;
        vec(`${p}attn_norm.weight`, nEmbd, 1);
        mat(`${p}attn_q.weight`, nEmbd, nEmbd);
        mat(`${p}attn_k.weight`, nEmbd, nEmbdKv);
        mat(`${p}attn_v.weight`, nEmbd, nEmbdKv);
        if (qkvBias) {
            vec(`${p}attn_q.bias`, nEmbd, 0);
            vec(`${p}attn_k.bias`, nEmbdKv, 0);
            vec(`${p}attn_v.bias`, nEmbdKv, 0);
        }
        mat(`${p}attn_output.weight`, nEmbd, nEmbd);
        vec(`${p}ffn_norm.weight`, nEmbd, 1);
        mat(`${p}ffn_gate.weight`, nEmbd, nFf);
        mat(`${p}ffn_up.weight`, nEmbd, nFf);
        mat(`${p}ffn_down.weight`, nFf, nEmbd);
    }
    const parameterCount = plans.reduce((sum, t) => sum + t.dims.reduce((a, b) => a * b, 1), 0);
    const sizeLabel = formatSizeLabel(parameterCount);

    // ---- metadata ----
    const a = (key: string): string => `${architecture}.${key}`;
    const chatTemplate = options.chatTemplate === false
        ? undefined
        // Embedding models usually ship without a chat template; asking for tools overrides that.
        : options.chatTemplate ?? (pooling != null && !tools ? undefined : format.template);

    const meta: Array<[string, GgufMetadataValue]> = [
        ["general.architecture", gguf.str(architecture)],
        // gguf-py's GGUFType: "model" | "adapter" | "mmproj".
        ["general.type", gguf.str("model")],
        ["general.name", gguf.str(name)],
        ["general.size_label", gguf.str(sizeLabel)],
        ["general.file_type", gguf.u32(QUANT[quantization].fileType)]
    ];
    if (quantization === "q8_0")
        meta.push(["general.quantization_version", gguf.u32(2)]);
    meta.push(
        [a("vocab_size"), gguf.u32(nVocab)],
        [a("context_length"), gguf.u32(dims.contextLength)],
        [a("embedding_length"), gguf.u32(nEmbd)],
        [a("block_count"), gguf.u32(dims.blockCount)],
        [a("feed_forward_length"), gguf.u32(nFf)],
        [a("attention.head_count"), gguf.u32(dims.headCount)],
        [a("attention.head_count_kv"), gguf.u32(dims.headCountKv)],
        [a("attention.layer_norm_rms_epsilon"), gguf.f32(1e-6)],
        [a("rope.dimension_count"), gguf.u32(headDim)],
        [a("rope.freq_base"), gguf.f32(architecture === "qwen2" ? 1_000_000 : 10_000)]
    );
    if (pooling != null)
        meta.push([a("pooling_type"), gguf.u32(POOLING_TYPE_IDS[pooling])]);
    meta.push(
        ["tokenizer.ggml.model", gguf.str("llama")],
        ["tokenizer.ggml.tokens", gguf.arr("string", vocab.tokens)],
        ["tokenizer.ggml.scores", gguf.arr("float32", vocab.scores)],
        ["tokenizer.ggml.token_type", gguf.arr("int32", vocab.types)],
        ["tokenizer.ggml.unknown_token_id", gguf.u32(vocab.ids.unk)],
        ["tokenizer.ggml.bos_token_id", gguf.u32(vocab.ids.bos)],
        ["tokenizer.ggml.eos_token_id", gguf.u32(vocab.ids.eos)],
        ["tokenizer.ggml.eot_token_id", gguf.u32(vocab.ids.eot)],
        ["tokenizer.ggml.add_bos_token", gguf.bool(true)],
        ["tokenizer.ggml.add_eos_token", gguf.bool(false)],
        // Without this SentencePiece prepends "▁" after every special token, so "<|im_start|>user" would not round-trip.
        ["tokenizer.ggml.add_space_prefix", gguf.bool(false)]
    );
    if (vocab.ids.fimPrefix != null && vocab.ids.fimSuffix != null && vocab.ids.fimMiddle != null)
        meta.push(
            ["tokenizer.ggml.fim_pre_token_id", gguf.u32(vocab.ids.fimPrefix)],
            ["tokenizer.ggml.fim_suf_token_id", gguf.u32(vocab.ids.fimSuffix)],
            ["tokenizer.ggml.fim_mid_token_id", gguf.u32(vocab.ids.fimMiddle)]
        );
    if (chatTemplate != null)
        meta.push(["tokenizer.chat_template", gguf.str(chatTemplate)]);

    // ---- files ----
    if (splitCount > plans.length)
        throw new RangeError(`split (${splitCount}) exceeds the tensor count (${plans.length})`);
    const toTensor = (plan: TensorPlan): GgufTensor => ({
        name: plan.name, dims: plan.dims, type: plan.type, data: () => tensorChunks(plan, seed)
    });
    const files: TestModelFile[] = [];
    let alignment = options.alignment ?? 32;
    const truncate = options.truncateTensorData === true;
    const results: WriteGgufResult[] = [];
    if (splitCount === 1) {
        results.push(await writeMaybeTruncated(filePath, meta, plans.map(toTensor), options.alignment, truncate));
    } else {
        // Even tensor counts per part; part 1 carries all metadata, later parts only split.* (as gguf-split does).
        for (let part = 0; part < splitCount; part++) {
            const slice = plans.slice(Math.floor(part * plans.length / splitCount), Math.floor((part + 1) * plans.length / splitCount));
            const splitKeys: Array<[string, GgufMetadataValue]> = [
                ["split.no", gguf.u16(part)],
                ["split.count", gguf.u16(splitCount)],
                ["split.tensors.count", gguf.i32(plans.length)]
            ];
            const partMeta = part === 0 ? [...meta, ...splitKeys] : splitKeys;
            const last = part === splitCount - 1;
            results.push(await writeMaybeTruncated(
                splitPartPath(filePath, part + 1, splitCount), partMeta, slice.map(toTensor), options.alignment, truncate && last
            ));
        }
    }
    for (const r of results) {
        files.push({path: r.path, size: r.fileSize, tensorCount: r.tensors.length});
        alignment = r.alignment;
    }

    let projector: TestModelInfo["projector"];
    if (options.projector === true)
        projector = await writeProjector(projectorPathFor(filePath), {textEmbeddingLength: nEmbd, seed, name: `${name} projector`});

    return {
        path: files[0].path,
        files,
        totalSize: files.reduce((s, f) => s + f.size, 0),
        projector,
        name,
        architecture,
        quantization,
        fileType: QUANT[quantization].fileType,
        dimensions: {
            embeddingLength: nEmbd,
            blockCount: dims.blockCount,
            headCount: dims.headCount,
            headCountKv: dims.headCountKv,
            feedForwardLength: nFf,
            contextLength: dims.contextLength,
            extraTokens: dims.extraTokens
        },
        vocabSize: nVocab,
        headDim,
        parameterCount,
        sizeLabel,
        tensorCount: plans.length,
        tieEmbeddings: tie,
        tokens: vocab.ids,
        chatTemplate,
        pooling,
        script: scriptInfo,
        splitCount,
        truncated: truncate,
        seed,
        alignment
    };
}

async function writeMaybeTruncated(
    filePath: string,
    metadata: ReadonlyArray<readonly [string, GgufMetadataValue]>,
    tensors: GgufTensor[],
    alignment: number | undefined,
    truncate: boolean
): Promise<WriteGgufResult> {
    if (!truncate)
        return writeGgufFile(filePath, {metadata, tensors, alignment});
    // Size the data section first so the cut lands mid-data (half of it) whatever the model's shape.
    const {dataSize} = encodeGgufHeader({metadata, tensors, alignment});
    return writeGgufFile(filePath, {metadata, tensors, alignment, truncateTensorDataAt: Math.floor(dataSize / 2)});
}

// ---------------------------------------------------------------------------------------------
// Projector

interface ProjectorOptions {
    textEmbeddingLength: number;
    seed: number;
    name: string;
}

/**
 * A small CLIP-architecture multimodal projector in the layout llama.cpp's mtmd/clip loader uses
 * (`general.type = "mmproj"`, `clip.*` keys, `v.*` vision tensors, `mm.*` projector tensors).
 * It is a structurally valid GGUF; nobody is expected to run images through it.
 */
export async function writeProjector(filePath: string, opts: ProjectorOptions): Promise<TestModelFile & {projectorType: string}> {
    const nEmbd = 32;
    const nFf = 64;
    const imageSize = 32;
    const patchSize = 16;
    const nPositions = (imageSize / patchSize) ** 2 + 1;
    const projectorType = "mlp";
    const plans: TensorPlan[] = [];
    const w = (name: string, dims: number[]): void => {
        plans.push({name, dims, type: GgmlType.F16, init: {kind: "random", std: 1 / Math.sqrt(dims[0])}});
    };
    const v = (name: string, len: number, value: number): void => {
        plans.push({name, dims: [len], type: GgmlType.F32, init: {kind: "constant", value}});
    };
    w("v.patch_embd.weight", [patchSize, patchSize, 3, nEmbd]);
    v("v.class_embd", nEmbd, 0);
    w("v.position_embd.weight", [nEmbd, nPositions]);
    v("v.pre_ln.weight", nEmbd, 1);
    v("v.pre_ln.bias", nEmbd, 0);
    const p = "v.blk.0.";
    for (const t of ["attn_q", "attn_k", "attn_v"]) {
        w(`${p}${t}.weight`, [nEmbd, nEmbd]);
        v(`${p}${t}.bias`, nEmbd, 0);
    }
    w(`${p}attn_out.weight`, [nEmbd, nEmbd]);
    v(`${p}attn_out.bias`, nEmbd, 0);
    v(`${p}ln1.weight`, nEmbd, 1);
    v(`${p}ln1.bias`, nEmbd, 0);
    w(`${p}ffn_up.weight`, [nEmbd, nFf]);
    v(`${p}ffn_up.bias`, nFf, 0);
    w(`${p}ffn_down.weight`, [nFf, nEmbd]);
    v(`${p}ffn_down.bias`, nEmbd, 0);
    v(`${p}ln2.weight`, nEmbd, 1);
    v(`${p}ln2.bias`, nEmbd, 0);
    w("mm.0.weight", [nEmbd, opts.textEmbeddingLength]);
    v("mm.0.bias", opts.textEmbeddingLength, 0);
    w("mm.2.weight", [opts.textEmbeddingLength, opts.textEmbeddingLength]);
    v("mm.2.bias", opts.textEmbeddingLength, 0);

    const meta: Array<[string, GgufMetadataValue]> = [
        ["general.architecture", gguf.str("clip")],
        ["general.type", gguf.str("mmproj")],
        ["general.name", gguf.str(opts.name)],
        ["general.file_type", gguf.u32(1)],
        ["clip.has_vision_encoder", gguf.bool(true)],
        ["clip.has_text_encoder", gguf.bool(false)],
        ["clip.has_llava_projector", gguf.bool(true)],
        ["clip.projector_type", gguf.str(projectorType)],
        ["clip.use_gelu", gguf.bool(true)],
        ["clip.vision.image_size", gguf.u32(imageSize)],
        ["clip.vision.patch_size", gguf.u32(patchSize)],
        ["clip.vision.embedding_length", gguf.u32(nEmbd)],
        ["clip.vision.feed_forward_length", gguf.u32(nFf)],
        ["clip.vision.projection_dim", gguf.u32(opts.textEmbeddingLength)],
        ["clip.vision.block_count", gguf.u32(1)],
        ["clip.vision.attention.head_count", gguf.u32(4)],
        ["clip.vision.attention.layer_norm_epsilon", gguf.f32(1e-6)],
        ["clip.vision.image_mean", gguf.arr("float32", [0.5, 0.5, 0.5])],
        ["clip.vision.image_std", gguf.arr("float32", [0.5, 0.5, 0.5])]
    ];
    const result = await writeGgufFile(filePath, {
        metadata: meta,
        tensors: plans.map((plan) => ({name: plan.name, dims: plan.dims, type: plan.type, data: () => tensorChunks(plan, opts.seed)}))
    });
    return {path: result.path, size: result.fileSize, tensorCount: result.tensors.length, projectorType};
}
