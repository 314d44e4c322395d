import type {FastifyInstance} from "fastify";
import type {Logger} from "../log/logger.js";
import type {ModelEntry} from "../registry/types.js";
import {HttpError} from "../runtime/errors.js";
import type {GenerationResult, Provider} from "../runtime/provider.js";
import {disconnectSignal} from "../server/stream.js";
import {resolveTarget, type Target} from "../upstream/index.js";
import {serveOnTarget} from "../upstream/target.js";
import type {WireFormat} from "./generation.js";
import {bodyOf, optionalBool, requireCapability} from "./ollama.js";
import {parseStop} from "./openai.js";
import type {RequestOptions} from "./options.js";

type Body = Record<string, unknown>;

function invalid(message: string): HttpError {
    return new HttpError(400, message);
}

function str(body: Body, key: string): string {
    const v = body[key];
    if (v == null) return "";
    if (typeof v !== "string") throw invalid(`"${key}" must be a string`);
    return v;
}

function num(body: Body, key: string): number | undefined {
    const v = body[key];
    if (v == null) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v)) throw invalid(`"${key}" must be a number`);
    return v;
}

interface ExtraChunk {
    filename: string;
    text: string;
}

function parseExtra(v: unknown): ExtraChunk[] {
    if (v == null) return [];
    if (!Array.isArray(v)) throw invalid("\"input_extra\" must be an array of {filename, text}");
    return v.map((c, i) => {
        const chunk = c as Body | null;
        if (chunk == null || typeof chunk !== "object" || typeof chunk.text !== "string") throw invalid(`input_extra[${i}] needs a "text" string`);
        return {filename: typeof chunk.filename === "string" ? chunk.filename : "tmp", text: chunk.text};
    });
}

/** llama-server's separator for extra context when a model has no file-separator token. */
const SNIPPET_SEPARATOR = "\n\n--- snippet ---\n\n";
interface InfillParts {
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
async function fitInfill(provider: Provider, entry: ModelEntry, requested: string, parts: InfillParts, nPredict: number, signal: AbortSignal) {
    const ctx = provider.manager.loadedInfo(entry.name)?.contextSize ?? provider.manager.contextSizeFor(entry);
    const reserve = nPredict > 0 ? nPredict : Math.min(512, Math.floor(ctx / 4));
    const budgetTokens = Math.max(32, ctx - reserve - 16);
    const whole = assembleInfill(parts, null);
    if (Buffer.byteLength(whole.prefix + whole.suffix) <= budgetTokens) return whole;
    let charsPerToken = 3.5;
    let fitted = whole;
    for (let i = 0; i < 5; i++) {
        fitted = assembleInfill(parts, Math.floor(budgetTokens * charsPerToken));
        const tokens = await provider.prepare(entry, requested).countTokens(fitted.prefix + fitted.suffix, undefined, signal);
        if (tokens <= budgetTokens) break;
        charsPerToken *= 0.95 * budgetTokens / tokens;
    }
    return fitted;
}

/** The model for a request without one (llama.vscode sends none): the default model if it can infill, else the only one that can. */
function defaultInfillModel(provider: Provider): string {
    const fim = provider.registry.models().filter((m) => m.status !== "invalid" && m.metadata?.has_fim && !m.metadata.is_embedding);
    const dflt = provider.config.default_model;
    if (dflt && fim.some((m) => m.name === dflt || m.aliases.includes(dflt))) return dflt;
    if (fim.length === 1) return fim[0]!.name;
    if (fim.length === 0) throw invalid("no local model has fill-in-the-middle tokens: add one (for example a Qwen2.5-Coder GGUF) or send \"model\"");
    throw invalid(`several models support fill-in-the-middle (${fim.map((m) => m.name).join(", ")}): send "model", or set default_model in the config to one of them`);
}

function timings(r: GenerationResult) {
    const promptMs = r.stats.prompt_eval_duration_ns / 1e6;
    const predictedMs = r.stats.eval_duration_ns / 1e6;
    const perSecond = (n: number, ms: number) => ms > 0 ? n / (ms / 1000) : 0;
    return {
        prompt_n: r.stats.prompt_eval_count,
        prompt_ms: promptMs,
        prompt_per_token_ms: r.stats.prompt_eval_count > 0 ? promptMs / r.stats.prompt_eval_count : 0,
        prompt_per_second: perSecond(r.stats.prompt_eval_count, promptMs),
        predicted_n: r.stats.eval_count,
        predicted_ms: predictedMs,
        predicted_per_token_ms: r.stats.eval_count > 0 ? predictedMs / r.stats.eval_count : 0,
        predicted_per_second: perSecond(r.stats.eval_count, predictedMs)
    };
}

/** llama-server's /infill answer: `content`, `stop`, token counts and `timings` (llama.vscode shows them). */
function infillFormat(model: string, settings: Body, truncated: boolean): WireFormat {
    const final = (content: string, r: GenerationResult) => ({
        index: 0, content, tokens: [], id_slot: 0, stop: true, model,
        tokens_predicted: r.stats.eval_count,
        tokens_evaluated: r.stats.prompt_tokens,
        generation_settings: {...settings, n_ctx: r.contextSize},
        prompt: "",
        has_new_line: content.includes("\n"),
        truncated,
        stop_type: r.stats.done_reason === "length" ? "limit" : "eos",
        stopping_word: "",
        tokens_cached: r.stats.cached_tokens,
        timings: timings(r)
    });
    return {
        contentType: "text/event-stream",
        text: (w, text) => w.sse({index: 0, content: text, tokens: [], stop: false, id_slot: 0}),
        toolCalls: () => undefined,
        finish: (w, r) => w.sse(final("", r)),
        error: (w, message, status) => w.sse({error: {code: status, message, type: status >= 500 ? "server_error" : "invalid_request_error"}}),
        aggregate: (text, _calls, r) => final(text, r)
    };
}

export function registerLlamaCppRoutes(app: FastifyInstance, provider: Provider, logger: Logger): void {
    app.post("/infill", async (request, reply) => {
        const body = bodyOf(request);
        const named = typeof body.model === "string" ? body.model.trim() : "";
        const requested = named !== "" ? named : defaultInfillModel(provider);
        const nPredict = num(body, "n_predict") ?? -1;
        const options: RequestOptions = {num_predict: nPredict};
        for (const key of ["temperature", "top_k", "top_p", "min_p", "seed", "repeat_penalty", "repeat_last_n", "presence_penalty", "frequency_penalty"] as const) {
            const v = num(body, key);
            if (v != null) options[key] = v;
        }
        const stop = parseStop(body.stop);
        if (stop) options.stop = stop;
        const stream = optionalBool(body, "stream") ?? false;
        const extra = parseExtra(body.input_extra);
        const target: Target = await resolveTarget(provider, requested);
        let entry: ModelEntry | null = null;
        if (target.kind === "local") {
            entry = target.entry;
            requireCapability(provider, entry, "insert", requested);
        }
        if (nPredict === 0) {
            // llama.vscode sends n_predict 0 to warm up its extra context: load the model, predict nothing
            if (entry) await provider.prepare(entry, requested).load(disconnectSignal(request, reply));
            return {index: 0, content: "", tokens: [], id_slot: 0, stop: true, model: requested, tokens_predicted: 0, tokens_evaluated: 0, truncated: false, stop_type: "limit", stopping_word: "", tokens_cached: 0};
        }
        const parts = {prefix: str(body, "input_prefix"), suffix: str(body, "input_suffix"), prompt: str(body, "prompt"), extra};
        // an upstream fits its own context
        const fitted = entry ? await fitInfill(provider, entry, requested, parts, nPredict, disconnectSignal(request, reply)) : assembleInfill(parts, null);
        const settings = {n_predict: nPredict, temperature: options.temperature, top_k: options.top_k, top_p: options.top_p};
        await serveOnTarget(provider, logger, request, reply, {
            requested, options,
            needs: ["insert"],
            build: (sampling) => ({mode: "infill", prompt: fitted.prefix, suffix: fitted.suffix, options: sampling})
        }, () => infillFormat(requested, settings, fitted.truncated), stream, target);
    });
}
