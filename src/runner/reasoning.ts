/**
 * Reasoning models: which models separate a thought segment, whether their template can turn it off, and how large
 * a thought segment may grow. Pure functions of a model's chat template and node-llama-cpp wrapper name, so the
 * server (Ollama's /api/show capabilities) and the runner (the generation itself) decide alike.
 */
import type {ReasoningEffort, ReasoningRequest} from "../runtime/protocol.js";

/**
 * Thought tokens allowed per level. A level only ever asks for less thinking than an unbounded run: "high" still
 * leaves room for an answer in a 32k context, "low" is a few paragraphs. What is left of the context after the
 * prompt bounds every budget, and node-llama-cpp closes the thought segment when its budget is spent (the model then
 * writes its answer).
 */
export const EFFORT_BUDGETS: Readonly<Record<ReasoningEffort, number>> = {low: 1024, medium: 4096, high: 16384};

/** What `think: false` does to a model's thinking. */
export type ThinkingOff =
    /** The template has a switch (Qwen3's enable_thinking, a wrapper option): the model answers without thinking. */
    | "disabled"
    /** No switch: the model still thinks (as little as its template allows), and the thoughts are left out of the answer. */
    | "hidden";

export interface ThinkingSupport {
    off: ThinkingOff;
}

/** Wrappers whose own options turn thinking off; node-llama-cpp names them by `wrapperName`. */
const SWITCHABLE_WRAPPERS = new Set(["Gemma 4", "Seed"]);

/** Harmony (gpt-oss): the analysis channel is the thought segment, and the format has no way to leave it out. */
export function isHarmonyTemplate(template: string | null | undefined): boolean {
    return template != null && template.includes("<|start|>") && template.includes("<|channel|>");
}

/**
 * Whether a model writes a separable thought segment, and what turning it off does. Null: not a reasoning model as
 * far as its template and wrapper tell (a request's reasoning settings then change nothing).
 */
export function thinkingSupport(template: string | null | undefined, wrapperName: string | null | undefined): ThinkingSupport | null {
    const t = template ?? "";
    if (wrapperName === "Harmony" || isHarmonyTemplate(t)) return {off: "hidden"};
    if (wrapperName != null && SWITCHABLE_WRAPPERS.has(wrapperName)) return {off: "disabled"};
    // Qwen3's template and its likes pre-fill an empty think block when enable_thinking is false
    if (t.includes("enable_thinking")) return {off: "disabled"};
    const thinks = t.includes("<think>") || t.includes("reasoning_content");
    // node-llama-cpp's Qwen wrapper can pre-fill the empty think block itself ("discourage")
    if (thinks && wrapperName === "Qwen") return {off: "disabled"};
    if (thinks || wrapperName === "DeepSeek") return {off: "hidden"};
    return null;
}

/**
 * The thought-token budget for a request: the explicit budget, else its level's; undefined leaves node-llama-cpp's
 * default (half the context below 8,192 tokens, three quarters above), which keeps room for the answer.
 * Thinking that is turned off but cannot be (a hidden thought) gets the low budget: nobody reads it.
 */
export function thoughtBudget(reasoning: ReasoningRequest | undefined): number | undefined {
    if (reasoning == null) return undefined;
    if (reasoning.budgetTokens != null) return Math.max(0, Math.floor(reasoning.budgetTokens));
    if (!reasoning.enabled) return EFFORT_BUDGETS.low;
    return reasoning.effort != null ? EFFORT_BUDGETS[reasoning.effort] : undefined;
}
