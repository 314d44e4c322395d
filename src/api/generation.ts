import type {FastifyReply, FastifyRequest} from "fastify";
import type {Logger} from "../log/logger.js";
import {HttpError} from "../runtime/errors.js";
import type {GenerateRequest, ToolCall} from "../runtime/protocol.js";
import type {GenerationResult, PreparedJob} from "../runtime/provider.js";
import {logRequest} from "../server/request-log.js";
import {disconnectSignal, StreamWriter} from "../server/stream.js";

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

function contextHeader(result: {contextCapped: boolean; contextSize: number}, requested: number | undefined): Record<string, string> {
    return result.contextCapped && requested != null ? {"X-ZombieCoder-Context": `served within ${result.contextSize} tokens (requested ${requested})`} : {};
}

function recordFacts(request: FastifyRequest, job: PreparedJob, result: GenerationResult): void {
    Object.assign(request.facts, {
        model: job.entry.name,
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

/**
 * Runs a prepared job and answers in the family's wire format. Everything that can fail with its own status
 * (resolution, queue, memory) already happened in `prepare`; from here a stream's headers go out at once.
 */
export async function serveGeneration(request: FastifyRequest, reply: FastifyReply, logger: Logger, job: PreparedJob,
    gen: GenerateRequest, format: WireFormat, stream: boolean, requestedCtx?: number): Promise<void> {
    request.facts.model = job.entry.name;
    request.facts.stream = stream;
    if (!stream) {
        const signal = disconnectSignal(request, reply);
        let text = "";
        const calls: ToolCall[] = [];
        const result = await job.generate(gen, (e) => {
            if (e.type === "text") text += e.text;
            else if (e.type === "tool_calls") calls.push(...e.calls);
        }, signal).catch((err: Error & {status?: number}) => {
            throw err instanceof HttpError ? err : new HttpError(err.status ?? 500, err.message);
        });
        recordFacts(request, job, result);
        if (requestedCtx != null && result.contextCapped) {
            reply.header("X-ZombieCoder-Context", contextHeader(result, requestedCtx)["X-ZombieCoder-Context"]!);
            logger.info({model: job.entry.name, requested: requestedCtx, served: result.contextSize}, "num_ctx above the loaded context; served within it");
        }
        await reply.type("application/json; charset=utf-8").send(format.aggregate(text, calls, result));
        return;
    }
    const w = new StreamWriter(reply, format.contentType);
    format.start?.(w);
    let status = 200;
    try {
        const result = await job.generate(gen, (e) => {
            if (e.type === "text") format.text(w, e.text);
            else if (e.type === "tool_calls") format.toolCalls(w, e.calls);
        }, w.abort.signal);
        recordFacts(request, job, result);
        if (result.contextCapped) logger.info({model: job.entry.name, requested: requestedCtx, served: result.contextSize}, "num_ctx above the loaded context; served within it");
        format.finish(w, result);
    } catch (err) {
        const e = err as Error & {status?: number};
        status = e instanceof HttpError ? e.status : e.status ?? 500;
        request.facts.error = e.message;
        format.error(w, e.message, status);
    } finally {
        w.end();
        logRequest(logger, request, w.abort.signal.aborted ? 499 : status);
    }
}
