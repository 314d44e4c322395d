import type {EvaluationPriority, LlamaContextSequence, Token} from "node-llama-cpp";
import {cancelled} from "../runtime/errors.js";

/**
 * Evaluates a prompt, all but its last token, one batch at a time, and checks the abort signal between batches.
 *
 * node-llama-cpp evaluates a whole prompt inside one call that an abort cannot interrupt: a 13,750-token prompt on
 * the tiny test model kept its runner busy for 12 s after the client had gone, and a real model on a CPU takes
 * minutes for the same. The generation call that follows finds these tokens already in the sequence (it keeps the
 * common prefix) and evaluates only the last one, whose logits it samples the first token from.
 *
 * `priority` is the request's evaluation priority (src/runtime/latency.ts), as its generation gets: a tab
 * completion's prompt shares a batch with a chat's long prompt and must win the batch's room the same way.
 */
export async function prefill(sequence: LlamaContextSequence, tokens: readonly Token[], batchSize: number, signal: AbortSignal,
    priority?: EvaluationPriority): Promise<void> {
    if (signal.aborted) throw cancelled();
    const head = tokens.slice(0, -1);
    // keeps what the sequence already holds of this prompt and erases the rest (no shifting: positions stay as evaluated)
    await sequence.adaptStateToTokens(head, false);
    for (let i = sequence.nextTokenIndex; i < head.length; i += batchSize) {
        if (signal.aborted) throw cancelled();
        await sequence.evaluateWithoutGeneratingNewTokens(head.slice(i, i + batchSize), {evaluationPriority: priority});
    }
    if (signal.aborted) throw cancelled();
}
