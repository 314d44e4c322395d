import type {FastifyInstance, FastifyRequest} from "fastify";
import type {Logger} from "../log/logger.js";

/** What a route learned about its request, for the one log line per request. No prompt text, ever. */
export interface RequestFacts {
    model?: string;
    queue_ms?: number;
    load_ms?: number;
    prompt_tokens?: number;
    prompt_eval_tokens?: number;
    cached_tokens?: number;
    completion_tokens?: number;
    total_ms?: number;
    /** From the request's arrival to the model's first generated text. */
    first_token_ms?: number;
    context_capped?: string;
    stream?: boolean;
    error?: string;
    logged?: boolean;
}

declare module "fastify" {
    interface FastifyRequest {
        facts: RequestFacts;
    }
    interface FastifyInstance {
        /** Every finished request, as its log line says it, for watchers in the process (dashboard, metrics). */
        requestFeed: RequestFeed;
    }
}

/** One finished request: the log line's fields, plus when it ended and whether a route matched it. */
export type RequestRecord = Omit<RequestFacts, "logged"> & {
    id: string;
    time: string;
    method: string;
    route: string;
    /** False for a request no route matched: its `route` is then the raw path, which watchers must not count by. */
    matched: boolean;
    status: number;
    ms: number;
};

/** Hands each finished request to its listeners; a listener that throws is dropped from that one delivery only. */
export class RequestFeed {
    private readonly listeners = new Set<(record: RequestRecord) => void>();

    subscribe(listener: (record: RequestRecord) => void): () => void {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
    }

    publish(record: RequestRecord): void {
        for (const listener of this.listeners) {
            try {
                listener(record);
            } catch {
                // a watcher's bug must not fail the request it watches
            }
        }
    }
}

/** Milliseconds since the request arrived (0 for a request the log hook never saw). */
export function sinceStart(request: FastifyRequest): number {
    const t0 = startTimes.get(request);
    return t0 == null ? 0 : performance.now() - t0;
}

export function logRequest(logger: Logger, request: FastifyRequest, status: number): void {
    if (request.facts.logged) return;
    request.facts.logged = true;
    const {logged: _logged, ...facts} = request.facts;
    const line = {method: request.method, route: request.routeOptions.url ?? request.url.split("?")[0], status, ms: Math.round(performance.now() - startTimes.get(request)!), ...facts};
    if (status >= 500) logger.error(line, "request");
    else if (status >= 400) logger.warn(line, "request");
    else logger.info(line, "request");
    request.server.requestFeed?.publish({...line, route: line.route ?? "", id: String(request.id), time: new Date().toISOString(), matched: request.routeOptions.url != null});
}

const startTimes = new WeakMap<FastifyRequest, number>();

export function installRequestLog(app: FastifyInstance, logger: Logger): void {
    app.decorateRequest("facts", null as unknown as RequestFacts);
    app.decorate("requestFeed", new RequestFeed());
    app.addHook("onRequest", async (request) => {
        request.facts = {};
        startTimes.set(request, performance.now());
    });
    app.addHook("onResponse", async (request, reply) => {
        logRequest(logger, request, reply.statusCode);
    });
}
