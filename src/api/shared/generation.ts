/** Drives a job's generation and writes it in one API family's wire format, streamed or whole. */
import type {FastifyReply, FastifyRequest} from "fastify";
import type {Logger} from "../../log/logger.js";
import type {GenerationResult, Job} from "../../runtime/job.js";
import type {GenerateRequest, ToolCall} from "../../runtime/protocol.js";
import {errorStatus} from "../../server/errors.js";
import {logRequest, sinceStart} from "../../server/request-log.js";
import {disconnectSignal, StreamWriter} from "../../server/stream.js";

/** How one API family renders the shared event stream. */
export interface WireFormat {
    contentType: string;
    /** Lines written before the first token (Anthropic's message_start, for example). */
    start?(w: StreamWriter): void;
    text(w: StreamWriter, text: string): void;
    toolCalls(w: StreamWriter, calls: ToolCall[]): void;
    finish(w: StreamWriter, result: GenerationResult): void;
    /** An error after headers went out: Ollama writes an `{"error"}` line, SSE families an error event. */
    error(w: StreamWriter, message: string, status: number): void;
    /** The whole answer for stream:false. */
    aggregate(text: string, calls: ToolCall[], result: GenerationResult): unknown;
}

/** The name of the model that served a request, on every answer (aliases and fuzzy matches resolve to it). */
export const MODEL_HEADER = "X-ZombieCoder-Model";
/** Set when a client asked for more context than the model is loaded with. */
export const CONTEXT_HEADER = "X-ZombieCoder-Context";

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
        total_ms: Math.round(result.totalMs)
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
 * Starts the job before any header is sent (so queue, memory and upstream failures keep their own status), then
 * answers in the family's wire format. From the first header on, errors travel inside the response.
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
        const calls: ToolCall[] = [];
        const result = await job.generate(gen, (e) => {
            if (e.type === "text") {
                noteFirstToken(request);
                text += e.text;
            }
            else if (e.type === "tool_calls") calls.push(...e.calls);
        }, clientGone);
        recordFacts(request, job, result);
        const note = contextNote(job, result);
        if (note) {
            reply.header(CONTEXT_HEADER, note);
            logger.info({model: job.model, requested: job.numCtx, served: result.contextSize}, "num_ctx above the loaded context; served within it");
        }
        await reply.type("application/json; charset=utf-8").send(format.aggregate(text, calls, result));
        return;
    }
    const w = new StreamWriter(reply, format.contentType);
    format.start?.(w);
    let status = 200;
    try {
        const result = await job.generate(gen, (e) => {
            if (e.type === "text") {
                noteFirstToken(request);
                format.text(w, e.text);
            }
            else if (e.type === "tool_calls") format.toolCalls(w, e.calls);
        }, w.abort.signal);
        recordFacts(request, job, result);
        if (result.contextCapped) logger.info({model: job.model, requested: job.numCtx, served: result.contextSize}, "num_ctx above the loaded context; served within it");
        format.finish(w, result);
    } catch (err) {
        status = errorStatus(err);
        request.facts.error = (err as Error).message;
        format.error(w, (err as Error).message, status);
    } finally {
        w.end();
        logRequest(logger, request, w.abort.signal.aborted ? 499 : status);
    }
}
