import os from "node:os";
import {randomBytes} from "node:crypto";
import {
    getLlama, LlamaChat, LlamaCompletion, LlamaLogLevel,
    type ChatHistoryItem, type ChatModelFunctions, type Llama, type LlamaContext, type LlamaContextSequence,
    type LlamaEmbeddingContext, type LlamaGrammar, type LlamaModel, type Token
} from "node-llama-cpp";
import type {
    EmbedRequest, EmbedResult, GenerateRequest, GenerationEvent, GenerationStats, LoadedInfo, LoadSpec, ToolCall
} from "../runtime/protocol.js";
import {forceFunctionCall, forcedFunctions, sanitizeSchema, toChatHistory, toFunctions} from "./history.js";

type Emit = (event: GenerationEvent) => void;

/**
 * Streams the text of one generation and keeps its counts and times: tokens arrive through onToken, text (minus
 * what a stop trigger holds back) through onTextChunk. Chunks closer together than COALESCE_MS travel in one IPC
 * message, so a fast model does not pay one message per token; a slow one still streams every token at once.
 */
const COALESCE_MS = 4;

const GRAMMAR_CACHE_SIZE = 32;

class StreamMeter {
    readonly t0 = performance.now();
    tFirst: number | undefined;
    evalCount = 0;
    private pendingTokens = 0;
    private pendingText = "";
    private lastFlush = 0;
    private timer: NodeJS.Timeout | null = null;

    constructor(private readonly id: number, private readonly emit: Emit) {}

    readonly onToken = (tokens: Token[]): void => {
        this.tFirst ??= performance.now();
        this.evalCount += tokens.length;
        this.pendingTokens += tokens.length;
    };

    readonly onTextChunk = (text: string): void => {
        if (text === "") return;
        this.pendingText += text;
        const now = performance.now();
        if (now - this.lastFlush >= COALESCE_MS) this.flush();
        else this.timer ??= setTimeout(() => this.flush(), COALESCE_MS - (now - this.lastFlush));
    };

    /** Sends what is buffered; called before any tool call or done event so order is kept. */
    flush(): void {
        if (this.timer) clearTimeout(this.timer);
        this.timer = null;
        if (this.pendingText === "") return;
        this.emit({type: "text", id: this.id, text: this.pendingText, tokens: this.pendingTokens});
        this.pendingText = "";
        this.pendingTokens = 0;
        this.lastFlush = performance.now();
    }
}

/** The client's stop string that ended a generation (node-llama-cpp reports it as text and tokens). */
function matchedStop(metadata: {stopReason: string; customStopTrigger?: readonly (string | Token)[]}): string | null {
    if (metadata.stopReason !== "customStopTrigger" || !metadata.customStopTrigger) return null;
    const text = metadata.customStopTrigger.filter((p): p is string => typeof p === "string").join("");
    return text === "" ? null : text;
}

/** A request-level failure with the HTTP status the server should answer with. */
export class EngineError extends Error {
    constructor(message: string, readonly status: number) {
        super(message);
    }
}

interface Slot {
    sequence: LlamaContextSequence;
    chat: LlamaChat;
    completion: LlamaCompletion;
    busy: boolean;
}

function callId(): string {
    const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
    const bytes = randomBytes(8);
    return "call_" + [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
}

/**
 * Hosts one model in one runner process: a context with `parallel` sequences, each request on the free
 * sequence that shares the longest prefix with its prompt (llama-server's slot choice), so only new tokens are evaluated.
 */
export class Engine {
    private llama!: Llama;
    private model!: LlamaModel;
    private context!: LlamaContext;
    private slots: Slot[] = [];
    private embeddingContext: Promise<LlamaEmbeddingContext> | null = null;
    private grammarCache = new Map<string, Promise<LlamaGrammar>>();
    private threads = 1;
    private waiters: Array<() => void> = [];

    async load(spec: LoadSpec): Promise<LoadedInfo> {
        const t0 = performance.now();
        // the server resolves the default (physical cores) before it starts a runner
        this.threads = spec.threads > 0 ? spec.threads : Math.max(1, os.availableParallelism());
        this.llama = await getLlama({
            gpu: spec.gpu === "auto" ? "auto" : spec.gpu,
            build: "never",
            maxThreads: this.threads,
            logLevel: (spec.logLevel as LlamaLogLevel | undefined) ?? LlamaLogLevel.error
        });
        this.model = await this.llama.loadModel({modelPath: spec.modelPath});
        const train = this.model.trainContextSize;
        const contextSize = Math.max(16, spec.contextSize);
        this.context = await this.model.createContext({
            contextSize,
            sequences: spec.parallel,
            threads: {ideal: this.threads, min: 1},
            batchSize: Math.min(512, contextSize)
        });
        for (let i = 0; i < spec.parallel; i++) {
            const sequence = this.context.getSequence();
            this.slots.push({
                sequence,
                chat: new LlamaChat({contextSequence: sequence, autoDisposeSequence: false}),
                completion: new LlamaCompletion({contextSequence: sequence}),
                busy: false
            });
        }
        const infill = this.model.tokens.infill.prefix != null && this.model.tokens.infill.suffix != null;
        return {
            contextSize: this.context.contextSize,
            trainContextSize: train,
            parallel: spec.parallel,
            estimateBytes: this.model.memoryUsage?.ram != null ? Number(this.model.size) + Number(this.context.memoryUsage?.ram ?? 0) : Number(this.model.size),
            rssBytes: process.memoryUsage().rss,
            loadMs: performance.now() - t0,
            infill,
            embeddingLength: this.model.embeddingVectorSize,
            chatWrapper: this.slots[0]!.chat.chatWrapper.wrapperName,
            gpu: this.llama.gpu
        };
    }

    /** Waits for a free sequence and picks the one whose evaluated tokens share the longest prefix with `tokens`. */
    private async takeSlot(tokens: Token[]): Promise<Slot> {
        for (;;) {
            let best: Slot | null = null;
            let bestShared = -1;
            for (const s of this.slots) {
                if (s.busy) continue;
                const shared = s.sequence.compareContextTokens(tokens).firstDifferentIndex;
                if (shared > bestShared) {
                    best = s;
                    bestShared = shared;
                }
            }
            if (best) {
                best.busy = true;
                return best;
            }
            // the server never sends more than `parallel` requests; this only covers a race at release time
            await new Promise<void>((resolve) => this.waiters.push(resolve));
        }
    }

    private releaseSlot(slot: Slot): void {
        slot.busy = false;
        this.waiters.shift()?.();
    }

    /**
     * Grammars are compiled once per distinct grammar or schema and kept in a small LRU: an agent that sends a new
     * schema with every request must not grow the runner's memory without bound.
     */
    private cachedGrammar(key: string, create: () => Promise<LlamaGrammar>): Promise<LlamaGrammar> {
        let p = this.grammarCache.get(key);
        if (p) {
            this.grammarCache.delete(key);
            this.grammarCache.set(key, p);
            return p;
        }
        p = create();
        this.grammarCache.set(key, p);
        p.catch(() => this.grammarCache.delete(key));
        while (this.grammarCache.size > GRAMMAR_CACHE_SIZE) this.grammarCache.delete(this.grammarCache.keys().next().value!);
        return p;
    }

    private async grammarFor(req: GenerateRequest): Promise<LlamaGrammar | undefined> {
        if (req.grammar != null) {
            const gbnf = req.grammar;
            try {
                return await this.cachedGrammar("gbnf:" + gbnf, () => this.llama.createGrammar({grammar: gbnf}));
            } catch (err) {
                // a grammar that does not parse is the client's mistake, not the server's
                throw new EngineError(`invalid grammar: ${(err as Error).message}`, 400);
            }
        }
        if (req.format == null) return undefined;
        const format = req.format;
        try {
            return await this.cachedGrammar(format === "json" ? "json" : "schema:" + JSON.stringify(format), () => format === "json"
                ? this.llama.getGrammarFor("json")
                : this.llama.createGrammarForJsonSchema(sanitizeSchema(format) as Parameters<Llama["createGrammarForJsonSchema"]>[0]));
        } catch (err) {
            throw new EngineError(`invalid format schema: ${(err as Error).message}`, 400);
        }
    }

    private sampling(req: GenerateRequest) {
        const o = req.options;
        return {
            temperature: o.temperature,
            topK: o.top_k,
            topP: o.top_p,
            minP: o.min_p,
            seed: o.seed,
            repeatPenalty: o.repeat_penalty !== 1 || o.presence_penalty !== 0 || o.frequency_penalty !== 0
                ? {penalty: o.repeat_penalty, lastTokens: o.repeat_last_n < 0 ? this.context.contextSize : o.repeat_last_n, presencePenalty: o.presence_penalty, frequencyPenalty: o.frequency_penalty}
                : false as const,
            customStopTriggers: o.stop.length > 0 ? o.stop : undefined
        };
    }

    /** Fewest of: the request's num_predict and what is left of the context after the prompt. */
    private maxTokens(req: GenerateRequest, promptTokens: number): number {
        const room = this.context.contextSize - promptTokens;
        if (room < 1)
            throw new EngineError(`the input length (${promptTokens} tokens) exceeds the context length (${this.context.contextSize} tokens); shorten the prompt or raise context_size for this model`, 400);
        const n = req.options.num_predict;
        return n > 0 ? Math.min(n, room) : room;
    }

    async generate(id: number, req: GenerateRequest, emit: Emit, signal: AbortSignal): Promise<void> {
        const grammar = await this.grammarFor(req);
        const functions = req.mode === "chat" && req.tool_choice !== "none" ? toFunctions(req.tools) : undefined;
        if (grammar && functions)
            throw new EngineError("a request cannot combine tools with a format or grammar: the engine cannot constrain both at once; send one or the other", 400);

        if (req.mode === "chat") {
            let forced: ChatModelFunctions | null = null;
            try {
                forced = functions ? forcedFunctions(functions, req.tool_choice) : null;
            } catch (err) {
                throw new EngineError((err as Error).message, 400);
            }
            return this.generateChat(id, req, emit, signal, grammar, functions, forced);
        }
        return this.generateCompletion(id, req, emit, signal, grammar);
    }

    private fitHistory(history: ChatHistoryItem[], functions: ChatModelFunctions | undefined): {history: ChatHistoryItem[]; tokens: Token[]} {
        const wrapper = this.slots[0]!.chat.chatWrapper;
        const render = (h: ChatHistoryItem[]) => wrapper.generateContextState({chatHistory: h, availableFunctions: functions, documentFunctionParams: true})
            .contextText.tokenize(this.model.tokenizer);
        let tokens = render(history);
        // like Ollama's truncate: drop the oldest turns (never the system prompt or the last message) until it fits
        const limit = this.context.contextSize - 1;
        let h = history;
        while (tokens.length >= limit) {
            const idx = h.findIndex((item, i) => item.type !== "system" && i < h.length - 1);
            if (idx === -1) break;
            h = [...h.slice(0, idx), ...h.slice(idx + 1)];
            tokens = render(h);
        }
        return {history: h, tokens};
    }

    private async generateChat(id: number, req: GenerateRequest, emit: Emit, signal: AbortSignal,
        grammar: LlamaGrammar | undefined, functions: ChatModelFunctions | undefined, forced: ChatModelFunctions | null = null): Promise<void> {
        const {history, tokens} = this.fitHistory(toChatHistory(req.messages ?? []), functions);
        const maxTokens = this.maxTokens(req, tokens.length);
        const slot = await this.takeSlot(tokens);
        // a forced call needs a wrapper that starts the answer with the call prefix; the prompt stays the same
        const chat = forced && functions
            ? new LlamaChat({contextSequence: slot.sequence, chatWrapper: forceFunctionCall(slot.chat.chatWrapper, functions), autoDisposeSequence: false})
            : slot.chat;
        try {
            const before = slot.sequence.tokenMeter.getState();
            const meter = new StreamMeter(id, emit);
            // grammar and functions are exclusive in node-llama-cpp's types (checked above), so pass one shape or the other
            const constraint = functions
                ? {functions: forced ?? functions, documentFunctionParams: true, ...(forced && typeof req.tool_choice === "object" ? {maxParallelFunctionCalls: 1} : {})}
                : {grammar};
            const res = await chat.generateResponse(history, {
                ...this.sampling(req),
                maxTokens,
                ...(constraint as {grammar?: undefined}),
                signal,
                stopOnAbortSignal: true,
                trimWhitespaceSuffix: false,
                onToken: meter.onToken,
                onTextChunk: meter.onTextChunk
            });
            const t1 = performance.now();
            meter.flush();
            const returnedCalls = (res as {functionCalls?: Array<{functionName: string; params: unknown}>}).functionCalls ?? [];
            const calls: ToolCall[] = returnedCalls.map((c) => ({id: callId(), name: c.functionName, arguments: (c.params ?? {}) as Record<string, unknown>}));
            if (calls.length > 0) emit({type: "tool_calls", id, calls});
            const stop = res.metadata.stopReason;
            // tokens generated inside a function call never reach onToken; the sequence's meter counts them
            const generated = functions ? Math.max(meter.evalCount, slot.sequence.tokenMeter.diff(before).usedOutputTokens) : meter.evalCount;
            emit({type: "done", id, stats: {...this.stats(slot, before, tokens.length, generated, meter, t1,
                calls.length > 0 ? "tool_calls" : stop === "maxTokens" ? "length" : "stop"), stop_sequence: matchedStop(res.metadata)}});
        } finally {
            if (chat !== slot.chat) chat.dispose({disposeSequence: false});
            this.releaseSlot(slot);
        }
    }

    private async generateCompletion(id: number, req: GenerateRequest, emit: Emit, signal: AbortSignal, grammar: LlamaGrammar | undefined): Promise<void> {
        const tok = this.model.tokenizer;
        const bos = this.model.tokens.shouldPrependBosToken ? this.model.tokens.bos : null;
        let tokens: Token[];
        let inputTokens: Token[] = [];
        if (req.mode === "infill") {
            if (this.model.tokens.infill.prefix == null || this.model.tokens.infill.suffix == null)
                throw new EngineError("this model does not support insert: its GGUF has no fill-in-the-middle tokens", 400);
            tokens = [this.model.tokens.infill.prefix, ...tok(req.prompt ?? ""), this.model.tokens.infill.suffix, ...tok(req.suffix ?? "")];
        } else {
            // raw prompts carry the client's own special tokens (Zed's FIM markers), so parse them;
            // LlamaCompletion prepends BOS itself, exactly as it does for a string prompt
            inputTokens = tok(req.prompt ?? "", true, bos != null ? "trimLeadingSpace" : undefined);
            tokens = [...(bos != null ? [bos] : []), ...inputTokens];
        }
        const maxTokens = this.maxTokens(req, tokens.length);
        const slot = await this.takeSlot(tokens);
        try {
            const before = slot.sequence.tokenMeter.getState();
            const meter = new StreamMeter(id, emit);
            const opts = {
                ...this.sampling(req),
                maxTokens,
                grammar,
                signal,
                stopOnAbortSignal: true,
                trimWhitespaceSuffix: false,
                disableContextShift: true,
                onToken: meter.onToken,
                onTextChunk: meter.onTextChunk
            };
            const res = req.mode === "infill"
                ? await slot.completion.generateInfillCompletionWithMeta(req.prompt ?? "", req.suffix ?? "", opts)
                : await slot.completion.generateCompletionWithMeta(inputTokens, opts);
            const t1 = performance.now();
            meter.flush();
            emit({type: "done", id, stats: {...this.stats(slot, before, tokens.length, meter.evalCount, meter, t1,
                res.metadata.stopReason === "maxTokens" ? "length" : "stop"), stop_sequence: matchedStop(res.metadata)}});
        } finally {
            this.releaseSlot(slot);
        }
    }

    private stats(slot: Slot, before: ReturnType<LlamaContextSequence["tokenMeter"]["getState"]>, promptTokens: number, evalCount: number,
        meter: StreamMeter, t1: number, doneReason: GenerationStats["done_reason"]): GenerationStats {
        const {t0, tFirst} = meter;
        const used = slot.sequence.tokenMeter.diff(before);
        // the meter counts the last prompt token as output (it is decoded with logits); add it back to the prompt side
        const evaluated = Math.min(promptTokens, used.usedInputTokens + 1);
        return {
            done_reason: doneReason,
            prompt_eval_count: evaluated,
            prompt_tokens: promptTokens,
            cached_tokens: Math.max(0, promptTokens - evaluated),
            eval_count: evalCount,
            prompt_eval_duration_ns: Math.round(((tFirst ?? t1) - t0) * 1e6),
            eval_duration_ns: Math.round((t1 - (tFirst ?? t1)) * 1e6),
            context_size: this.context.contextSize
        };
    }

    async embed(req: EmbedRequest): Promise<EmbedResult> {
        this.embeddingContext ??= this.model.createEmbeddingContext({
            contextSize: Math.min(this.context.contextSize, this.model.trainContextSize || this.context.contextSize),
            threads: this.threads
        });
        const ec = await this.embeddingContext;
        const limit = Math.min(this.context.contextSize, this.model.trainContextSize || this.context.contextSize) - 1;
        const vectors: number[][] = [];
        let promptTokens = 0;
        for (const input of req.inputs) {
            let tokens = this.model.tokenize(input);
            if (tokens.length > limit) {
                if (!req.truncate) throw new EngineError(`the input length (${tokens.length} tokens) exceeds the context length (${limit} tokens)`, 400);
                tokens = tokens.slice(0, limit);
            }
            promptTokens += tokens.length;
            const e = await ec.getEmbeddingFor(tokens);
            vectors.push([...e.vector]);
        }
        return {vectors, prompt_tokens: promptTokens};
    }

    countTokens(text: string, chat?: import("../runtime/protocol.js").ChatMessage[]): number {
        if (chat) return this.fitHistory(toChatHistory(chat), undefined).tokens.length;
        return this.model.tokenize(text, true).length;
    }

    async dispose(): Promise<void> {
        await this.llama?.dispose();
    }
}

