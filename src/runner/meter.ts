import {TokenBias, type LlamaModel, type Token} from "node-llama-cpp";
import type {GenerationEvent} from "../runtime/protocol.js";

type Emit = (event: GenerationEvent) => void;

/** Which part of a chat answer a piece of text belongs to; the names are the events they travel in. */
export type Channel = "text" | "thinking";

/**
 * Chunks closer together than this travel in one IPC message, so a fast model does not pay one message per token;
 * a model slower than this (every real model on a CPU) still streams each token as it comes.
 */
const COALESCE_MS = 4;

/**
 * Counts and times one generation and streams its text.
 *
 * Counting: node-llama-cpp's `onToken` only sees the tokens it releases. A token held back because it may begin a
 * stop trigger, an end-of-generation lock or a partial character is never released when `maxTokens` ends the run,
 * and tokens inside a tool call never reach `onToken` at all. So the count comes from the sampler instead:
 * a function-valued `tokenBias` is resolved once per sampled token (right after the decode that produced the
 * logits, before the sampler runs), which makes `sampled` exactly the number of tokens the model generated,
 * the end-of-generation token included, in every mode.
 *
 * Timing follows Ollama: prompt processing runs from the start until the first token is sampled; generation
 * ("eval") runs from the first sampled token to the end and covers all `sampled` tokens, so
 * eval_count / eval_duration is the generation rate and the first token is in both or in neither.
 */
export class GenerationMeter {
    readonly t0 = performance.now();
    /** When the first token was sampled: the end of prompt processing. */
    tFirstSample: number | undefined;
    /** When the generation returned; set by finish(). */
    tEnd: number | undefined;
    sampled = 0;
    /** Tokens of the thought segment (all of them, also those of a thought that is not sent). */
    reasoningTokens = 0;
    private pendingChannel: Channel = "text";
    private pendingTokens = 0;
    private pendingText = "";
    private lastFlush = 0;
    private timer: NodeJS.Timeout | null = null;
    private readonly noBias: TokenBias;

    constructor(private readonly id: number, private readonly emit: Emit, model: LlamaModel) {
        this.noBias = new TokenBias(model.tokenizer);
    }

    /** Pass as the generation's `tokenBias`: one call per sampled token (see the class comment). */
    readonly tokenBias = (): TokenBias => {
        this.tFirstSample ??= performance.now();
        this.sampled++;
        return this.noBias;
    };

    /** Released tokens: only used to say how many tokens a text event carries. */
    readonly onToken = (tokens: Token[]): void => {
        this.pendingTokens += tokens.length;
    };

    readonly onTextChunk = (text: string): void => {
        this.add("text", text, 0);
    };

    /**
     * Streams a piece of the answer ("text") or of the thought segment ("thinking") with the tokens it carries.
     * Pieces of one kind are coalesced; a change of kind sends what was buffered first, so the order is kept.
     */
    add(channel: Channel, text: string, tokens: number): void {
        if (channel !== this.pendingChannel) {
            this.flush();
            this.pendingChannel = channel;
        }
        this.pendingTokens += tokens;
        if (text === "") return;
        this.pendingText += text;
        const now = performance.now();
        if (now - this.lastFlush >= COALESCE_MS) this.flush();
        else this.timer ??= setTimeout(() => this.flush(), COALESCE_MS - (now - this.lastFlush));
    }

    /** Sends what is buffered; called before any tool call or done event so order is kept. */
    flush(): void {
        if (this.timer) clearTimeout(this.timer);
        this.timer = null;
        if (this.pendingText === "") return;
        this.emit({type: this.pendingChannel, id: this.id, text: this.pendingText, tokens: this.pendingTokens});
        this.pendingText = "";
        this.pendingTokens = 0;
        this.lastFlush = performance.now();
    }

    /** Marks the end of the generation and sends the remaining text. */
    finish(): void {
        this.tEnd ??= performance.now();
        this.flush();
    }

    get promptDurationNs(): number {
        const end = this.tEnd ?? performance.now();
        return Math.round(((this.tFirstSample ?? end) - this.t0) * 1e6);
    }

    get evalDurationNs(): number {
        const end = this.tEnd ?? performance.now();
        return Math.round((end - (this.tFirstSample ?? end)) * 1e6);
    }
}
