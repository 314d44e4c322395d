/** llama-server's /infill answer shapes. */
import type {GenerationResult} from "../../runtime/job.js";
import {schedulingFacts, type WireFormat} from "../shared/generation.js";
import type {Body} from "../shared/parse.js";

export function timings(r: GenerationResult) {
    const promptMs = r.stats.prompt_eval_duration_ns / 1e6;
    const predictedMs = r.stats.eval_duration_ns / 1e6;
    const perSecond = (n: number, ms: number) => ms > 0 ? n / (ms / 1000) : 0;
    return {
        prompt_n: r.stats.prompt_eval_count,
        prompt_ms: promptMs,
        prompt_per_token_ms: r.stats.prompt_eval_count > 0 ? promptMs / r.stats.prompt_eval_count : 0,
        prompt_per_second: perSecond(r.stats.prompt_eval_count, promptMs),
        predicted_n: r.stats.eval_count,
        predicted_ms: predictedMs,
        predicted_per_token_ms: r.stats.eval_count > 0 ? predictedMs / r.stats.eval_count : 0,
        predicted_per_second: perSecond(r.stats.eval_count, predictedMs)
    };
}

/** llama-server's /infill answer: `content`, `stop`, token counts and `timings` (llama.vscode shows them). */
export function infillFormat(model: string, settings: Body, truncated: boolean): WireFormat {
    const final = (content: string, r: GenerationResult) => ({
        index: 0, content, tokens: [], id_slot: 0, stop: true, model,
        tokens_predicted: r.stats.eval_count,
        tokens_evaluated: r.stats.prompt_tokens,
        generation_settings: {...settings, n_ctx: r.contextSize},
        prompt: "",
        has_new_line: content.includes("\n"),
        truncated,
        stop_type: r.stats.done_reason === "length" ? "limit" : "eos",
        stopping_word: "",
        tokens_cached: r.stats.cached_tokens,
        timings: timings(r),
        zombiecoder: schedulingFacts(r)
    });
    return {
        contentType: "text/event-stream",
        text: (w, text) => w.sse({index: 0, content: text, tokens: [], stop: false, id_slot: 0}),
        toolCalls: () => undefined,
        finish: (w, r) => w.sse(final("", r)),
        error: (w, message, status) => w.sse({error: {code: status, message, type: status >= 500 ? "server_error" : "invalid_request_error"}}),
        aggregate: (text, _calls, r) => final(text, r)
    };
}

