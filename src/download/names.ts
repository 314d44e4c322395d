import path from "node:path";
import {DownloadError} from "./errors.js";

/** `model-00001-of-00003.gguf`: llama.cpp's split naming (gguf-split). */
export const SPLIT_RE = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/i;

/** Temporary suffixes of partial downloads: ours and node-llama-cpp's (ipull). */
export const PARTIAL_SUFFIXES = [".part", ".ipull"] as const;

export function isGgufName(name: string): boolean {
    return name.toLowerCase().endsWith(".gguf");
}

/** Multimodal projectors are named `mmproj-*.gguf` by llama.cpp's converters and every major quantizer. */
export function isProjectorName(name: string): boolean {
    return /mmproj/i.test(path.basename(name));
}

export interface SplitInfo {
    prefix: string;
    index: number;
    count: number;
}

export function splitInfo(name: string): SplitInfo | null {
    const m = SPLIT_RE.exec(path.basename(name));
    if (!m) return null;
    return {prefix: m[1]!, index: Number(m[2]), count: Number(m[3])};
}

// Quantization labels as quantizers write them: Q4_K_M, IQ3_XXS, Q8_0, F16, BF16, MXFP4_MOE, TQ1_0, UD-Q4_K_XL.
const QUANT_RE = /(?:^|[-_.])((?:UD-)?(?:I?Q\d(?:_[A-Z0-9]+)*|BF16|F16|F32|FP16|FP32|MXFP4(?:_MOE)?|TQ\d_\d))(?=[-_.]|$)/i;

/** The quantization label in a GGUF file name, upper case as quantizers write it, or null. */
export function quantFromFileName(name: string): string | null {
    let stem = path.basename(name).replace(/\.gguf$/i, "");
    const split = SPLIT_RE.exec(path.basename(name));
    if (split) stem = split[1]!;
    // The last match wins: "Llama-3-8B-Q4_K_M" has "8B" (no match) then the quant.
    let found: string | null = null;
    const re = new RegExp(QUANT_RE.source, "gi");
    // Terminates: every match consumes at least two characters, so lastIndex strictly grows.
    for (let m = re.exec(stem); m; m = re.exec(stem)) found = m[1]!;
    return found ? found.toUpperCase() : null;
}

/**
 * Whether `name` carries the quantization `quant` as a whole token: `Q4_K` must not match `Q4_K_M`, and `Q4_0`
 * must not match `IQ4_0`. Case-insensitive, as users type `q4_k_m`.
 */
export function nameHasQuant(name: string, quant: string): boolean {
    const q = quant.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    return new RegExp(`(?:^|[-_./ ])${q}(?=[-./ ]|$)`, "i").test(name);
}

/**
 * A model name in the style the registry uses for files in models_dir: lower-case stem without the split suffix,
 * the quantization moved into the `:tag` (`Qwen2.5-0.5B-Instruct-Q4_K_M.gguf` → `qwen2.5-0.5b-instruct:q4_k_m`).
 */
export function modelNameFromFile(fileName: string): string {
    const base = path.basename(fileName);
    const split = SPLIT_RE.exec(base);
    let stem = split ? split[1]! : base.replace(/\.gguf$/i, "");
    const quant = quantFromFileName(base);
    if (quant) {
        const idx = stem.toLowerCase().lastIndexOf(quant.toLowerCase());
        if (idx > 0) stem = stem.slice(0, idx).replace(/[-_.]+$/, "");
        else if (idx === 0) stem = stem.slice(quant.length).replace(/^[-_.]+/, "") || stem;
    }
    stem = stem.toLowerCase();
    return quant ? `${stem}:${quant.toLowerCase()}` : stem;
}

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;
// Characters Windows refuses in names, path separators of both OSes, and control characters.
// eslint-disable-next-line no-control-regex
const FORBIDDEN_CHARS = /[<>:"/\\|?*\u0000-\u001f]/;

/**
 * Refuses a single path component that could escape its folder or that Windows cannot store. The product runs on
 * Windows, so a name Linux accepts (`aux.gguf`, `a:b.gguf`, `name.`) is still refused everywhere.
 */
export function assertSafeFileName(name: string, what = "file name"): string {
    if (typeof name !== "string" || name.length === 0) throw new DownloadError("unsafe_name", `empty ${what}`);
    if (name.length > 200) throw new DownloadError("unsafe_name", `${what} is longer than 200 characters`);
    if (name === "." || name === ".." || FORBIDDEN_CHARS.test(name))
        throw new DownloadError("unsafe_name", `refusing ${what} ${JSON.stringify(name)}: it must be a plain name without path separators, "..", or the characters <>:"|?*`);
    if (/[. ]$/.test(name)) throw new DownloadError("unsafe_name", `refusing ${what} ${JSON.stringify(name)}: Windows cannot store names ending in a dot or space`);
    if (WINDOWS_RESERVED.test(name)) throw new DownloadError("unsafe_name", `refusing ${what} ${JSON.stringify(name)}: a reserved device name on Windows`);
    return name;
}

/**
 * Validates a path inside a repository (`sub/dir/file.gguf`, forward slashes): every segment must be a safe name.
 * Returns the segments.
 */
export function assertSafeRepoPath(repoPath: string): string[] {
    if (typeof repoPath !== "string" || repoPath.length === 0) throw new DownloadError("unsafe_name", "empty file path");
    if (repoPath.startsWith("/") || repoPath.includes("\\"))
        throw new DownloadError("unsafe_name", `refusing file path ${JSON.stringify(repoPath)}: it must be relative with forward slashes`);
    const segments = repoPath.split("/");
    for (const s of segments) assertSafeFileName(s, "file path segment");
    return segments;
}

function normalizeForCompare(p: string): string {
    return process.platform === "win32" ? p.toLowerCase() : p;
}

/** True when `child` is `root` or inside it (after resolution), on this OS's path rules. */
export function isInside(root: string, child: string): boolean {
    const rel = path.relative(normalizeForCompare(path.resolve(root)), normalizeForCompare(path.resolve(child)));
    return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** Joins and asserts the result stays inside `root`: the last line of defence after name validation. */
export function resolveInside(root: string, ...parts: string[]): string {
    const p = path.resolve(root, ...parts);
    if (!isInside(root, p) || path.resolve(root) === p)
        throw new DownloadError("unsafe_name", `refusing a path outside ${root}: ${parts.join("/")}`);
    return p;
}
