/**
 * What the registry knows about GGUF headers without reading one: the facts a header read produces, and the names
 * other modules share. Reading itself needs node-llama-cpp (about 35 MB RSS once imported), so it lives in
 * `gguf-read.ts`, which only `header-reader.ts` loads, and then only when a file's header must be read.
 */
import type {GgufMetadata} from "./types.js";

export class InvalidGgufError extends Error {}

/** Wrappers node-llama-cpp ships with a native tool-call syntax: a model that resolves to one supports tools. */
export const TOOL_CALLING_WRAPPERS = new Set(["Llama 3.1", "Llama 3.2 lightweight", "Qwen", "Mistral", "Functionary", "DeepSeek", "Harmony", "Gemma 4", "Seed"]);

/** One file's header, as plain data: what a child process that read it can send back as JSON. */
export interface HeaderFacts {
    meta: GgufMetadata;
    /** A projector (mmproj) is an attachment, never a model of its own. */
    projector: boolean;
    /** Offset where the last tensor's data ends, so a truncated download is caught at scan time; null when unknown. */
    dataEnd: number | null;
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
