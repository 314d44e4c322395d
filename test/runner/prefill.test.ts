/**
 * prefill() hands the request's evaluation priority to every prompt batch it evaluates, as the generation that
 * follows gets it: a tab completion's prompt must win a shared batch's room over a chat's long prompt. The sequence
 * is a stand-in that records what it was asked to evaluate (node-llama-cpp's own batching is not under test).
 */
import type {EvaluationPriority, LlamaContextSequence, Token} from "node-llama-cpp";
import {describe, expect, it} from "vitest";
import {prefill} from "../../src/runner/prefill.js";

function recordingSequence(held: number) {
    const calls: Array<{tokens: Token[]; priority: EvaluationPriority | undefined}> = [];
    let next = held;
    const sequence = {
        get nextTokenIndex() {
            return next;
        },
        adaptStateToTokens: async () => undefined,
        evaluateWithoutGeneratingNewTokens: async (tokens: Token[], options?: {evaluationPriority?: EvaluationPriority}) => {
            calls.push({tokens, priority: options?.evaluationPriority});
            next += tokens.length;
        }
    };
    return {sequence: sequence as unknown as LlamaContextSequence, calls};
}

const tokens = (n: number) => Array.from({length: n}, (_, i) => i as Token);

describe("prefill", () => {
    it("evaluates all but the last token in batches, each with the request's priority", async () => {
        const {sequence, calls} = recordingSequence(0);
        await prefill(sequence, tokens(11), 4, new AbortController().signal, 5);
        expect(calls.map((c) => c.tokens.length)).toEqual([4, 4, 2]);
        expect(calls.map((c) => c.priority)).toEqual([5, 5, 5]);
    });

    it("starts after what the sequence already holds", async () => {
        const {sequence, calls} = recordingSequence(6);
        await prefill(sequence, tokens(11), 4, new AbortController().signal, 3);
        expect(calls.map((c) => c.tokens[0])).toEqual([6]);
        expect(calls[0]!.priority).toBe(3);
    });
});
