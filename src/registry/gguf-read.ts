/**
 * Reads one GGUF header with node-llama-cpp and turns it into the registry's facts. Imported only when a header must
 * be read (`header-reader.ts`): in the server's build that happens in a short-lived child process, so the engine's
 * JavaScript never stays in the server's memory.
 */
import fs from "node:fs/promises";
import path from "node:path";
import {readGgufFileInfo, resolveChatWrapper, GgufFileType, type GgufFileInfo} from "node-llama-cpp";
import {formatParameterSize, InvalidGgufError, TOOL_CALLING_WRAPPERS, type HeaderFacts} from "./gguf-header.js";
import type {GgufMetadata} from "./types.js";

/** Header arrays that can be megabytes and that a scan never needs. */
const IGNORED_KEYS = ["tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type", "tokenizer.ggml.merges"];

const EMBEDDING_ARCHITECTURES = new Set(["bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "jina-bert-v3", "t5encoder", "modern-bert", "neo-bert"]);

const GGUF_MAGIC = Buffer.from("GGUF", "ascii");

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
export async function readHeaderFacts(filePath: string): Promise<HeaderFacts> {
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
    return {meta, projector: isProjectorHeader(info), dataEnd: tensorDataEnd(info)};
}

function vocabFromTensors(info: GgufFileInfo): number | null {
    const embd = (info.fullTensorInfo ?? info.tensorInfo ?? []).find((t) => t.name === "token_embd.weight");
    return embd && embd.dimensions.length >= 2 ? Number(embd.dimensions[1]) : null;
}

function isProjectorHeader(info: GgufFileInfo): boolean {
    const general = ((info.metadata as unknown as Dict).general ?? {}) as Dict;
    return general.type === "mmproj" || general.type === "projector" || general.architecture === "clip";
}

/** Offset where the last tensor's data ends (from the header), so truncated downloads are caught at scan time. */
function tensorDataEnd(info: GgufFileInfo): number | null {
    const tensors = info.tensorInfo;
    if (!tensors || tensors.length === 0 || info.tensorInfoSize == null) return null;
    // node-llama-cpp exposes each tensor's offset relative to the data section and the header size
    const start = Number(info.metadataSize + info.tensorInfoSize);
    const alignment = Number((info.metadata as unknown as {general?: {alignment?: number}}).general?.alignment ?? 32);
    const dataStart = Math.ceil(start / alignment) * alignment;
    let end = 0;
    for (const t of tensors) {
        const bytes = tensorBytes(t.ggmlType, t.dimensions.map(Number));
        if (bytes == null) return null;
        end = Math.max(end, Number(t.offset) + bytes);
    }
    return dataStart + end;
}

/** Bytes per block and elements per block of the GGML types we can size; unknown types skip the check. */
const GGML_TYPE_SIZES: Record<number, [number, number]> = {
    0: [4, 1], 1: [2, 1], 2: [18, 32], 3: [20, 32], 6: [22, 32], 7: [24, 32], 8: [34, 32], 9: [36, 32],
    10: [84, 256], 11: [110, 256], 12: [144, 256], 13: [176, 256], 14: [210, 256], 15: [292, 256], 30: [2, 1]
};

function tensorBytes(type: number, dims: number[]): number | null {
    const s = GGML_TYPE_SIZES[type];
    if (!s) return null;
    const n = dims.reduce((a, d) => a * d, 1);
    return Math.ceil(n / s[1]) * s[0];
}
