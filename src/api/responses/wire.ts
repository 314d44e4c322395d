/**
 * The Responses API's answer shapes, as openai-node's `Response` type and Codex CLI's SSE parser read them. Only the
 * parts this server writes are spelled out.
 */
import type {schedulingFacts} from "../shared/generation.js";

export interface OutputText {
    type: "output_text";
    text: string;
    annotations: never[];
    logprobs: never[];
}

export interface MessageItem {
    id: string;
    type: "message";
    status: "in_progress" | "completed" | "incomplete";
    role: "assistant";
    content: OutputText[];
}

export interface FunctionCallItem {
    id: string;
    type: "function_call";
    status: "in_progress" | "completed" | "incomplete";
    call_id: string;
    name: string;
    arguments: string;
    /** The namespace the function was declared in (a Codex MCP server's tools), as the client sent it. */
    namespace?: string;
}

/** The model's thought segment, as openai-node's `ResponseReasoningItem` reads it (the text itself, no summary). */
export interface ReasoningItem {
    id: string;
    type: "reasoning";
    status: "in_progress" | "completed" | "incomplete";
    summary: never[];
    content: Array<{type: "reasoning_text"; text: string}>;
}

export type OutputItem = MessageItem | FunctionCallItem | ReasoningItem;

export interface ResponseUsage {
    input_tokens: number;
    input_tokens_details: {cached_tokens: number};
    output_tokens: number;
    output_tokens_details: {reasoning_tokens: number};
    total_tokens: number;
    /**
     * Not in OpenAI's usage: queue, load, eviction, cache and latency class, as the other families report them in
     * theirs. openai-node and Codex CLI ignore usage fields they do not know, so it rides in `usage`, where every
     * family puts it, and reaches clients in the whole response and in response.completed alike.
     */
    zombiecoder: ReturnType<typeof schedulingFacts>;
}

/** A tool the request sent that this server cannot run, so the model never saw it. */
export interface DroppedTool {
    type: string;
    name?: string;
}

/** The request's settings a response repeats back (OpenAI's response object echoes them). */
export interface ResponseEcho {
    instructions: string | null;
    metadata: Record<string, unknown> | null;
    parallel_tool_calls: boolean;
    temperature: number | null;
    top_p: number | null;
    tool_choice: unknown;
    tools: unknown[];
    max_output_tokens: number | null;
    previous_response_id: string | null;
    reasoning: {effort: string | null; summary: string | null} | null;
    store: boolean;
    text: Record<string, unknown>;
    truncation: string;
    prompt_cache_key: string | null;
    user: string | null;
}

export type ResponseStatus = "in_progress" | "completed" | "incomplete" | "failed";

export interface ResponseObject extends ResponseEcho {
    id: string;
    object: "response";
    created_at: number;
    completed_at: number | null;
    status: ResponseStatus;
    error: {code: string; message: string} | null;
    incomplete_details: {reason: "max_output_tokens"} | null;
    model: string;
    output: OutputItem[];
    background: false;
    service_tier: "default";
    usage: ResponseUsage | null;
    /** Tools the request sent that this server cannot run (an extension; clients ignore fields they do not know). */
    dropped_tools?: DroppedTool[];
}
