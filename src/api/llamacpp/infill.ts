/** Fill-in-the-middle for llama.cpp's /infill: extra context chunks, fitting the parts into the context, the default model. */
import type {ModelEntry} from "../../registry/types.js";
import {badRequest} from "../../runtime/errors.js";
import type {Runtime} from "../../runtime/runtime.js";
import type {Body} from "../shared/parse.js";

export interface ExtraChunk {
    filename: string;
    text: string;
}

export function parseExtra(v: unknown): ExtraChunk[] {
    if (v == null) return [];
    if (!Array.isArray(v)) throw badRequest("\"input_extra\" must be an array of {filename, text}");
    return v.map((c, i) => {
        const chunk = c as Body | null;
        if (chunk == null || typeof chunk !== "object" || typeof chunk.text !== "string") throw badRequest(`input_extra[${i}] needs a "text" string`);
        return {filename: typeof chunk.filename === "string" ? chunk.filename : "tmp", text: chunk.text};
    });
}

/** llama-server's separator for extra context when a model has no file-separator token. */
const SNIPPET_SEPARATOR = "\n\n--- snippet ---\n\n";
export interface InfillParts {
    prefix: string;
    suffix: string;
    prompt: string;
    extra: ExtraChunk[];
}

/**
 * The prefix the engine sees: extra chunks (newest last, kept from the end), the file's prefix and the cursor
 * line, cut to `budget` characters the way llama-server splits its batch (prefix 3 : suffix 1, extra in what is left).
 */
export function assembleInfill({prefix, suffix, prompt, extra}: InfillParts, budget: number | null) {
    let truncated = false;
    if (budget == null) return {prefix: extra.map((c) => SNIPPET_SEPARATOR + c.text).join("") + prefix + prompt, suffix, truncated};
    const prefixBudget = Math.max(0, Math.floor(budget * 0.6) - prompt.length);
    const suffixBudget = Math.floor(budget * 0.2);
    if (prefix.length > prefixBudget) {
        prefix = prefix.slice(prefix.length - prefixBudget);
        truncated = true;
    }
    if (suffix.length > suffixBudget) {
        suffix = suffix.slice(0, suffixBudget);
        truncated = true;
    }
    let room = budget - prefix.length - prompt.length - suffix.length;
    const kept: string[] = [];
    for (let i = extra.length - 1; i >= 0; i--) {
        const piece = SNIPPET_SEPARATOR + extra[i]!.text;
        if (piece.length > room) break;
        kept.unshift(piece);
        room -= piece.length;
    }
    return {prefix: kept.join("") + prefix + prompt, suffix, truncated: truncated || kept.length < extra.length};
}

/**
 * Fits the parts into the model's context, leaving room for the answer. Text that is short in bytes cannot be long in
 * tokens; otherwise the runner counts, and the character budget shrinks by what the count says (llama.vim sends
 * thousands of lines of extra context; a 400 there would end its completions).
 */
export async function fitInfill(runtime: Runtime, entry: ModelEntry, parts: InfillParts, nPredict: number, signal: AbortSignal) {
    const ctx = runtime.contextSizeOf(entry);
    const reserve = nPredict > 0 ? nPredict : Math.min(512, Math.floor(ctx / 4));
    const budgetTokens = Math.max(32, ctx - reserve - 16);
    const whole = assembleInfill(parts, null);
    if (Buffer.byteLength(whole.prefix + whole.suffix) <= budgetTokens) return whole;
    let charsPerToken = 3.5;
    let fitted = whole;
    for (let i = 0; i < 5; i++) {
        fitted = assembleInfill(parts, Math.floor(budgetTokens * charsPerToken));
        const tokens = await (await runtime.job({kind: "local", entry})).countTokens(fitted.prefix + fitted.suffix, undefined, signal);
        if (tokens <= budgetTokens) break;
        charsPerToken *= 0.95 * budgetTokens / tokens;
    }
    return fitted;
}

/** The model for a request without one (llama.vscode sends none): the default model if it can infill, else the only one that can. */
export function defaultInfillModel(runtime: Runtime): string {
    const fim = runtime.registry.models().filter((m) => m.status !== "invalid" && m.metadata?.has_fim && !m.metadata.is_embedding);
    const dflt = runtime.config.default_model;
    if (dflt && fim.some((m) => m.name === dflt || m.aliases.includes(dflt))) return dflt;
    if (fim.length === 1) return fim[0]!.name;
    if (fim.length === 0) throw badRequest("no local model has fill-in-the-middle tokens: add one (for example a Qwen2.5-Coder GGUF) or send \"model\"");
    throw badRequest(`several models support fill-in-the-middle (${fim.map((m) => m.name).join(", ")}): send "model", or set default_model in the config to one of them`);
}

