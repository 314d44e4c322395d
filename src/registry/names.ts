/**
 * Model names from file names: `qwen2.5-1.5b-instruct-q4_k_m.gguf` → base `qwen2.5-1.5b-instruct`, tag `q4_k_m`.
 * Pure string functions: a name is never turned into a path.
 */

/** Quantization suffixes as they appear in file names (llama.cpp's names plus common variants). */
const QUANT_RE = /^(?:i?q\d(?:_[a-z0-9]+)*|f16|f32|bf16|fp16|fp32|tq\d_\d|mxfp4(?:_moe)?)$/i;

export const SPLIT_RE = /-(\d{5})-of-(\d{5})\.gguf$/i;

export function isQuantToken(s: string): boolean {
    return QUANT_RE.test(s);
}

/** Separates the stem into base and quantization, e.g. `Qwen2.5-7B-Instruct.Q4_K_M` → [`Qwen2.5-7B-Instruct`, `q4_k_m`]. */
export function splitQuant(stem: string): {base: string; quant: string | null} {
    const m = /^(.*?)[-_.]((?:i?q\d(?:_[a-z0-9]+)*|f16|f32|bf16|fp16|fp32|tq\d_\d|mxfp4(?:_moe)?))$/i.exec(stem);
    if (m && m[1] && m[1].length > 0) return {base: m[1], quant: m[2]!.toLowerCase()};
    return {base: stem, quant: null};
}

const GENERIC_STEMS = new Set(["model", "ggml-model", "gguf", "weights", "consolidated", "unsloth", "ggml"]);

function stripGgufSuffix(s: string): string {
    return s.replace(/[-_.]gguf$/i, "");
}

/**
 * The base name and quantization tag for a model file in `folder`.
 * The file stem decides; the folder is used when the stem says nothing (`model-q4_k_m.gguf`).
 */
export function deriveName(fileName: string, folderName: string | null): {base: string; quant: string | null} {
    let stem = fileName.replace(SPLIT_RE, ".gguf").replace(/\.gguf$/i, "");
    stem = stripGgufSuffix(stem);
    let {base, quant} = splitQuant(stem);
    if ((base === "" || GENERIC_STEMS.has(base.toLowerCase())) && folderName) {
        const folder = splitQuant(stripGgufSuffix(folderName));
        base = folder.base;
        quant = quant ?? folder.quant;
    }
    return {base: base.toLowerCase(), quant};
}

/** Lower case, separators removed, trailing quantization/`gguf`/`latest` removed: for forgiving comparisons. */
export function normalizeName(name: string): string {
    const tokens = nameTokens(name);
    while (tokens.length > 1 && (isQuantToken(tokens.at(-1)!) || tokens.at(-1) === "gguf" || tokens.at(-1) === "latest")) tokens.pop();
    return tokens.join("");
}

/** Tokens split on separators, lower case, with a quantization kept as one token (`q4_k_m`, also in `instruct.q4_k_m`). */
export function nameTokens(name: string): string[] {
    const out: string[] = [];
    for (const raw of name.toLowerCase().split(/[\s\-/:]+/)) {
        if (raw === "") continue;
        if (isQuantToken(raw)) {
            out.push(raw);
            continue;
        }
        const {base, quant} = splitQuant(raw);
        // dots stay inside a token: they are part of versions and sizes (`qwen2.5`, `1.5b`)
        for (const part of base.split(/_+/)) if (part !== "") out.push(part);
        if (quant) out.push(quant);
    }
    return out;
}
