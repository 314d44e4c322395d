/** Server-sent event streams that stay open until the client leaves or the server closes. */
import type {FastifyReply} from "fastify";
import {StreamWriter} from "../../server/stream.js";

export interface EventStream {
    send(event: string, data: unknown): void;
    /** Runs once, when the stream ends for any reason. */
    onEnd(fn: () => void): void;
    end(): void;
}

/** Keeps proxies and browsers from dropping a quiet stream. */
const HEARTBEAT_MS = 15_000;

/**
 * The streams a server holds open. A shutdown ends them first: an open dashboard must not keep the server's
 * close waiting for its grace period.
 */
export class EventStreams {
    private readonly open = new Set<EventStream>();

    start(reply: FastifyReply): EventStream {
        const w = new StreamWriter(reply, "text/event-stream; charset=utf-8");
        const endings: Array<() => void> = [];
        let ended = false;
        const heartbeat = setInterval(() => w.write(": keep-alive\n\n"), HEARTBEAT_MS);
        heartbeat.unref();
        const stream: EventStream = {
            send: (event, data) => {
                if (!ended) w.sse(data, event);
            },
            onEnd: (fn) => {
                if (ended) fn();
                else endings.push(fn);
            },
            end: () => {
                if (ended) return;
                ended = true;
                clearInterval(heartbeat);
                this.open.delete(stream);
                for (const fn of endings.splice(0)) fn();
                w.end();
            }
        };
        this.open.add(stream);
        w.abort.signal.addEventListener("abort", () => stream.end(), {once: true});
        return stream;
    }

    closeAll(): void {
        for (const s of [...this.open]) s.end();
    }
}
