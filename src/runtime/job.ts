import type {ModelEntry} from "../registry/types.js";
import type {Upstream} from "../upstream/client.js";
import type {LatencyClass} from "./latency.js";
import type {RequestOptions} from "./sampling.js";

export type {RequestOptions} from "./sampling.js";
import type {ChatMessage, EmbedRequest, EmbedResult, GenerateRequest, GenerationEvent, GenerationStats, SamplingOptions, ToolDefinition} from "./protocol.js";

/** What a model must be able to do for a request; checked before any work starts. */
export type Capability = "completion" | "chat" | "tools" | "insert";

export interface JobOptions {
    /** Capabilities a local model must have (an upstream decides for itself). */
    needs?: Capability[];
    options?: RequestOptions;
    /** Seconds as the client sent them: negative = forever; undefined = no opinion. */
    keepAliveSeconds?: number;
    /**
     * The request's latency class, when its API family knows it (/infill is always short); otherwise the job
     * classifies the request when it starts (latency.ts: fill-in-the-middle and small num_predict are short).
     */
    latency?: LatencyClass;
}

/** What the HTTP layer knows about a request's sender when a job starts. */
export interface StartContext {
    /**
     * Identifies the sending client (User-Agent and remote address): a newer short job from the same client for
     * the same model supersedes an older one that is still queued or running.
     */
    client?: string;
}

export interface GenerationResult {
    stats: GenerationStats;
    loadMs: number;
    queueMs: number;
    totalMs: number;
    contextSize: number;
    /** The client asked for more context than the model is loaded with; it was served within the loaded size. */
    contextCapped: boolean;
    /** The latency class the job ran in (local jobs). */
    latency?: LatencyClass;
    /** Models evicted to make room for the load this job waited for (local jobs; empty when none). */
    evicted?: string[];
}

interface JobBase {
    /** The name as the client sent it. */
    readonly requested: string;
    /** The name of the model that serves the request (after aliases and fuzzy matching): what answers report. */
    readonly model: string;
    /** The request's options merged over the model's defaults, every value explicit. */
    readonly sampling: SamplingOptions;
    /** The context size the client asked for, if any. */
    readonly numCtx?: number;
    /** The request's messages with the model's own defaults applied (system prompt, preset messages). */
    withDefaults(messages: ChatMessage[], system?: string): ChatMessage[];
    /**
     * Everything that can fail with its own status before a response starts: a local job is admitted (queue bound,
     * memory fit); an upstream job sends the request and waits for the upstream to accept it.
     */
    start(request: GenerateRequest, signal: AbortSignal, context?: StartContext): Promise<void>;
    /** Waits for a sequence (and the load), runs the generation and streams its events; always releases what it held. */
    generate(request: GenerateRequest, onEvent: (e: GenerationEvent) => void, signal: AbortSignal): Promise<GenerationResult>;
    embed(request: EmbedRequest, signal: AbortSignal): Promise<EmbedResult & {loadMs: number; totalMs: number}>;
    /** `tools`: definitions the prompt offers, rendered as a generation renders them (chat only). */
    countTokens(text: string, chat: ChatMessage[] | undefined, signal: AbortSignal, tools?: ToolDefinition[]): Promise<number>;
    /** Loads the model without generating (an empty prompt). */
    load(signal: AbortSignal): Promise<{loadMs: number}>;
    cancel(): void;
}

export interface LocalJob extends JobBase {
    readonly where: "local";
    readonly entry: ModelEntry;
}

export interface UpstreamJob extends JobBase {
    readonly where: "upstream";
    /** The client for the server the model lives on (the Ollama family passes its own requests through as they are). */
    readonly upstream: Upstream;
}

/** One request's work on a model, local or upstream: every API family drives it the same way. */
export type Job = LocalJob | UpstreamJob;
