import fs from "node:fs/promises";
import path from "node:path";
import {readGgufFileInfo, resolveChatWrapper, GgufFileType, type GgufFileInfo} from "node-llama-cpp";
import type {GgufMetadata} from "./types.js";

/** Header arrays that can be megabytes and that a scan never needs. */
const IGNORED_KEYS = ["tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type", "tokenizer.ggml.merges"];

const EMBEDDING_ARCHITECTURES = new Set(["bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "jina-bert-v3", "t5encoder", "modern-bert", "neo-bert"]);

const GGUF_MAGIC = Buffer.from("GGUF", "ascii");

export class InvalidGgufError extends Error {}

/** Checks the magic ourselves first so the reason for a non-GGUF file is plain ("not a GGUF file"). */
async function checkMagic(filePath: string): Promise<void> {
    const fh = await fs.open(filePath, "r");
    try {
        const buf = Buffer.alloc(4);
        const {bytesRead} = await fh.read(buf, 0, 4, 0);
        if (bytesRead === 0) throw new InvalidGgufError("empty file");
        if (bytesRead < 4 || !buf.equals(GGUF_MAGIC)) throw new InvalidGgufError("not a GGUF file (wrong magic bytes)");
    } finally {
        await fh.close();
    }
}

/** Wrappers node-llama-cpp ships with a native tool-call syntax: a model that resolves to one supports tools. */
export const TOOL_CALLING_WRAPPERS = new Set(["Llama 3.1", "Llama 3.2 lightweight", "Qwen", "Mistral", "Functionary", "DeepSeek", "Harmony", "Gemma 4", "Seed"]);

const wrapperMemo = new Map<string, string | null>();

/**
 * The wrapper node-llama-cpp will pick for this model, resolved from the header alone (no load). Resolving renders
 * the Jinja template several times (tens of ms), so results are memoised by what decides them: the template, and
 * the architecture and file name when there is no template.
 */
function chatWrapperName(info: GgufFileInfo, filePath: string, template: string | null, architecture: string): string | null {
    const key = template != null ? `t:${template}` : `n:${architecture}:${path.basename(filePath).toLowerCase()}`;
    if (wrapperMemo.has(key)) return wrapperMemo.get(key)!;
    let name: string | null = null;
    try {
        name = resolveChatWrapper({fileInfo: info, filename: filePath})?.wrapperName ?? null;
    } catch {
        name = null;
    }
    if (wrapperMemo.size > 1000) wrapperMemo.clear();
    wrapperMemo.set(key, name);
    return name;
}

/** Ollama's HumanNumber style: "494.03M", "1.5B", "7B". */
export function formatParameterSize(n: number | null): string {
    if (n == null || !Number.isFinite(n) || n <= 0) return "";
    const fmt = (v: number, unit: string, digits: number) =>
        (Number.isInteger(Number(v.toFixed(digits))) ? v.toFixed(0) : v.toFixed(digits).replace(/0+$/, "")) + unit;
    if (n >= 1e9) return fmt(n / 1e9, "B", 1);
    if (n >= 1e6) return fmt(n / 1e6, "M", 2);
    if (n >= 1e3) return fmt(n / 1e3, "K", 0);
    return String(n);
}

export function quantizationName(fileType: number | null | undefined): string {
    if (fileType == null) return "unknown";
    const name = (GgufFileType as unknown as Record<number, string | undefined>)[fileType];
    if (name == null) return "unknown";
    return name.replace(/^MOSTLY_/, "").replace(/^ALL_/, "");
}

type Dict = Record<string, unknown>;

function asNumber(v: unknown): number | null {
    if (typeof v === "number" && Number.isFinite(v)) return v;
    if (typeof v === "bigint") return Number(v);
    return null;
}

/** Reads a GGUF header (split-aware: the first part is enough) and extracts what the registry needs. */
export async function readGgufMetadata(filePath: string): Promise<{meta: GgufMetadata; info: GgufFileInfo}> {
    await checkMagic(filePath);
    let info: GgufFileInfo;
    try {
        info = await readGgufFileInfo(filePath, {ignoreKeys: IGNORED_KEYS, logWarnings: false, spliceSplitFiles: false});
    } catch (err) {
        throw new InvalidGgufError(`unreadable GGUF header: ${(err as Error).message}`);
    }
    const md = info.metadata as unknown as Dict;
    const general = (md.general ?? {}) as Dict;
    const tokenizer = (md.tokenizer ?? {}) as Dict;
    const ggml = (tokenizer.ggml ?? {}) as Dict;
    const architecture = String(general.architecture ?? "unknown");
    const arch = (md[architecture] ?? {}) as Dict;

    let parameterCount: number | null = null;
    if (info.fullTensorInfo ?? info.tensorInfo) {
        parameterCount = 0;
        for (const t of info.fullTensorInfo ?? info.tensorInfo ?? [])
            parameterCount += t.dimensions.reduce<number>((a, d) => a * Number(d), 1);
    }
    const sizeLabel = typeof general.size_label === "string" ? general.size_label : null;
    const chatTemplate = typeof tokenizer.chat_template === "string" ? tokenizer.chat_template : null;
    const poolingType = asNumber(arch.pooling_type);
    const splitCount = asNumber(((md.split ?? {}) as Dict).count) ?? 1;
    const fileType = asNumber(general.file_type);
    const wrapper = chatTemplate != null || !EMBEDDING_ARCHITECTURES.has(architecture) ? chatWrapperName(info, filePath, chatTemplate, architecture) : null;

    const meta: GgufMetadata = {
        architecture,
        parameter_count: parameterCount,
        parameter_size: sizeLabel ?? formatParameterSize(parameterCount),
        quantization: quantizationName(fileType),
        file_type: fileType,
        context_length: asNumber(arch.context_length),
        embedding_length: asNumber(arch.embedding_length),
        has_chat_template: chatTemplate != null,
        chat_template: chatTemplate,
        // A pooling type other than "none" (0) or "unspecified" (-1) means the model is built to emit embeddings.
        is_embedding: EMBEDDING_ARCHITECTURES.has(architecture) || (poolingType != null && poolingType > 0) || general.type === "embedding",
        pooling_type: poolingType,
        has_fim: ggml.fim_pre_token_id != null || ggml.prefix_token_id != null,
        supports_tools: (chatTemplate != null && /\btools\b/.test(chatTemplate)) || TOOL_CALLING_WRAPPERS.has(wrapper ?? ""),
        chat_wrapper: wrapper,
        general_name: typeof general.name === "string" ? general.name : null,
        split_count: splitCount,
        block_count: asNumber(arch.block_count),
        head_count: asNumber(((arch.attention ?? {}) as Dict).head_count),
        head_count_kv: asNumber(((arch.attention ?? {}) as Dict).head_count_kv) ?? asNumber(((arch.attention ?? {}) as Dict).head_count),
        vocab_size: asNumber(arch.vocab_size) ?? vocabFromTensors(info)
    };
    return {meta, info};
}

function vocabFromTensors(info: GgufFileInfo): number | null {
    const embd = (info.fullTensorInfo ?? info.tensorInfo ?? []).find((t) => t.name === "token_embd.weight");
    return embd && embd.dimensions.length >= 2 ? Number(embd.dimensions[1]) : null;
}

/** A projector (mmproj) is an attachment, never a model of its own. */
export function isProjectorHeader(info: GgufFileInfo): boolean {
    const general = ((info.metadata as unknown as Dict).general ?? {}) as Dict;
    return general.type === "mmproj" || general.type === "projector" || general.architecture === "clip";
}
