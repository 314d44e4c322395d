import {LlamaChat, LlamaCompletion, type ChatWrapper, type LlamaContext, type LlamaContextSequence, type Token} from "node-llama-cpp";
import {cancelled} from "../runtime/errors.js";
import type {LoadSpec} from "../runtime/protocol.js";

/** One context sequence of the runner's context, with the chat and completion objects bound to it. */
export interface Sequence {
    readonly index: number;
    readonly sequence: LlamaContextSequence;
    readonly chat: LlamaChat;
    readonly completion: LlamaCompletion;
    /** The request id being served, or null when free. */
    job: number | null;
}

/**
 * The context's sequences and who holds them. A request takes the free sequence whose evaluated tokens share the
 * longest prefix with its prompt (llama-server's choice), so only the new tokens are evaluated.
 */
export class SequencePool {
    readonly all: readonly Sequence[];
    private waiters: Array<() => void> = [];

    /**
     * `spec`: the model's load spec (`parallel` sequences; the rest configures each sequence).
     * `chatWrapper`: the model's resolved wrapper (resolving it renders the template, so once for all sequences).
     */
    constructor(context: LlamaContext, spec: Pick<LoadSpec, "parallel">, chatWrapper: ChatWrapper | "auto" = "auto") {
        const all: Sequence[] = [];
        for (let index = 0; index < spec.parallel; index++) {
            const sequence = context.getSequence();
            all.push({
                index,
                sequence,
                chat: new LlamaChat({contextSequence: sequence, chatWrapper, autoDisposeSequence: false}),
                completion: new LlamaCompletion({contextSequence: sequence}),
                job: null
            });
        }
        this.all = all;
    }

    /** Waits for a free sequence and gives `job` the one that shares the longest prefix with `tokens`. */
    async take(job: number, tokens: Token[], signal: AbortSignal): Promise<Sequence> {
        for (;;) {
            let best: Sequence | null = null;
            let bestShared = -1;
            for (const s of this.all) {
                if (s.job != null) continue;
                const shared = s.sequence.compareContextTokens(tokens).firstDifferentIndex;
                if (shared > bestShared) {
                    best = s;
                    bestShared = shared;
                }
            }
            if (best) {
                best.job = job;
                return best;
            }
            if (signal.aborted) throw cancelled();
            // the server never sends more than `parallel` requests at once; this only covers a race at release time
            await new Promise<void>((resolve) => {
                const wake = () => {
                    signal.removeEventListener("abort", onAbort);
                    resolve();
                };
                const onAbort = () => {
                    this.waiters = this.waiters.filter((w) => w !== wake);
                    resolve();
                };
                this.waiters.push(wake);
                signal.addEventListener("abort", onAbort, {once: true});
            });
        }
    }

    release(s: Sequence): void {
        s.job = null;
        this.waiters.shift()?.();
    }
}
