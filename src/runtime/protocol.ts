/**
 * The one internal request every API family translates into, the events every family translates back,
 * and the IPC messages between the server and a runner process.
 */
import type {ErrorKind} from "./errors.js";
import type {LatencyClass} from "./latency.js";
import type {PromptCacheSpec} from "./prompt-cache.js";

export interface SamplingOptions {
    temperature: number;
    top_k: number;
    top_p: number;
    min_p: number;
    /** undefined → random, as Ollama's -1. */
    seed?: number;
    /** -1 → until the context is full. */
    num_predict: number;
    stop: string[];
    repeat_penalty: number;
    repeat_last_n: number;
    presence_penalty: number;
    frequency_penalty: number;
}

export interface ToolCall {
    id: string;
    name: string;
    arguments: Record<string, unknown>;
}

export interface ChatMessage {
    role: "system" | "user" | "assistant" | "tool";
    content: string;
    /**
     * For role "assistant": the thought segment the model wrote before this answer, as the client sent it back
     * (OpenAI `reasoning_content`, Ollama `thinking`, Anthropic thinking blocks). The runner hands it to the model's
     * template, which keeps or drops it the way the model was trained (most keep only the current turn's).
     */
    thinking?: string;
    tool_calls?: ToolCall[];
    /** For role "tool": which call this answers (by id or by function name). */
    tool_call_id?: string;
    tool_name?: string;
}

export interface ToolDefinition {
    name: string;
    description?: string;
    parameters?: Record<string, unknown>;
}

export type ToolChoice = "auto" | "none" | "required" | {name: string};

/** How hard a reasoning model should think; the runner turns a level into a thought-token budget (see src/runner/reasoning.ts). */
export type ReasoningEffort = "low" | "medium" | "high";

/**
 * What the client asked of a reasoning model's thought segment. Absent: the model's own default (most reasoning
 * templates think), and the thoughts are returned in the family's reasoning field.
 */
export interface ReasoningRequest {
    /**
     * false: no thinking. Where the model's template has a switch (Qwen3's `enable_thinking`, node-llama-cpp's
     * wrapper options) it is turned off; where it has none the model still thinks, and the thoughts are left out of
     * the answer (counted all the same).
     */
    enabled: boolean;
    /** At most this many thought tokens (Anthropic `budget_tokens`); wins over `effort`. */
    budgetTokens?: number;
    effort?: ReasoningEffort;
}

/**
 * There is no logprobs field: node-llama-cpp's LlamaChat and LlamaCompletion never ask the sampler for token
 * probabilities (only the bare sequence API can), so reporting them would mean a generation loop of our own in
 * place of theirs (stop triggers, grammars, tool calls). The API layer refuses `logprobs` with a 400 instead.
 */
export interface GenerateRequest {
    /** chat: messages through the model's chat template; completion: raw prompt text; infill: prefix + suffix. */
    mode: "chat" | "completion" | "infill";
    messages?: ChatMessage[];
    prompt?: string;
    suffix?: string;
    options: SamplingOptions;
    tools?: ToolDefinition[];
    tool_choice?: ToolChoice;
    /** JSON schema, or "json" for any JSON value. */
    format?: "json" | Record<string, unknown>;
    /** A GBNF grammar (llama.cpp clients). */
    grammar?: string;
    /**
     * false: at most one tool call (OpenAI `parallel_tool_calls: false`, Anthropic `disable_parallel_tool_use`).
     * true or absent: several, up to the runner's cap (8).
     */
    parallelToolCalls?: boolean;
    /** The request's latency class: the runner evaluates a short request's tokens first. Absent: long. */
    latency?: LatencyClass;
    /**
     * A chat prompt longer than the context: true drops the oldest turns (never the system prompt, the tool
     * definitions or the last message) and reports how many tokens went; false or absent refuses it with a 400
     * naming both counts.
     */
    truncate?: boolean;
    /** Chat only: what the client asked of a reasoning model's thought segment. */
    reasoning?: ReasoningRequest;
}

export interface GenerationStats {
    done_reason: "stop" | "length" | "tool_calls";
    /** Prompt tokens actually evaluated (cached prefix excluded), as Ollama reports on a cache hit. */
    prompt_eval_count: number;
    /** All prompt tokens, cached or not (OpenAI's usage.prompt_tokens). */
    prompt_tokens: number;
    cached_tokens: number;
    eval_count: number;
    prompt_eval_duration_ns: number;
    eval_duration_ns: number;
    /** The context window the request was served in. */
    context_size: number;
    /** The client's stop string that ended the generation, when one did. */
    stop_sequence?: string | null;
    /** Prompt tokens dropped (oldest turns first) so the prompt fits the context; 0 or absent when none were. */
    truncated_tokens?: number;
    /** Prompt tokens whose evaluated state came from a saved prompt state on disk instead of being evaluated again. */
    restored_tokens?: number;
    /** How many of eval_count's tokens were the model's thought segment (shown to the client or not). */
    reasoning_tokens?: number;
}

/** Runner → server, per request. */
export type GenerationEvent =
    | {type: "text"; id: number; text: string; tokens: number}
    /** A piece of the model's thought segment, sent as it comes and always before the answer text it precedes. */
    | {type: "thinking"; id: number; text: string; tokens: number}
    | {type: "tool_calls"; id: number; calls: ToolCall[]}
    | {type: "done"; id: number; stats: GenerationStats}
    /** A request's failure, by meaning (src/runtime/errors.ts); the server rebuilds the ProviderError. */
    | {type: "error"; id: number; message: string; kind: ErrorKind; code?: string; param?: string};

export interface EmbedRequest {
    inputs: string[];
    truncate: boolean;
}

export interface EmbedResult {
    vectors: number[][];
    prompt_tokens: number;
}

/** Prompt-lookup decoding: predicts the tokens that followed the last generated ones where they appear in the prompt. */
export interface PromptLookupSpec {
    /** Most tokens predicted per step. */
    maxTokens: number;
    /** How many of the last generated tokens must match a place in the prompt before the tokens after it are predicted. */
    minPattern: number;
}

export interface DraftModelSpec {
    /** The draft model's GGUF file (the server resolved `models.<name>.draft_model`). */
    modelPath: string;
    /** What the config called it, for errors. */
    name: string;
    /** Most tokens drafted per step. */
    maxTokens: number;
}

/** A model's speculative decoding: prompt lookup, a draft model, or neither (a draft model wins when both are set). */
export interface SpeculativeSpec {
    promptLookup?: PromptLookupSpec;
    draft?: DraftModelSpec;
}

export interface LoadSpec {
    modelPath: string;
    contextSize: number;
    parallel: number;
    threads: number;
    gpu: "auto" | "cuda" | "vulkan" | "metal" | false;
    /** llama.cpp's flash attention; absent: off on the CPU, llama.cpp's choice on a GPU. */
    flashAttention?: "auto" | boolean;
    /** Log level passed to node-llama-cpp; "warn" by default. */
    logLevel?: string;
    /** Where and how much to keep of the sequences' evaluated states across unloads; absent: nothing is kept. */
    promptCache?: PromptCacheSpec;
    /** Each sequence's token predictor (prompt lookup or a draft model); absent: none. */
    speculative?: SpeculativeSpec;
}

export interface LoadedInfo {
    contextSize: number;
    trainContextSize: number;
    parallel: number;
    /** node-llama-cpp's estimate of model + context memory, bytes. */
    estimateBytes: number;
    rssBytes: number;
    loadMs: number;
    /**
     * Where the runner's start went, ms: `start` from the process's start to the load message (Node's boot, the
     * engine's import), then each step of the load. For the log: a slow load says which step was slow.
     */
    phases: LoadPhases;
    infill: boolean;
    embeddingLength: number;
    chatWrapper: string;
    gpu: string | false;
}

export interface LoadPhases {
    start: number;
    engine: number;
    model: number;
    context: number;
    chatWrapper: number;
}

/** What a runner is doing now: which request holds each context sequence. */
export interface RunnerStatus {
    sequences: Array<{
        index: number;
        /** The request id being served, or null when the sequence is free. */
        job: number | null;
        /** Tokens held in the sequence's cache (prompt prefix kept for the next request included). */
        contextTokens: number;
    }>;
}

/** Server → runner. */
export type ServerMessage =
    | {type: "load"; spec: LoadSpec}
    | {type: "generate"; id: number; request: GenerateRequest}
    | {type: "abort"; id: number}
    | {type: "embed"; id: number; request: EmbedRequest}
    | {type: "tokenize"; id: number; text: string; chat?: ChatMessage[]; tools?: ToolDefinition[]}
    | {type: "memory"; id: number}
    | {type: "status"; id: number}
    | {type: "shutdown"};

/** Runner → server. */
export type RunnerMessage =
    | {type: "loaded"; info: LoadedInfo}
    | {type: "load_error"; message: string}
    | GenerationEvent
    | {type: "embedded"; id: number; result: EmbedResult}
    | {type: "tokenized"; id: number; count: number}
    | {type: "memory"; id: number; rssBytes: number}
    | {type: "status"; id: number; status: RunnerStatus}
    | {type: "log"; level: "debug" | "info" | "warn" | "error"; msg: string; data?: Record<string, unknown>};

/** Ollama's defaults; node-llama-cpp's own differ, so every request carries all of them explicitly. */
export const OLLAMA_DEFAULT_OPTIONS: SamplingOptions = {
    temperature: 0.8,
    top_k: 40,
    top_p: 0.9,
    min_p: 0,
    num_predict: -1,
    stop: [],
    repeat_penalty: 1.0,
    repeat_last_n: 64,
    presence_penalty: 0,
    frequency_penalty: 0
};
