/**
 * Speculative decoding for the runner's sequences: node-llama-cpp evaluates a sequence's predicted next tokens in the
 * same batch as the token it must evaluate anyway, keeps the ones the model would have sampled itself, and erases
 * the rest, so greedy output never changes; only the number of decode steps does.
 *
 * A predictor is fixed per sequence when the sequence is made (`context.getSequence({tokenPredictor})`); there is no
 * per-request switch. So prompt lookup here backs off by itself on text that does not repeat its prompt (a normal
 * chat), which keeps the cost of wrong guesses small there without knowing the request's shape up front.
 */
import {
    DraftSequenceTokenPredictor, InputLookupTokenPredictor, TokenPredictor,
    type LlamaContext, type LlamaContextSequence, type LlamaModel, type SequenceEvaluateOptions, type Token
} from "node-llama-cpp";
import type {DraftModelSpec, PromptLookupSpec} from "../runtime/protocol.js";

/** Decode steps a prediction that was wholly wrong makes the predictor sit out, doubling up to this many. */
const MAX_BACKOFF_STEPS = 32;

/**
 * node-llama-cpp's InputLookupTokenPredictor (prompt-lookup decoding: the tokens that followed the last generated
 * ones where they appear in the prompt), sitting out a growing number of steps after each prediction the model
 * refused outright. A refused guess costs the extra tokens' share of a batch (a step of 1 + n tokens instead of 1)
 * and a KV-cache erase; on a random-weight 0.5B-shape model most single-token pattern matches in an ordinary chat
 * were wrong. One accepted token resets the back-off, so an answer that starts copying its prompt is caught at once.
 */
export class BackoffLookupPredictor extends TokenPredictor {
    private readonly inner: InputLookupTokenPredictor;
    private readonly maxTokens: number;
    /** What the last call predicted, and how many of those tokens the model has produced since. */
    private predicted: Token[] = [];
    private matched = 0;
    private mismatched = false;
    private skip = 0;
    private backoff = 0;

    constructor(spec: PromptLookupSpec) {
        super();
        this.maxTokens = spec.maxTokens;
        this.inner = new InputLookupTokenPredictor({
            patternLength: {min: spec.minPattern},
            predictionLength: {min: 1, max: spec.maxTokens}
        });
    }

    reset(params: {stateTokens: Token[]}): void {
        this.inner.reset(params);
        this.forget();
        this.skip = 0;
        this.backoff = 0;
    }

    override updateInputTokens(tokens: Token[]): void {
        this.inner.updateInputTokens(tokens);
        this.forget();
    }

    pushTokens(tokens: Token[]): void {
        this.inner.pushTokens(tokens);
        for (const t of tokens) {
            if (this.mismatched || this.matched >= this.predicted.length) break;
            if (this.predicted[this.matched] === t) this.matched++;
            else this.mismatched = true;
        }
    }

    predictTokens(): Token[] {
        if (this.predicted.length > 0) {
            if (this.matched === 0) {
                this.backoff = Math.min(MAX_BACKOFF_STEPS, Math.max(1, this.backoff * 2));
                this.skip = this.backoff;
            } else this.backoff = 0;
            this.forget();
        }
        if (this.skip > 0) {
            this.skip--;
            return [];
        }
        // InputLookupTokenPredictor raises its most predicted tokens to the pattern's minimum length; cut them back
        const next = this.inner.predictTokens().slice(0, this.maxTokens);
        this.predicted = next.slice();
        return next;
    }

    override dispose(): void {
        this.inner.dispose();
    }

    private forget(): void {
        this.predicted = [];
        this.matched = 0;
        this.mismatched = false;
    }
}

/**
 * A sequence's predictor that exists before the draft model it delegates to has loaded (sequences are made, with
 * their predictor, when the runner's context is; the draft loads after). Until then it predicts nothing.
 */
export class DeferredPredictor extends TokenPredictor {
    private inner: TokenPredictor | null = null;

    attach(inner: TokenPredictor): void {
        this.inner = inner;
    }

    reset(params: Parameters<TokenPredictor["reset"]>[0]): Promise<void> | void {
        return this.inner?.reset(params);
    }

    pushTokens(tokens: Token[]): void {
        this.inner?.pushTokens(tokens);
    }

    predictTokens(): Promise<Token[]> | Token[] {
        return this.inner?.predictTokens() ?? [];
    }

    override stop(untilPredictionsExhausted?: boolean): Promise<void> | void {
        return this.inner?.stop(untilPredictionsExhausted);
    }

    override updateInputTokens(tokens: Token[]): void {
        this.inner?.updateInputTokens(tokens);
    }

    override dispose(): Promise<void> | void {
        return this.inner?.dispose();
    }
}

/**
 * A draft model's context: one sequence per target sequence, made lazily by `predictorFor` (the target context is
 * made before the pool, and a predictor must exist when its sequence is made).
 */
export class DraftModel {
    private constructor(readonly model: LlamaModel, readonly context: LlamaContext, private readonly spec: DraftModelSpec) {}

    /**
     * Loads `spec.modelPath` in the target model's llama instance, with a context of `sequences` sequences as long as
     * the target's, and checks that its vocabulary matches the target's by llama.cpp's own speculative rule.
     */
    static async load(target: LlamaContext, spec: DraftModelSpec, threads: number): Promise<DraftModel> {
        const llama = target.model.llama;
        let model: LlamaModel;
        try {
            model = await llama.loadModel({modelPath: spec.modelPath});
        } catch (err) {
            throw new Error(`draft_model '${spec.name}' (${spec.modelPath}) failed to load: ${(err as Error).message}`);
        }
        try {
            const context = await model.createContext({
                contextSize: target.contextSize,
                sequences: target.totalSequences,
                threads: {ideal: threads, min: 1},
                batchSize: target.batchSize,
                flashAttention: llama.gpu === false ? false : "auto"
            });
            checkCompatible(target, context, spec.name);
            return new DraftModel(model, context, spec);
        } catch (err) {
            await model.dispose();
            throw err;
        }
    }

    predictorFor(): DraftSequenceTokenPredictor {
        const sequence: LlamaContextSequence = this.context.getSequence();
        // the draft samples like the target, except for the target's token bias: that one is built over the target's
        // vocabulary (node-llama-cpp refuses it on another model) and the runner counts generated tokens through it
        const evaluateOptions: Pick<SequenceEvaluateOptions, "tokenBias"> = {tokenBias: undefined};
        return new DraftSequenceTokenPredictor(sequence, {minTokens: 1, maxTokens: this.spec.maxTokens, evaluateOptions});
    }

    async dispose(): Promise<void> {
        await this.model.dispose();
    }
}

/**
 * node-llama-cpp runs llama.cpp's check (vocabulary type, BOS/EOS, size within 128, every token's text from id 5)
 * only when the first generation starts, so a wrong draft would fail every request instead of the load. It is an
 * internal method of the native context; when a later node-llama-cpp drops it, the check happens at generation.
 */
function checkCompatible(target: LlamaContext, draft: LlamaContext, name: string): void {
    type Native = {ensureDraftContextIsCompatibleForSpeculative?: (other: unknown) => void};
    const native = (target as unknown as {_ctx?: Native})._ctx;
    const other = (draft as unknown as {_ctx?: unknown})._ctx;
    if (typeof native?.ensureDraftContextIsCompatibleForSpeculative !== "function" || other == null) return;
    try {
        native.ensureDraftContextIsCompatibleForSpeculative(other);
    } catch (err) {
        throw new Error(`draft_model '${name}' cannot draft for this model: ${(err as Error).message}`);
    }
}

/** Counts of a sequence's predictions: how many were checked, how many the model agreed with. */
export function predictionCounts(sequence: LlamaContextSequence): {validated: number; refuted: number} {
    const p = sequence.tokenPredictions;
    return {validated: p.validated, refuted: p.refuted};
}
