import type {FastifyReply, FastifyRequest} from "fastify";

/**
 * A streaming response written straight to the socket. Headers go out at once (before the model loads),
 * so clients that give up after 30 s without headers keep waiting while a large model loads.
 */
export class StreamWriter {
    private ended = false;
    readonly abort = new AbortController();

    constructor(private readonly reply: FastifyReply, contentType: string, extraHeaders: Record<string, string> = {}) {
        reply.hijack();
        const headers: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(reply.getHeaders())) if (v != null) headers[k] = Array.isArray(v) ? v.map(String) : String(v);
        reply.raw.writeHead(200, {
            ...headers,
            ...extraHeaders,
            "Content-Type": contentType,
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no"
        });
        reply.raw.flushHeaders();
        reply.raw.on("close", () => {
            if (!this.ended) this.abort.abort(new Error("client went away"));
        });
    }

    get closed(): boolean {
        return this.ended || this.reply.raw.destroyed;
    }

    write(chunk: string): void {
        if (this.closed) return;
        this.reply.raw.write(chunk);
    }

    ndjson(obj: unknown): void {
        this.write(JSON.stringify(obj) + "\n");
    }

    sse(obj: unknown, event?: string): void {
        this.write((event ? `event: ${event}\n` : "") + `data: ${typeof obj === "string" ? obj : JSON.stringify(obj)}\n\n`);
    }

    end(): void {
        if (this.ended) return;
        this.ended = true;
        if (!this.reply.raw.destroyed) this.reply.raw.end();
    }
}

/** An AbortSignal that fires when the client of a non-streaming request goes away. */
export function disconnectSignal(request: FastifyRequest, reply: FastifyReply): AbortSignal {
    const ac = new AbortController();
    reply.raw.on("close", () => {
        if (!reply.raw.writableFinished) ac.abort(new Error("client went away"));
    });
    request.raw.on("aborted", () => ac.abort(new Error("client went away")));
    return ac.signal;
}
