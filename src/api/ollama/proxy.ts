/** An Ollama request to an Ollama upstream passes through as it is: only `model` becomes the upstream's exact name. */
import type {FastifyReply, FastifyRequest} from "fastify";
import type {Logger} from "../../log/logger.js";
import type {Upstream} from "../../upstream/index.js";
import {errorStatus} from "../../server/errors.js";
import {logRequest} from "../../server/request-log.js";
import {disconnectSignal, StreamWriter} from "../../server/stream.js";
import {MODEL_HEADER} from "../shared/generation.js";

/** A stream is written through chunk by chunk as it arrives; a client that goes away aborts the upstream request. */
export async function proxyOllama(request: FastifyRequest, reply: FastifyReply, logger: Logger, upstream: Upstream, path: string,
    body: Record<string, unknown>, name: string): Promise<void> {
    const clientGone = disconnectSignal(request, reply);
    const forwarded: Record<string, unknown> = {...body, model: name};
    delete forwarded.name;
    request.facts.model = `${upstream.id}/${name}`;
    reply.header(MODEL_HEADER, name);
    const call = await upstream.send(path, {body: forwarded, signal: clientGone});
    const contentType = call.response.headers.get("content-type") ?? "application/json; charset=utf-8";
    if (!call.response.ok || !contentType.includes("ndjson")) {
        // one JSON object: read it whole, so a body that breaks off becomes a 502 instead of truncated JSON
        let text = "";
        for await (const chunk of upstream.chunks(call, clientGone)) text += chunk;
        if (clientGone.aborted) return;
        await reply.code(call.response.status).type(contentType).send(text);
        return;
    }
    const w = new StreamWriter(reply, contentType);
    request.facts.stream = true;
    call.link(w.abort.signal);
    let status = 200;
    // whole lines as soon as they arrive: a line cut off by a dying upstream must not run into the error line
    let tail = "";
    try {
        for await (const chunk of upstream.chunks(call, w.abort.signal)) {
            tail += chunk;
            const nl = tail.lastIndexOf("\n");
            if (nl < 0) continue;
            w.write(tail.slice(0, nl + 1));
            tail = tail.slice(nl + 1);
        }
        if (tail !== "") w.write(tail);
    } catch (err) {
        status = errorStatus(err);
        request.facts.error = (err as Error).message;
        w.ndjson({error: (err as Error).message});
    } finally {
        w.end();
        logRequest(logger, request, w.abort.signal.aborted ? 499 : status);
    }
}
