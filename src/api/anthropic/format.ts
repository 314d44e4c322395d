/** Anthropic's message answers: the SSE event sequence and the whole message. */
import {createHash} from "node:crypto";
import type {GenerationResult} from "../../runtime/job.js";
import type {StreamWriter} from "../../server/stream.js";
import {schedulingFacts, type WireFormat} from "../shared/generation.js";
import type {Body} from "../shared/parse.js";
import {randomId} from "../openai/format.js";
import type {ReasoningWireFormat} from "../ollama/format.js";

/**
 * A thinking block's `signature`. Anthropic's is an encrypted copy of the thought that its API checks when the block
 * comes back; clients only keep it and send it back, and this server reads the thought itself (never the
 * signature), so a digest of the text serves: stable for the same thought, and never empty.
 */
export function thinkingSignature(thinking: string): string {
    return createHash("sha256").update("zombiecoder-thinking\n").update(thinking).digest("base64");
}

function stopReason(r: GenerationResult, calls: number): string {
    if (calls > 0 || r.stats.done_reason === "tool_calls") return "tool_use";
    if (r.stats.stop_sequence) return "stop_sequence";
    return r.stats.done_reason === "length" ? "max_tokens" : "end_turn";
}

function usage(r: GenerationResult) {
    return {
        input_tokens: Math.max(0, r.stats.prompt_tokens - r.stats.cached_tokens),
        output_tokens: r.stats.eval_count,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: r.stats.cached_tokens,
        // not in Anthropic's usage (its SDKs ignore it): queue, load, eviction, cache and latency class
        zombiecoder: schedulingFacts(r)
    };
}

function errorType(status: number): string {
    if (status === 400) return "invalid_request_error";
    if (status === 404) return "not_found_error";
    if (status === 503) return "overloaded_error";
    return "api_error";
}

/** Anthropic's event sequence: message_start, per block start/delta/stop, message_delta with the stop reason, message_stop. */
export function messagesFormat(model: string): ReasoningWireFormat {
    const id = randomId("msg_");
    let index = -1;
    let textOpen = false;
    let calls = 0;
    // the thought being streamed, for its signature at the end of its block
    let thought: string | null = null;
    const ev = (w: StreamWriter, type: string, data: Body) => w.sse({type, ...data}, type);
    const closeThinking = (w: StreamWriter) => {
        if (thought == null) return;
        ev(w, "content_block_delta", {index, delta: {type: "signature_delta", signature: thinkingSignature(thought)}});
        ev(w, "content_block_stop", {index});
        thought = null;
    };
    const closeText = (w: StreamWriter) => {
        closeThinking(w);
        if (!textOpen) return;
        ev(w, "content_block_stop", {index});
        textOpen = false;
    };
    return {
        contentType: "text/event-stream",
        start: (w) => {
            ev(w, "message_start", {message: {id, type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null,
                usage: {input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0}}});
            ev(w, "ping", {});
        },
        thinking: (w, text) => {
            if (thought == null) {
                closeText(w);
                index++;
                thought = "";
                ev(w, "content_block_start", {index, content_block: {type: "thinking", thinking: "", signature: ""}});
            }
            thought += text;
            ev(w, "content_block_delta", {index, delta: {type: "thinking_delta", thinking: text}});
        },
        text: (w, text) => {
            closeThinking(w);
            if (!textOpen) {
                index++;
                textOpen = true;
                ev(w, "content_block_start", {index, content_block: {type: "text", text: ""}});
            }
            ev(w, "content_block_delta", {index, delta: {type: "text_delta", text}});
        },
        toolCalls: (w, list) => {
            closeText(w);
            for (const c of list) {
                index++;
                calls++;
                ev(w, "content_block_start", {index, content_block: {type: "tool_use", id: c.id, name: c.name, input: {}}});
                ev(w, "content_block_delta", {index, delta: {type: "input_json_delta", partial_json: JSON.stringify(c.arguments)}});
                ev(w, "content_block_stop", {index});
            }
        },
        finish: (w, r) => {
            if (index < 0) {
                // a turn always has a block, even an empty one
                index++;
                textOpen = true;
                ev(w, "content_block_start", {index, content_block: {type: "text", text: ""}});
            }
            closeText(w);
            ev(w, "message_delta", {delta: {stop_reason: stopReason(r, calls), stop_sequence: r.stats.stop_sequence ?? null}, usage: usage(r)});
            ev(w, "message_stop", {});
        },
        error: (w, message, status) => ev(w, "error", {error: {type: errorType(status), message}}),
        aggregate: (text, list, r, thinking) => ({
            id, type: "message", role: "assistant", model,
            content: [
                ...(thinking ? [{type: "thinking", thinking, signature: thinkingSignature(thinking)}] : []),
                ...(text !== "" || list.length === 0 ? [{type: "text", text}] : []),
                ...list.map((c) => ({type: "tool_use", id: c.id, name: c.name, input: c.arguments}))
            ],
            stop_reason: stopReason(r, list.length),
            stop_sequence: r.stats.stop_sequence ?? null,
            usage: usage(r)
        })
    };
}

