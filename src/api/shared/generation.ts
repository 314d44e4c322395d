/** Drives a job's generation and writes it in one API family's wire format, streamed or whole. */
import type {FastifyReply, FastifyRequest} from "fastify";
import type {Logger} from "../../log/logger.js";
import type {GenerationResult, Job} from "../../runtime/job.js";
import type {GenerateRequest, ToolCall} from "../../runtime/protocol.js";
import {errorStatus} from "../../server/errors.js";
import {CONTEXT_HEADER, MODEL_HEADER, SCHEDULING_HEADERS as H} from "../../server/headers.js";
import {logRequest, sinceStart} from "../../server/request-log.js";
import {disconnectSignal, StreamWriter} from "../../server/stream.js";

/** How one API family renders the shared event stream. */
export interface WireFormat {
    contentType: string;
    /** Lines written before the first token (Anthropic's message_start, for example). */
    start?(w: StreamWriter): void;
    text(w: StreamWriter, text: string): void;
    /** A piece of the model's thought segment, streamed as it comes (families without a field for it leave this out). */
    thinking?(w: StreamWriter, text: string): void;
    toolCalls(w: StreamWriter, calls: ToolCall[]): void;
    finish(w: StreamWriter, result: GenerationResult): void;
    /** An error after headers went out: Ollama writes an `{"error"}` line, SSE families an error event. */
    error(w: StreamWriter, message: string, status: number): void;
    /** The whole answer for stream:false; `thinking` is the whole thought segment ("" when the model wrote none). */
    aggregate(text: string, calls: ToolCall[], result: GenerationResult, thinking?: string): unknown;
}

export {CONTEXT_HEADER, MODEL_HEADER};

/** What the job's model is called in logs: upstream models carry their upstream's id. */
export function servedName(job: Job): string {
    return job.where === "upstream" ? `${job.upstream.id}/${job.model}` : job.model;
}

/**
 * Who sent a request, for supersession (src/runtime/supersede.ts): the `User-Agent` and the remote address. Not the
 * port: an editor opens another keep-alive connection whenever its previous one is still busy, so one editor
 * shows up on several ports at once.
 */
export function clientOf(request: FastifyRequest): string {
    const agent = request.headers["user-agent"];
    return `${typeof agent === "string" ? agent : ""} ${request.ip}`;
}

function recordFacts(request: FastifyRequest, job: Job, result: GenerationResult): void {
    Object.assign(request.facts, {
        model: servedName(job),
        queue_ms: Math.round(result.queueMs),
        load_ms: Math.round(result.loadMs),
        prompt_tokens: result.stats.prompt_tokens,
        prompt_eval_tokens: result.stats.prompt_eval_count,
        cached_tokens: result.stats.cached_tokens,
        completion_tokens: result.stats.eval_count,
        total_ms: Math.round(result.totalMs),
        latency: result.latency,
        ...(result.evicted && result.evicted.length > 0 ? {evicted: result.evicted.join(",")} : {}),
        ...(result.stats.truncated_tokens ? {truncated_tokens: result.stats.truncated_tokens} : {})
    });
    if (result.contextCapped) request.facts.context_capped = `served within ${result.contextSize}`;
}

/** The first text of an answer: how long the client waited for it (time to first token) goes in the request's facts. */
function noteFirstToken(request: FastifyRequest): void {
    request.facts.first_token_ms ??= Math.round(sinceStart(request));
}

function contextNote(job: Job, result: GenerationResult): string | null {
    return result.contextCapped && job.numCtx != null ? `served within ${result.contextSize} tokens (requested ${job.numCtx})` : null;
}

/**
 * A stream's headers wait for the job's first event, so a request the runner refuses at once (a prompt longer than
 * the context) gets its own status and error body instead of a 200 with an error inside. They never wait longer
 * than this, though: some clients give up after 30 s without headers, and a queue or a large model's load can
 * take longer than that.
 */
export const STREAM_HEADERS_DEADLINE_MS = 20_000;

/** Why an answer took as long as it did: queue, load, eviction, cache, truncation and class, in one object. */
export function schedulingFacts(result: GenerationResult) {
    return {
        queue_ms: Math.round(result.queueMs),
        load_ms: Math.round(result.loadMs),
        evicted: result.evicted ?? [],
        prompt_tokens: result.stats.prompt_tokens,
        prompt_tokens_cached: result.stats.cached_tokens,
        prompt_tokens_evaluated: result.stats.prompt_eval_count,
        prompt_tokens_restored: result.stats.restored_tokens ?? 0,
        truncated_tokens: result.stats.truncated_tokens ?? 0,
        latency: result.latency ?? null
    };
}

/** The same facts as `X-ZombieCoder-*` headers, for answers that are not streamed. */
function schedulingHeaders(reply: FastifyReply, result: GenerationResult): void {
    const f = schedulingFacts(result);
    reply.header(H.queueMs, String(f.queue_ms));
    reply.header(H.loadMs, String(f.load_ms));
    if (f.evicted.length > 0) reply.header(H.evicted, f.evicted.join(", "));
    reply.header(H.promptTokensCached, String(f.prompt_tokens_cached));
    reply.header(H.promptTokensEvaluated, String(f.prompt_tokens_evaluated));
    if (f.prompt_tokens_restored > 0) reply.header(H.promptTokensRestored, String(f.prompt_tokens_restored));
    if (f.truncated_tokens > 0) reply.header(H.truncatedTokens, String(f.truncated_tokens));
    if (f.latency) reply.header(H.latency, f.latency);
}

/**
 * Starts the job before any header is sent (so queue, memory and upstream failures keep their own status), then
 * answers in the family's wire format. A stream's headers go out with the first event (or after
 * STREAM_HEADERS_DEADLINE_MS); from then on, errors travel inside the response.
 */
export async function serveGeneration(request: FastifyRequest, reply: FastifyReply, logger: Logger, job: Job,
    gen: GenerateRequest, format: WireFormat, stream: boolean): Promise<void> {
    request.facts.model = servedName(job);
    request.facts.stream = stream;
    reply.header(MODEL_HEADER, job.model);
    const clientGone = disconnectSignal(request, reply);
    try {
        await job.start(gen, clientGone, {client: clientOf(request)});
    } catch (err) {
        // an upstream answers only after loading its model: a client that left meanwhile needs no answer
        if (clientGone.aborted) return;
        throw err;
    }
    if (reply.raw.destroyed) {
        job.cancel();
        return;
    }
    if (!stream) {
        let text = "";
        let thinking = "";
        const calls: ToolCall[] = [];
        const result = await job.generate(gen, (e) => {
            if (e.type === "text") {
                noteFirstToken(request);
                text += e.text;
            } else if (e.type === "thinking") {
                noteFirstToken(request);
                thinking += e.text;
            } else if (e.type === "tool_calls") calls.push(...e.calls);
        }, clientGone);
        recordFacts(request, job, result);
        const note = contextNote(job, result);
        if (note) {
            reply.header(CONTEXT_HEADER, note);
            logger.info({model: job.model, requested: job.numCtx, served: result.contextSize}, "num_ctx above the loaded context; served within it");
        }
        schedulingHeaders(reply, result);
        await reply.type("application/json; charset=utf-8").send(format.aggregate(text, calls, result, thinking));
        return;
    }
    // the generation stops when the client goes, before the stream opens (its socket) or after (the writer)
    const stop = new AbortController();
    const onGone = () => stop.abort(clientGone.reason);
    clientGone.addEventListener("abort", onGone, {once: true});
    let w: StreamWriter | null = null;
    const open = (): StreamWriter => {
        if (w) return w;
        w = new StreamWriter(reply, format.contentType);
        w.abort.signal.addEventListener("abort", () => stop.abort(w?.abort.signal.reason), {once: true});
        format.start?.(w);
        return w;
    };
    const deadline = setTimeout(() => {
        if (!reply.raw.destroyed) open();
    }, STREAM_HEADERS_DEADLINE_MS);
    let status = 200;
    try {
        const result = await job.generate(gen, (e) => {
            if (e.type === "text") {
                noteFirstToken(request);
                format.text(open(), e.text);
            } else if (e.type === "thinking") {
                noteFirstToken(request);
                const writer = open();
                format.thinking?.(writer, e.text);
            } else if (e.type === "tool_calls") format.toolCalls(open(), e.calls);
        }, stop.signal);
        if (!w && clientGone.aborted) {
            logRequest(logger, request, 499);
            return;
        }
        recordFacts(request, job, result);
        if (result.contextCapped) logger.info({model: job.model, requested: job.numCtx, served: result.contextSize}, "num_ctx above the loaded context; served within it");
        format.finish(open(), result);
    } catch (err) {
        // nothing was sent yet: the error gets its own status and the family's error body
        if (!w) {
            if (clientGone.aborted) {
                logRequest(logger, request, 499);
                return;
            }
            throw err;
        }
        status = errorStatus(err);
        request.facts.error = (err as Error).message;
        format.error(w, (err as Error).message, status);
    } finally {
        clearTimeout(deadline);
        clientGone.removeEventListener("abort", onGone);
        const writer = w as StreamWriter | null;
        if (writer) {
            writer.end();
            logRequest(logger, request, writer.abort.signal.aborted ? 499 : status);
        }
    }
}
