/** OpenAI's chat-completion and completion answers: SSE chunks, whole bodies, usage. */
import {randomBytes} from "node:crypto";
import type {GenerationResult} from "../../runtime/job.js";
import type {ToolCall} from "../../runtime/protocol.js";
import {schedulingFacts, type WireFormat} from "../shared/generation.js";
import type {ReasoningWireFormat} from "../ollama/format.js";
import type {Body} from "../shared/parse.js";

export const SYSTEM_FINGERPRINT = "fp_zombiecoder";

export function randomId(prefix: string, bytes = 12): string {
    return prefix + randomBytes(bytes).toString("base64url").replace(/[-_]/g, "x");
}

const unix = () => Math.floor(Date.now() / 1000);

function finishReason(r: GenerationResult, calls: number): string {
    if (calls > 0 || r.stats.done_reason === "tool_calls") return "tool_calls";
    return r.stats.done_reason;
}

export function openAIUsage(r: GenerationResult) {
    return {
        prompt_tokens: r.stats.prompt_tokens,
        completion_tokens: r.stats.eval_count,
        total_tokens: r.stats.prompt_tokens + r.stats.eval_count,
        prompt_tokens_details: {cached_tokens: r.stats.cached_tokens},
        completion_tokens_details: {reasoning_tokens: r.stats.reasoning_tokens ?? 0},
        // not in OpenAI's usage (its SDKs ignore it): queue, load, eviction, cache and latency class
        zombiecoder: schedulingFacts(r)
    };
}

function wireCalls(calls: ToolCall[], start: number) {
    return calls.map((c, i) => ({index: start + i, id: c.id, type: "function" as const, function: {name: c.name, arguments: JSON.stringify(c.arguments)}}));
}

function errorEvent(message: string, status: number) {
    return {error: {message, type: status >= 500 ? "api_error" : "invalid_request_error", param: null, code: null}};
}

/**
 * Chat completion chunks: a role chunk first, content deltas (thoughts as `reasoning_content` deltas, as llama-server
 * and DeepSeek send them), whole tool calls with an index, a finish chunk, usage, [DONE].
 */
export function chatFormat(model: string, includeUsage: boolean): ReasoningWireFormat {
    const id = randomId("chatcmpl-");
    const created = unix();
    const base = {id, object: "chat.completion.chunk", created, model, system_fingerprint: SYSTEM_FINGERPRINT};
    let callIndex = 0;
    const chunk = (delta: Body, finish: string | null = null) => ({...base, choices: [{index: 0, delta, logprobs: null, finish_reason: finish}]});
    return {
        contentType: "text/event-stream",
        start: (w) => w.sse(chunk({role: "assistant", content: ""})),
        text: (w, text) => w.sse(chunk({content: text})),
        thinking: (w, text) => w.sse(chunk({reasoning_content: text})),
        toolCalls: (w, calls) => {
            w.sse(chunk({tool_calls: wireCalls(calls, callIndex)}));
            callIndex += calls.length;
        },
        finish: (w, r) => {
            w.sse(chunk({}, finishReason(r, callIndex)));
            if (includeUsage) w.sse({...base, choices: [], usage: openAIUsage(r)});
            w.sse("[DONE]");
        },
        error: (w, message, status) => w.sse(errorEvent(message, status)),
        aggregate: (text, calls, r, thinking) => ({
            id, object: "chat.completion", created, model, system_fingerprint: SYSTEM_FINGERPRINT,
            choices: [{
                index: 0,
                message: {role: "assistant", content: calls.length > 0 && text === "" ? null : text, ...(thinking ? {reasoning_content: thinking} : {}),
                    refusal: null, ...(calls.length > 0 ? {tool_calls: wireCalls(calls, 0)} : {})},
                logprobs: null,
                finish_reason: finishReason(r, calls.length)
            }],
            usage: openAIUsage(r)
        })
    };
}

export function completionFormat(model: string, includeUsage: boolean): WireFormat {
    const id = randomId("cmpl-");
    const created = unix();
    const base = {id, object: "text_completion", created, model, system_fingerprint: SYSTEM_FINGERPRINT};
    const chunk = (text: string, finish: string | null = null) => ({...base, choices: [{text, index: 0, logprobs: null, finish_reason: finish}]});
    return {
        contentType: "text/event-stream",
        text: (w, text) => w.sse(chunk(text)),
        toolCalls: () => undefined,
        finish: (w, r) => {
            w.sse(chunk("", r.stats.done_reason === "length" ? "length" : "stop"));
            if (includeUsage) w.sse({...base, choices: [], usage: openAIUsage(r)});
            w.sse("[DONE]");
        },
        error: (w, message, status) => w.sse(errorEvent(message, status)),
        aggregate: (text, _calls, r) => ({...chunk(text, r.stats.done_reason === "length" ? "length" : "stop"), usage: openAIUsage(r)})
    };
}

