/**
 * How many sequences a model gets when its `parallel` is "auto": as many as its memory allows, up to four.
 *
 * Each sequence holds its own KV cache of the full configured context (node-llama-cpp's context size is per
 * sequence), so the context a client relies on is never divided among them; what grows is memory. The extra
 * sequences may take at most a quarter of the memory budget, and the model with all of them must still fit the
 * budget, so a small model gets four (a chat, an agent and two completions at once) and a model that nearly fills
 * the machine gets one.
 */
import {estimateModelBytes, type ShapeFacts} from "./memory-probe.js";

export const AUTO_PARALLEL_MAX = 4;

/** The share of the budget the sequences beyond the first may use together. */
const EXTRA_SEQUENCES_SHARE = 0.25;

export function autoParallel(facts: ShapeFacts, contextSize: number, budgetBytes: number): number {
    if (!(budgetBytes > 0)) return 1;
    const one = estimateModelBytes(facts, contextSize, 1);
    const perSequence = estimateModelBytes(facts, contextSize, 2) - one;
    for (let p = AUTO_PARALLEL_MAX; p > 1; p--) {
        const extra = (p - 1) * perSequence;
        if (extra <= budgetBytes * EXTRA_SEQUENCES_SHARE && one + extra <= budgetBytes) return p;
    }
    return 1;
}
