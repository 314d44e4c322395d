import os from "node:os";
import {randomBytes} from "node:crypto";
import {
    getLlama, getModuleVersion, LlamaChat, LlamaLogLevel,
    type ChatHistoryItem, type ChatModelFunctions, type ChatWrapper, type Llama, type LlamaContext, type LlamaContextSequence,
    type LlamaEmbeddingContext, type LlamaGrammar, type LlamaModel, type Token
} from "node-llama-cpp";
import {badRequest, cancelled, ProviderError} from "../runtime/errors.js";
import {evaluationPriorityOf} from "../runtime/latency.js";
import {PromptStateStore} from "../runtime/prompt-cache.js";
import type {
    ChatMessage, EmbedRequest, EmbedResult, GenerateRequest, GenerationEvent, GenerationStats, LoadedInfo, LoadSpec, RunnerStatus, ToolCall, ToolDefinition
} from "../runtime/protocol.js";
import {AnswerStream} from "./answer-stream.js";
import {BatchGatherer} from "./batch-schedule.js";
import {BinaryTestCache, defaultBinaryTestCacheFile} from "./binary-test-cache.js";
import {binaryTestCacheFor, withBinaryTestCache} from "./binary-test-fork.js";
import {GrammarCache} from "./grammars.js";
import {forceFunctionCall, forcedFunctions, toChatHistory, toFunctions} from "./history.js";
import {GenerationMeter} from "./meter.js";
import {prefill} from "./prefill.js";
import {SequencePool, type Sequence} from "./sequences.js";
import {defaultWrapperMemo} from "./wrapper-memo.js";
import {ChatWrappers, hasThoughtSegments} from "./wrappers.js";
import {xmlCallOpening} from "./xml-tools-wrapper.js";

type Emit = (event: GenerationEvent) => void;

/** Each call returns the whole milliseconds since the previous one (or since the clock was made). */
function phaseClock(): () => number {
    let last = performance.now();
    return () => {
        const now = performance.now();
        const ms = Math.round(now - last);
        last = now;
        return ms;
    };
}

/** Where the runner's own warnings go (the server's log, through the runner's IPC channel). */
export type RunnerLog = (level: "debug" | "info" | "warn" | "error", msg: string, data?: Record<string, unknown>) => void;
type MeterState = ReturnType<LlamaContextSequence["tokenMeter"]["getState"]>;

/**
 * Parallel tool calls stop at this many unless the client allows only one. A small model made to call a tool
 * (tool_choice "required", Anthropic "any") otherwise emits call after call until max_tokens (19 calls in 1,000
 * tokens were seen), and agents act on a handful at a time.
 */
export const MAX_PARALLEL_TOOL_CALLS = 8;

/** The client's stop string that ended a generation (node-llama-cpp reports it as text and tokens). */
function matchedStop(metadata: {stopReason: string; customStopTrigger?: readonly (string | Token)[]}): string | null {
    if (metadata.stopReason !== "customStopTrigger" || !metadata.customStopTrigger) return null;
    const text = metadata.customStopTrigger.filter((p): p is string => typeof p === "string").join("");
    return text === "" ? null : text;
}

/**
 * LlamaChat throws when the context fills up and its history cannot be shortened to make room (a forced tool call
 * whose arguments never end, call text injected between parallel calls): "The default context shift strategy did
 * not return a history that fits the context size", "The context size is too small to generate a response".
 * Our own limits already refused a prompt that does not fit, so this is a generation that ran out of room.
 */
function ranOutOfContext(err: unknown): boolean {
    return err instanceof Error && !(err instanceof ProviderError) && /context size/i.test(err.message);
}

function callId(): string {
    const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
    const bytes = randomBytes(8);
    return "call_" + [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
}

type ReturnedCall = {functionName: string; params?: unknown};

function toToolCalls(calls: readonly ReturnedCall[]): ToolCall[] {
    return calls.map((c) => ({id: callId(), name: c.functionName, arguments: (c.params ?? {}) as Record<string, unknown>}));
}

/** `history` with the model's answer begun by `opening` (a forced call's first words), continuing the last answer if it is one. */
function withAnswerStart(history: ChatHistoryItem[], opening: string | undefined): ChatHistoryItem[] {
    if (opening == null) return history;
    const last = history.at(-1);
    if (last?.type === "model") return [...history.slice(0, -1), {type: "model", response: [...last.response, opening]}];
    return [...history, {type: "model", response: [opening]}];
}

/**
 * Hosts one model in one runner process: a context with `parallel` sequences; each request runs on the free
 * sequence that shares the longest prefix with its prompt.
 */
export class Engine {
    private llama!: Llama;
    private model!: LlamaModel;
    private context!: LlamaContext;
    private pool!: SequencePool;
    private grammars!: GrammarCache;
    /** Saved prompt states of this model (src/runtime/prompt-cache.ts); null when the cache is off. */
    private promptStates: PromptStateStore | null = null;
    /** Tokens restored from a saved state, by sequence index, until the request using them reports its stats. */
    private restored = new Map<number, number>();
    private wrappers!: ChatWrappers;
    private embeddingContext: Promise<LlamaEmbeddingContext> | null = null;
    private threads = 1;
    /** Keeps the sequences that are generating in the same decode (batch-schedule.ts). */
    private readonly gatherer = new BatchGatherer();

    constructor(private readonly log: RunnerLog = () => undefined) {}

    /** `startMs`: the process's age when the load message came (its boot and the engine's import). */
    async load(spec: LoadSpec, startMs = 0): Promise<LoadedInfo> {
        const t0 = performance.now();
        const mark = phaseClock();
        // the server resolves the default (physical cores) before it starts a runner
        this.threads = spec.threads > 0 ? spec.threads : Math.max(1, os.availableParallelism());
        // node-llama-cpp's binary test forks a process per load (~580 ms); a binary that passed it before skips it
        const engineVersion = await getModuleVersion();
        const cacheFile = defaultBinaryTestCacheFile();
        this.llama = await withBinaryTestCache(binaryTestCacheFor(engineVersion, cacheFile == null ? null : new BinaryTestCache(cacheFile)), () => getLlama({
            gpu: spec.gpu === "auto" ? "auto" : spec.gpu,
            build: "never",
            maxThreads: this.threads,
            logLevel: (spec.logLevel as LlamaLogLevel | undefined) ?? LlamaLogLevel.error
        }));
        const engineMs = mark();
        this.model = await this.llama.loadModel({modelPath: spec.modelPath});
        const modelMs = mark();
        const train = this.model.trainContextSize;
        const contextSize = Math.max(16, spec.contextSize);
        this.context = await this.model.createContext({
            contextSize,
            sequences: spec.parallel,
            threads: {ideal: this.threads, min: 1},
            batchSize: Math.min(512, contextSize),
            // `flash_attention` (default "auto", llama.cpp's choice, on for the CPU too): a 2,377-token prompt on the
            // 0.5B shape evaluated 27-38 % faster with it on the 2-core VM, generation unchanged; only the tiny test
            // model generates slower with it as its context fills (documentation/performance.md). Without the
            // setting (engine tests), off on the CPU as their oracles are
            flashAttention: spec.flashAttention ?? (this.llama.gpu === false ? false : "auto"),
            // four streams decoded three tokens per batch with node-llama-cpp's own strategy, four with this one
            batching: {itemPrioritizationStrategy: this.gatherer.strategy}
        });
        const contextMs = mark();
        this.wrappers = new ChatWrappers(this.model, {memo: defaultWrapperMemo(engineVersion), modelPath: spec.modelPath});
        const chatWrapperMs = mark();
        this.pool = new SequencePool(this.context, spec, this.wrappers.base);
        // a draft model loads with the pool: a bad one must fail this load, not every request after it
        await this.pool.ready;
        if (spec.promptCache) {
            const store = new PromptStateStore(spec.promptCache, `llama.cpp ${this.llama.llamaCppRelease.release} gpu:${String(this.llama.gpu)}`, this.log);
            try {
                await store.open();
                this.promptStates = store;
            } catch (err) {
                this.log("warn", "prompt states unavailable", {err: (err as Error).message});
            }
        }
        this.grammars = new GrammarCache(this.llama);
        const infill = this.model.tokens.infill.prefix != null && this.model.tokens.infill.suffix != null;
        return {
            contextSize: this.context.contextSize,
            trainContextSize: train,
            parallel: spec.parallel,
            estimateBytes: this.model.memoryUsage?.ram != null ? Number(this.model.size) + Number(this.context.memoryUsage?.ram ?? 0) : Number(this.model.size),
            rssBytes: process.memoryUsage().rss,
            loadMs: performance.now() - t0,
            phases: {start: Math.round(startMs), engine: engineMs, model: modelMs, context: contextMs, chatWrapper: chatWrapperMs},
            infill,
            embeddingLength: this.model.embeddingVectorSize,
            chatWrapper: this.wrappers.base.wrapperName,
            gpu: this.llama.gpu
        };
    }

    status(): RunnerStatus {
        return {sequences: (this.pool?.all ?? []).map((s) => ({index: s.index, job: s.job, contextTokens: s.sequence.nextTokenIndex}))};
    }

    /** Fewest of: the request's num_predict and what is left of the context after the prompt. */
    private maxTokens(req: GenerateRequest, promptTokens: number): number {
        const room = this.context.contextSize - promptTokens;
        if (room < 1)
            throw badRequest(`the input length (${promptTokens} tokens) exceeds the context length (${this.context.contextSize} tokens); shorten the prompt or raise context_size for this model`);
        const n = req.options.num_predict;
        return n > 0 ? Math.min(n, room) : room;
    }

    private sampling(req: GenerateRequest, meter: GenerationMeter) {
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
            customStopTriggers: o.stop.length > 0 ? o.stop : undefined,
            tokenBias: meter.tokenBias,
            onToken: meter.onToken,
            onTextChunk: meter.onTextChunk,
            stopOnAbortSignal: true,
            trimWhitespaceSuffix: false,
            evaluationPriority: evaluationPriorityOf(req.latency)
        };
    }

    async generate(id: number, req: GenerateRequest, emit: Emit, signal: AbortSignal): Promise<void> {
        const grammar = await this.grammars.forRequest(req);
        const functions = req.mode === "chat" && req.tool_choice !== "none" ? toFunctions(req.tools) : undefined;
        if (grammar && functions)
            throw badRequest("a request cannot combine tools with a format or grammar: the engine cannot constrain both at once; send one or the other");
        try {
            if (req.mode === "chat") {
                let forced: ChatModelFunctions | null = null;
                try {
                    forced = functions ? forcedFunctions(functions, req.tool_choice) : null;
                } catch (err) {
                    throw badRequest((err as Error).message, "tool_choice");
                }
                await this.generateChat(id, req, emit, signal, grammar, functions, forced);
            } else {
                await this.generateCompletion(id, req, emit, signal, grammar);
            }
        } catch (err) {
            // node-llama-cpp rejects with the signal's reason when it is aborted before any text
            if (signal.aborted && !(err instanceof ProviderError && err.kind !== "cancelled")) throw cancelled();
            throw err;
        }
    }

    /**
     * The prompt LlamaChat will evaluate for `history` (it appends the model's empty answer). One that does not fit
     * the context is refused with both counts ("refuse"), or loses its oldest turns until it fits ("truncate":
     * never the system prompt, the tool definitions or the last message); "count" only measures it.
     */
    private fitHistory(history: ChatHistoryItem[], functions: ChatModelFunctions | undefined, mode: "refuse" | "truncate" | "count",
        wrapper: ChatWrapper = this.wrappers.base): {history: ChatHistoryItem[]; tokens: Token[]; dropped: number} {
        const render = (h: ChatHistoryItem[]) => wrapper.generateContextState({
            chatHistory: h.at(-1)?.type === "model" ? h : [...h, {type: "model", response: []}],
            availableFunctions: functions,
            documentFunctionParams: true
        }).contextText.tokenize(this.model.tokenizer);
        let tokens = render(history);
        const full = tokens.length;
        const limit = this.context.contextSize - 1;
        if (mode === "count") return {history, tokens, dropped: 0};
        if (mode === "refuse" && full >= limit)
            throw new ProviderError("bad_request", `this model's context holds ${this.context.contextSize} tokens, but the prompt is ${full} tokens ` +
                "(room for at least one generated token is needed); shorten the conversation, raise context_size for this model, or ask for truncation",
            {code: "context_length_exceeded", param: "messages"});
        // like Ollama's truncate: drop the oldest turns (never the system prompt or the last message) until it fits
        let h = history;
        while (tokens.length >= limit) {
            const idx = h.findIndex((item, i) => item.type !== "system" && i < h.length - 1);
            if (idx === -1) break;
            h = [...h.slice(0, idx), ...h.slice(idx + 1)];
            tokens = render(h);
        }
        return {history: h, tokens, dropped: full - tokens.length};
    }

    private async generateChat(id: number, req: GenerateRequest, emit: Emit, signal: AbortSignal,
        grammar: LlamaGrammar | undefined, functions: ChatModelFunctions | undefined, forced: ChatModelFunctions | null): Promise<void> {
        // the wrapper for this request's reasoning settings and tools; XML-style tools are read from the answer text
        const plan = this.wrappers.plan(req, functions ? req.tools : undefined);
        const native = plan.textToolCalls ? undefined : functions;
        const opening = plan.textToolCalls && forced ? xmlCallOpening(req.tool_choice) : undefined;
        const fitted = this.fitHistory(withAnswerStart(toChatHistory(req.messages ?? [], {thoughts: hasThoughtSegments(plan.wrapper)}), opening),
            native, req.truncate === true ? "truncate" : "refuse", plan.wrapper);
        const {history, tokens, dropped} = fitted;
        const maxTokens = this.maxTokens(req, tokens.length);
        const seq = await this.takeSequence(id, tokens, signal);
        // a forced call needs a wrapper that starts the answer with the call prefix; the prompt stays the same
        const chat = new LlamaChat({
            contextSequence: seq.sequence,
            chatWrapper: forced && native ? forceFunctionCall(plan.wrapper, native) : plan.wrapper,
            autoDisposeSequence: false
        });
        this.gatherer.begin();
        try {
            const before = seq.sequence.tokenMeter.getState();
            const meter = new GenerationMeter(id, emit, this.model);
            await prefill(seq.sequence, tokens, this.context.batchSize, signal, evaluationPriorityOf(req.latency));
            // calls completed so far, kept in case the context runs out before generateResponse can return them
            const completed: ReturnedCall[] = [];
            // a named tool_choice asks for that one call
            const parallel = req.parallelToolCalls === false || typeof req.tool_choice === "object" ? 1 : MAX_PARALLEL_TOOL_CALLS;
            // calls read from the text stop the generation once the limit is reached, as function calling does
            const limit = new AbortController();
            const answer = new AnswerStream({
                id, meter, emit,
                hideThoughts: plan.hideThoughts,
                textTools: functions && req.tools
                    ? {definitions: req.tools, maxCalls: parallel, onLimit: () => limit.abort(), prefill: opening}
                    : undefined,
                warn: (msg, data) => this.log("warn", msg, data),
                newCallId: callId
            });
            // grammar and functions are exclusive in node-llama-cpp's types (checked above), so pass one shape or the other
            const constraint = native
                ? {functions: forced ?? native, documentFunctionParams: true, maxParallelFunctionCalls: parallel, onFunctionCall: (c: ReturnedCall) => completed.push(c)}
                : {grammar};
            let calls: ToolCall[];
            let doneReason: GenerationStats["done_reason"];
            let stopSequence: string | null = null;
            try {
                const res = await chat.generateResponse(history, {
                    ...this.sampling(req, meter),
                    // chat text arrives through onResponseChunk, thought segments included
                    onToken: undefined,
                    onTextChunk: undefined,
                    onResponseChunk: answer.onResponseChunk,
                    budgets: {thoughtTokens: plan.thoughtBudget},
                    maxTokens,
                    ...(constraint as {grammar?: undefined}),
                    signal: AbortSignal.any([signal, limit.signal])
                });
                calls = toToolCalls((res as {functionCalls?: ReturnedCall[]}).functionCalls ?? []);
                doneReason = res.metadata.stopReason === "maxTokens" ? "length" : "stop";
                stopSequence = matchedStop(res.metadata);
            } catch (err) {
                if (signal.aborted || !ranOutOfContext(err)) throw err;
                // out of room is a length stop like any other; the calls finished before it still count
                calls = toToolCalls(completed);
                doneReason = "length";
            }
            answer.finish();
            // finished calls are what the client acts on, even when the limit cut a further one short
            if (calls.length > 0 || answer.textCalls.length > 0) doneReason = "tool_calls";
            meter.finish();
            if (calls.length > 0) emit({type: "tool_calls", id, calls});
            emit({type: "done", id, stats: {
                ...this.stats(seq, before, tokens.length, meter, doneReason), stop_sequence: stopSequence, truncated_tokens: dropped,
                reasoning_tokens: meter.reasoningTokens
            }});
        } finally {
            chat.dispose({disposeSequence: false});
            this.gatherer.end();
            this.pool.release(seq);
        }
    }

    /** The tokens LlamaCompletion evaluates for an infill request (same layout and BOS rule as its own). */
    private infillTokens(prefix: string, suffix: string): Token[] {
        const t = this.model.tokens;
        const pre = t.infill.prefix;
        const suf = t.infill.suffix;
        if (pre == null || suf == null) throw badRequest("this model does not support insert: its GGUF has no fill-in-the-middle tokens", "suffix");
        const tok = (text: string) => this.model.tokenize(text, false, "trimLeadingSpace");
        const bos = t.shouldPrependBosToken && t.bos != null ? [t.bos] : [];
        const mid = t.infill.middle;
        return mid != null
            ? [...bos, pre, ...tok(prefix), suf, ...tok(suffix), mid]
            : [...bos, suf, ...tok(suffix), pre, ...tok(prefix)];
    }

    private async generateCompletion(id: number, req: GenerateRequest, emit: Emit, signal: AbortSignal, grammar: LlamaGrammar | undefined): Promise<void> {
        const bos = this.model.tokens.shouldPrependBosToken ? this.model.tokens.bos : null;
        let tokens: Token[];
        let inputTokens: Token[] = [];
        if (req.mode === "infill") {
            tokens = this.infillTokens(req.prompt ?? "", req.suffix ?? "");
        } else {
            // raw prompts carry the client's own special tokens (Zed's FIM markers), so parse them;
            // LlamaCompletion prepends BOS itself, exactly as it does for a string prompt
            inputTokens = this.model.tokenize(req.prompt ?? "", true, bos != null ? "trimLeadingSpace" : undefined);
            tokens = [...(bos != null ? [bos] : []), ...inputTokens];
        }
        const maxTokens = this.maxTokens(req, tokens.length);
        const seq = await this.takeSequence(id, tokens, signal);
        this.gatherer.begin();
        try {
            const before = seq.sequence.tokenMeter.getState();
            const meter = new GenerationMeter(id, emit, this.model);
            await prefill(seq.sequence, tokens, this.context.batchSize, signal, evaluationPriorityOf(req.latency));
            const opts = {
                ...this.sampling(req, meter),
                maxTokens,
                grammar,
                signal,
                disableContextShift: true,
                // LlamaCompletion fits infill input into the context minus this many tokens; the prompt already fits
                contextShiftSize: 1
            };
            const res = req.mode === "infill"
                ? await seq.completion.generateInfillCompletionWithMeta(req.prompt ?? "", req.suffix ?? "", opts)
                : await seq.completion.generateCompletionWithMeta(inputTokens, opts);
            meter.finish();
            emit({type: "done", id, stats: {...this.stats(seq, before, tokens.length, meter,
                res.metadata.stopReason === "maxTokens" ? "length" : "stop"), stop_sequence: matchedStop(res.metadata)}});
        } finally {
            this.gatherer.end();
            this.pool.release(seq);
        }
    }

    private stats(seq: Sequence, before: MeterState, promptTokens: number, meter: GenerationMeter, doneReason: GenerationStats["done_reason"]): GenerationStats {
        const used = seq.sequence.tokenMeter.diff(before);
        // the meter counts the last prompt token as output (it is decoded with logits); add it back to the prompt side
        const evaluated = Math.min(promptTokens, used.usedInputTokens + 1);
        const restored = Math.min(this.restored.get(seq.index) ?? 0, promptTokens - evaluated);
        this.restored.delete(seq.index);
        return {
            done_reason: doneReason,
            prompt_eval_count: evaluated,
            prompt_tokens: promptTokens,
            cached_tokens: Math.max(0, promptTokens - evaluated),
            // a refused guess is still sampled: those samples are not generated tokens
            eval_count: Math.max(0, meter.sampled - this.pool.wastedSamples(seq)),
            prompt_eval_duration_ns: meter.promptDurationNs,
            eval_duration_ns: meter.evalDurationNs,
            context_size: this.context.contextSize,
            ...(restored > 0 ? {restored_tokens: restored} : {})
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
                if (!req.truncate) throw badRequest(`the input length (${tokens.length} tokens) exceeds the context length (${limit} tokens)`, "input");
                tokens = tokens.slice(0, limit);
            }
            promptTokens += tokens.length;
            const e = await ec.getEmbeddingFor(tokens);
            vectors.push([...e.vector]);
        }
        return {vectors, prompt_tokens: promptTokens};
    }

    /** A chat's prompt tokens with `tools` rendered as generateChat renders them: the same wrapper and functions. */
    countTokens(text: string, chat?: ChatMessage[], tools?: ToolDefinition[]): number {
        if (!chat) return this.model.tokenize(text, true).length;
        const functions = toFunctions(tools);
        const plan = this.wrappers.plan({}, functions ? tools : undefined);
        const native = plan.textToolCalls ? undefined : functions;
        return this.fitHistory(toChatHistory(chat, {thoughts: hasThoughtSegments(plan.wrapper)}), native, "count", plan.wrapper).tokens.length;
    }

    /**
     * The free sequence sharing the longest prefix with `tokens`; when a saved prompt state shares a longer one,
     * that state is loaded into it first, so only the tokens after it are evaluated.
     */
    private async takeSequence(id: number, tokens: Token[], signal: AbortSignal): Promise<Sequence> {
        const seq = await this.pool.take(id, tokens, signal);
        const store = this.promptStates;
        const saved = store?.best(tokens);
        if (!store || !saved) return seq;
        const held = seq.sequence.compareContextTokens(tokens).firstDifferentIndex;
        if (saved.shared <= held) return seq;
        try {
            if (!(await store.verify(saved.entry))) return seq;
            await seq.sequence.loadStateFromFile(saved.entry.statePath, {acceptRisk: true});
            await store.touch(saved.entry);
            this.restored.set(seq.index, saved.shared);
        } catch (err) {
            // the sequence is empty after a failed load; it evaluates the whole prompt as if nothing had been saved
            await store.reject(saved.entry, `loading it failed: ${(err as Error).message}`);
        }
        return seq;
    }

    /** Writes every sequence's evaluated state to the prompt cache (an unload, an eviction, a shutdown). */
    async saveStates(): Promise<void> {
        const store = this.promptStates;
        if (!store || !this.pool) return;
        let saved = 0;
        for (const s of this.pool.all) if (await store.save(s.sequence)) saved++;
        await store.prune();
        if (saved > 0) this.log("info", "prompt states saved", {saved});
    }

    async dispose(): Promise<void> {
        await this.saveStates().catch((err: unknown) => this.log("warn", "prompt states not saved", {err: (err as Error).message}));
        await this.llama?.dispose();
    }
}
