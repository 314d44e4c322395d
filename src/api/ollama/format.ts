/** Ollama's NDJSON chunks for /api/generate and /api/chat, and their final metrics. */
import type {GenerationResult, Job} from "../../runtime/job.js";
import type {ToolCall} from "../../runtime/protocol.js";
import type {StreamWriter} from "../../server/stream.js";
import {schedulingFacts, type WireFormat} from "../shared/generation.js";

/**
 * A wire format that also writes the model's thought segment: streamed pieces as they come (`thinking`), and the
 * whole thought in a whole answer (aggregate's `thinking`, "" when the model wrote none).
 */
export interface ReasoningWireFormat extends WireFormat {
    thinking(w: StreamWriter, text: string): void;
    aggregate(text: string, calls: ToolCall[], result: GenerationResult, thinking?: string): unknown;
}

/** Ollama leaves `thinking` out of a message that has none. */
const thinkingField = (thinking: string | undefined) => (thinking ? {thinking} : {});

const nowIso = () => new Date().toISOString();
export const ns = (ms: number) => Math.round(ms * 1e6);

export function metrics(r: GenerationResult) {
    return {
        total_duration: ns(r.totalMs),
        load_duration: ns(r.loadMs),
        prompt_eval_count: r.stats.prompt_eval_count,
        prompt_eval_duration: r.stats.prompt_eval_duration_ns,
        eval_count: r.stats.eval_count,
        eval_duration: r.stats.eval_duration_ns,
        // not in Ollama's answer (its clients ignore it): queue, load, eviction, cache and truncated tokens
        zombiecoder: schedulingFacts(r)
    };
}

/**
 * A local job with no length limit from the request or the model's defaults runs until the model stops or the
 * context is full; the last chunk then says `"limit": "context"`, so `done_reason: "length"` reads as "context full".
 * An upstream applies its own limits, so nothing is claimed for one.
 */
export function contextBound(job: Job): boolean {
    return job.where === "local" && job.sampling.num_predict <= 0;
}

const limitField = (bound: boolean) => (bound ? {limit: "context"} : {});

function doneReason(r: GenerationResult): string {
    return r.stats.done_reason === "tool_calls" ? "stop" : r.stats.done_reason;
}

function toolCalls(calls: ToolCall[]) {
    return calls.map((c, index) => ({id: c.id, function: {index, name: c.name, arguments: c.arguments}}));
}

/** A done chunk without a generation: an empty prompt loads (or, with keep_alive 0, unloads) the model. */
export function loadChunk(model: string, chat: boolean, reason: "load" | "unload", loadMs?: number) {
    return {
        model, created_at: nowIso(), ...(chat ? {message: {role: "assistant", content: ""}} : {response: ""}), done: true, done_reason: reason,
        ...(loadMs != null ? {total_duration: ns(loadMs), load_duration: ns(loadMs)} : {})
    };
}

export const generateFormat = (model: string, raw: boolean, bound = false): ReasoningWireFormat => ({
    contentType: "application/x-ndjson",
    text: (w, text) => w.ndjson({model, created_at: nowIso(), response: text, done: false}),
    thinking: (w, thinking) => w.ndjson({model, created_at: nowIso(), response: "", thinking, done: false}),
    toolCalls: () => undefined,
    finish: (w, r) => w.ndjson({
        model, created_at: nowIso(), response: "", done: true, done_reason: doneReason(r), ...(raw ? {} : {context: []}), ...metrics(r), ...limitField(bound)
    }),
    error: (w, message) => w.ndjson({error: message}),
    aggregate: (text, _calls, r, thinking) => ({
        model, created_at: nowIso(), response: text, ...thinkingField(thinking), done: true, done_reason: doneReason(r), ...(raw ? {} : {context: []}), ...metrics(r), ...limitField(bound)
    })
});

export const chatFormat = (model: string, bound = false): ReasoningWireFormat => ({
    contentType: "application/x-ndjson",
    text: (w, text) => w.ndjson({model, created_at: nowIso(), message: {role: "assistant", content: text}, done: false}),
    thinking: (w, thinking) => w.ndjson({model, created_at: nowIso(), message: {role: "assistant", content: "", thinking}, done: false}),
    toolCalls: (w, calls) => w.ndjson({model, created_at: nowIso(), message: {role: "assistant", content: "", tool_calls: toolCalls(calls)}, done: false}),
    finish: (w, r) => w.ndjson({
        model, created_at: nowIso(), message: {role: "assistant", content: ""}, done: true, done_reason: doneReason(r), ...metrics(r), ...limitField(bound)
    }),
    error: (w, message) => w.ndjson({error: message}),
    aggregate: (text, calls, r, thinking) => ({
        model, created_at: nowIso(),
        message: {role: "assistant", content: text, ...thinkingField(thinking), ...(calls.length > 0 ? {tool_calls: toolCalls(calls)} : {})},
        done: true, done_reason: doneReason(r), ...metrics(r), ...limitField(bound)
    })
});
