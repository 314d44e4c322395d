import type {LlamaContextSequence, Token} from "node-llama-cpp";
import {cancelled} from "../runtime/errors.js";

/**
 * Evaluates a prompt, all but its last token, one batch at a time, and checks the abort signal between batches.
 *
 * node-llama-cpp evaluates a whole prompt inside one call that an abort cannot interrupt: a 13,750-token prompt on
 * the tiny test model kept its runner busy for 12 s after the client had gone, and a real model on a CPU takes
 * minutes for the same. The generation call that follows finds these tokens already in the sequence (it keeps the
 * common prefix) and evaluates only the last one, whose logits it samples the first token from.
 */
export async function prefill(sequence: LlamaContextSequence, tokens: readonly Token[], batchSize: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw cancelled();
    const head = tokens.slice(0, -1);
    // keeps what the sequence already holds of this prompt and erases the rest (no shifting: positions stay as evaluated)
    await sequence.adaptStateToTokens(head, false);
    for (let i = sequence.nextTokenIndex; i < head.length; i += batchSize) {
        if (signal.aborted) throw cancelled();
        await sequence.evaluateWithoutGeneratingNewTokens(head.slice(i, i + batchSize));
    }
    if (signal.aborted) throw cancelled();
}
