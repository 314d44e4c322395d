import {LlamaChat, LlamaCompletion, type ChatWrapper, type LlamaContext, type LlamaContextSequence, type Token, type TokenPredictor} from "node-llama-cpp";
import {cancelled, ProviderError} from "../runtime/errors.js";
import type {LoadSpec} from "../runtime/protocol.js";
import {BackoffLookupPredictor, DeferredPredictor, DraftModel} from "./speculative.js";

/** One context sequence of the runner's context, with the chat and completion objects bound to it. */
export interface Sequence {
    readonly index: number;
    readonly sequence: LlamaContextSequence;
    readonly chat: LlamaChat;
    readonly completion: LlamaCompletion;
    /** The request id being served, or null when free. */
    job: number | null;
    /** The sequence's prediction counts when its current job took it (node-llama-cpp's are totals since it was made). */
    predictionsAtTake: {refuted: number; unused: number};
}

/**
 * The context's sequences and who holds them. A request takes the free sequence whose evaluated tokens share the
 * longest prefix with its prompt (llama-server's choice), so only the new tokens are evaluated.
 */
export class SequencePool {
    readonly all: readonly Sequence[];
    /**
     * Settles when the sequences are ready to generate: at once, or once the draft model has loaded (rejecting with
     * why it could not). `take` waits for it; a runner that awaits it after making the pool fails its load instead.
     */
    readonly ready: Promise<void>;
    private waiters: Array<() => void> = [];
    private draftError: Error | null = null;

    /**
     * `spec`: the model's load spec (`parallel` sequences; `speculative` gives each sequence its token predictor).
     * `chatWrapper`: the model's resolved wrapper (resolving it renders the template, so once for all sequences).
     */
    constructor(context: LlamaContext, spec: Pick<LoadSpec, "parallel"> & Partial<Pick<LoadSpec, "speculative" | "threads">>, chatWrapper: ChatWrapper | "auto" = "auto") {
        const all: Sequence[] = [];
        const draft = spec.speculative?.draft;
        const lookup = spec.speculative?.promptLookup;
        const deferred: DeferredPredictor[] = [];
        const predictor = (): TokenPredictor | undefined => {
            if (draft) {
                const d = new DeferredPredictor();
                deferred.push(d);
                return d;
            }
            return lookup ? new BackoffLookupPredictor(lookup) : undefined;
        };
        for (let index = 0; index < spec.parallel; index++) {
            const tokenPredictor = predictor();
            const sequence = context.getSequence(tokenPredictor ? {tokenPredictor} : {});
            all.push({
                index,
                sequence,
                chat: new LlamaChat({contextSequence: sequence, chatWrapper, autoDisposeSequence: false}),
                completion: new LlamaCompletion({contextSequence: sequence}),
                job: null,
                predictionsAtTake: {refuted: 0, unused: 0}
            });
        }
        this.all = all;
        this.ready = draft
            ? DraftModel.load(context, draft, Math.max(1, spec.threads ?? 1)).then((model) => {
                for (const d of deferred) d.attach(model.predictorFor());
            }, (err: unknown) => {
                this.draftError = err instanceof Error ? err : new Error(String(err));
                throw this.draftError;
            })
            : Promise.resolve();
        // a runner that never awaits `ready` still learns of the failure from `take`; this only keeps it from being unhandled
        this.ready.catch(() => undefined);
    }

    /** Waits for a free sequence and gives `job` the one that shares the longest prefix with `tokens`. */
    async take(job: number, tokens: Token[], signal: AbortSignal): Promise<Sequence> {
        await this.ready.catch(() => undefined);
        if (this.draftError) throw new ProviderError("load_failed", this.draftError.message);
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
                const p = best.sequence.tokenPredictions;
                best.predictionsAtTake = {refuted: p.refuted, unused: p.unused};
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

    /**
     * Tokens the sampler picked for guessed positions that were then thrown away, since `s` was taken: the token
     * after a refused guess, and kept guesses the generation ended before using. A meter that counts sampler calls
     * as generated tokens must subtract them (0 without a predictor).
     */
    wastedSamples(s: Sequence): number {
        const p = s.sequence.tokenPredictions;
        return p.refuted - s.predictionsAtTake.refuted + p.unused - s.predictionsAtTake.unused;
    }

    release(s: Sequence): void {
        s.job = null;
        this.waiters.shift()?.();
    }
}
