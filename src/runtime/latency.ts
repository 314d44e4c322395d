/**
 * Latency classes. An editor sends two kinds of work to the same model: tab completions (fill-in-the-middle, a
 * handful of tokens, useless after a few hundred milliseconds) and chats or agent turns (minutes of generation).
 * The class decides who may take a model's last free sequence and whose tokens the engine evaluates first.
 */
import type {EvaluationPriority} from "node-llama-cpp";
import type {GenerateRequest} from "./protocol.js";

/** "short": interactive (tab completion); "long": chat, agents, anything that may run for minutes. */
export type LatencyClass = "short" | "long";

/**
 * A request that caps its answer at this many tokens or fewer is short whatever its mode: an inline completion or
 * a one-line suggestion. Above it, only fill-in-the-middle requests are short.
 */
export const SHORT_MAX_PREDICT = 128;

/**
 * Fill-in-the-middle markers editors write into raw prompts themselves (Zed, Continue's raw templates): Qwen/StarCoder
 * `<|fim_prefix|>`, `<fim_prefix>` and `<fim-prefix>` spellings, CodeLlama `<PRE>`/`<SUF>`/`<MID>`, DeepSeek
 * `<｜fim▁begin｜>`, Codestral `[SUFFIX]`/`[PREFIX]`.
 */
const FIM_MARKERS = /<\|fim_(?:prefix|suffix|middle)\|>|<fim[_-](?:prefix|suffix|middle)>|<(?:PRE|SUF|MID)>|<｜fim▁(?:begin|hole|end)｜>|\[(?:SUFFIX|PREFIX)\]/;

/**
 * A fill-in-the-middle request: the kind an editor sends on every keystroke, whose older copies a newer one makes
 * useless. Only these supersede each other; other short requests (a batch of small prompts) all get their answer.
 */
export function isFillInTheMiddle(request: GenerateRequest): boolean {
    return request.mode === "infill" || (request.mode === "completion" && FIM_MARKERS.test(request.prompt ?? ""));
}

/** The class a request falls in when its API family does not say. */
export function classifyLatency(request: GenerateRequest): LatencyClass {
    if (isFillInTheMiddle(request)) return "short";
    const n = request.options.num_predict;
    const usesTools = request.tools != null && request.tools.length > 0 && request.tool_choice !== "none";
    if (n > 0 && n <= SHORT_MAX_PREDICT && !usesTools) return "short";
    return "long";
}

/**
 * node-llama-cpp fills a batch from every sequence that has tokens waiting, and when the batch is too small for
 * all of them it gives the rest of it to the highest priority first: a completion's tokens then go ahead of a
 * chat's long prompt.
 */
export function evaluationPriorityOf(latency: LatencyClass | undefined): EvaluationPriority {
    return latency === "short" ? 5 : 3;
}
