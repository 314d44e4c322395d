import type {UpstreamConfig} from "../config/schema.js";
import {ProviderError} from "../runtime/errors.js";
import type {EmbedResult, GenerateRequest, GenerationEvent, GenerationStats} from "../runtime/protocol.js";

/** Until response headers arrive, and between two chunks of a stream. Ollama sends headers only after a load. */
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 300_000;
/** Listing models must never hold up the merged lists for long: one deadline for headers and body together. */
export const LIST_TIMEOUT_MS = 5_000;

/** A model an upstream offers, with its entry as the upstream's own list gave it. */
export interface UpstreamModel {
    name: string;
    /** Unix seconds, when known. */
    created?: number;
    /** The upstream's /api/tags entry (Ollama upstreams), passed on as it is. */
    tag?: Record<string, unknown>;
}

export type UpstreamType = "ollama" | "openai";

export interface ResolvedUpstreamConfig {
    id: string;
    url: string;
    type: UpstreamType;
    apiKey: string | null;
    timeoutMs: number;
}

/** A request in flight to an upstream: its response (headers arrived) and a way to stop it. */
export interface UpstreamCall {
    response: Response;
    abort(reason?: unknown): void;
    /** Aborts the call when `signal` fires (the client went away). */
    link(signal: AbortSignal): void;
}

class UpstreamTimeout extends Error {}

/** The upstream's own error text from an error body (Ollama's {"error"}, OpenAI's {"error":{"message"}}), else the raw text. */
export function upstreamErrorText(text: string): string {
    try {
        const body = JSON.parse(text) as {error?: unknown; message?: unknown};
        if (typeof body.error === "string") return body.error;
        if (body.error && typeof body.error === "object" && typeof (body.error as {message?: unknown}).message === "string")
            return (body.error as {message: string}).message;
        if (typeof body.message === "string") return body.message;
    } catch {
        // not JSON: fall through to the text itself
    }
    return text.trim().slice(0, 500) || "(empty body)";
}

/**
 * One configured upstream server. Every failure to reach it is a ProviderError that names it:
 * upstream_failed when it cannot be reached or breaks off, upstream_timeout when it does not answer within its timeout.
 */
export abstract class Upstream {
    readonly id: string;
    readonly url: string;
    readonly type: UpstreamType;
    readonly timeoutMs: number;
    private readonly apiKey: string | null;

    constructor(cfg: ResolvedUpstreamConfig) {
        this.id = cfg.id;
        this.url = cfg.url.replace(/\/+$/, "");
        this.type = cfg.type;
        this.timeoutMs = cfg.timeoutMs;
        this.apiKey = cfg.apiKey;
    }

    /** `upstream 'gpu-box' (http://10.0.0.5:11434)`: the prefix of every message about it. */
    describe(): string {
        return `upstream '${this.id}' (${this.url})`;
    }

    protected headers(extra: Record<string, string> = {}): Record<string, string> {
        return {
            Accept: "application/json, application/x-ndjson, text/event-stream",
            ...(this.apiKey ? {Authorization: `Bearer ${this.apiKey}`} : {}),
            ...extra
        };
    }

    /**
     * Sends a request and resolves once response headers arrive. A refused connection is a 502, no headers within
     * `timeoutMs` a 504; an abort of `signal` rejects with the signal's reason. Non-2xx responses resolve too.
     */
    async send(path: string, opts: {method?: string; body?: unknown; signal?: AbortSignal; timeoutMs?: number} = {}): Promise<UpstreamCall> {
        const ac = new AbortController();
        const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
        const timer = setTimeout(() => ac.abort(new UpstreamTimeout()), timeoutMs);
        const link = (signal: AbortSignal) => {
            if (signal.aborted) ac.abort(signal.reason);
            else signal.addEventListener("abort", () => ac.abort(signal.reason), {once: true});
        };
        if (opts.signal) link(opts.signal);
        try {
            const response = await fetch(this.url + path, {
                method: opts.method ?? (opts.body === undefined ? "GET" : "POST"),
                headers: this.headers(opts.body === undefined ? {} : {"Content-Type": "application/json"}),
                body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
                signal: ac.signal
            });
            return {response, abort: (reason?: unknown) => ac.abort(reason ?? new Error("request ended")), link};
        } catch (err) {
            const reason: unknown = ac.signal.reason;
            if (reason instanceof UpstreamTimeout)
                throw new ProviderError("upstream_timeout", `${this.describe()} did not answer within ${timeoutMs} ms`, {code: "upstream_timeout"});
            if (opts.signal?.aborted) throw opts.signal.reason ?? err;
            throw this.unreachable(err);
        } finally {
            clearTimeout(timer);
        }
    }

    /** The 502 for a connection that failed, with the low-level cause (ECONNREFUSED, ENOTFOUND, ...). */
    unreachable(err: unknown): ProviderError {
        const e = err as Error & {cause?: {code?: string; message?: string}};
        const cause = e.cause?.code ?? e.cause?.message ?? e.message;
        return new ProviderError("upstream_failed", `${this.describe()} is unreachable: ${cause}`, {code: "upstream_unreachable"});
    }

    /** A non-2xx answer as an error naming the upstream; its 4xx statuses (bad request, not found) pass through. */
    async failure(call: UpstreamCall): Promise<ProviderError> {
        const {response} = call;
        const text = await response.text().catch(() => "");
        const message = upstreamErrorText(text);
        const text2 = `${this.describe()} answered ${response.status}: ${message}`;
        if (response.status >= 400 && response.status < 500) return new ProviderError("upstream_refused", text2, {code: "upstream_error", upstreamStatus: response.status});
        return new ProviderError("upstream_failed", text2, {code: "upstream_error"});
    }

    /**
     * The body chunk by chunk, as text. A pause longer than the timeout is a 504, a broken connection a 502;
     * an abort of the call (client went away) ends the iteration quietly.
     */
    async *chunks(call: UpstreamCall, signal?: AbortSignal): AsyncGenerator<string> {
        const body = call.response.body;
        if (!body) return;
        const reader = body.getReader();
        const decoder = new TextDecoder();
        let stalled = false;
        let timer: NodeJS.Timeout | undefined;
        const arm = () => {
            clearTimeout(timer);
            timer = setTimeout(() => {
                stalled = true;
                call.abort(new UpstreamTimeout());
            }, this.timeoutMs);
        };
        try {
            for (;;) {
                arm();
                let r: Awaited<ReturnType<typeof reader.read>>;
                try {
                    r = await reader.read();
                } catch (err) {
                    if (signal?.aborted) return;
                    if (stalled) throw new ProviderError("upstream_timeout", `${this.describe()} stopped sending for ${this.timeoutMs} ms mid-stream`, {code: "upstream_timeout"});
                    throw new ProviderError("upstream_failed", `${this.describe()} broke off the response mid-stream: ${(err as Error).message}`, {code: "upstream_broken"});
                }
                if (r.done) break;
                const text = decoder.decode(r.value, {stream: true});
                if (text !== "") yield text;
            }
            const rest = decoder.decode();
            if (rest !== "") yield rest;
        } finally {
            clearTimeout(timer);
            reader.releaseLock();
        }
    }

    /** Complete lines of the body (NDJSON and SSE are both line-based). */
    async *lines(call: UpstreamCall, signal?: AbortSignal): AsyncGenerator<string> {
        let buf = "";
        for await (const chunk of this.chunks(call, signal)) {
            buf += chunk;
            let nl: number;
            while ((nl = buf.indexOf("\n")) >= 0) {
                const line = buf.slice(0, nl).replace(/\r$/, "");
                buf = buf.slice(nl + 1);
                yield line;
            }
        }
        if (buf.trim() !== "") yield buf;
    }

    /** The whole body as JSON; a body that breaks off is a 502. */
    async json<T>(call: UpstreamCall): Promise<T> {
        let text = "";
        for await (const chunk of this.chunks(call)) text += chunk;
        try {
            return JSON.parse(text) as T;
        } catch {
            throw new ProviderError("upstream_failed", `${this.describe()} answered with something that is not JSON: ${text.slice(0, 200)}`, {code: "upstream_bad_response"});
        }
    }

    /** The deadline of a model list request, body included: the smaller of `timeout_ms` and LIST_TIMEOUT_MS. */
    get listTimeoutMs(): number {
        return Math.min(this.timeoutMs, LIST_TIMEOUT_MS);
    }

    /**
     * GETs a model list as JSON within one deadline that covers the headers and the whole body. Reading a body
     * otherwise relies on the stall timer of `chunks`, which is `timeout_ms` long (300 s by default) and restarts
     * on every byte, so a half-dead upstream that sends headers and then nothing (or a byte now and then) would
     * hold /api/tags, /v1/models and name resolution for that long.
     */
    protected async listJson<T>(path: string): Promise<T> {
        const deadlineMs = this.listTimeoutMs;
        const deadline = new AbortController();
        const timer = setTimeout(() => deadline.abort(new UpstreamTimeout()), deadlineMs);
        try {
            // no headers in time: send's own 504 ("did not answer within")
            const call = await this.send(path, {signal: deadline.signal, timeoutMs: deadlineMs});
            try {
                if (!call.response.ok) throw await this.failure(call);
                return await this.json<T>(call);
            } catch (err) {
                if (deadline.signal.aborted)
                    throw new ProviderError("upstream_timeout", `${this.describe()} answered ${path} but did not send the whole list within ${deadlineMs} ms`, {code: "upstream_timeout"});
                throw err;
            }
        } finally {
            clearTimeout(timer);
        }
    }

    /** The models it offers now; throws a ProviderError when it cannot be listed. */
    abstract listModels(): Promise<UpstreamModel[]>;

    /** Starts a generation: resolves when the upstream has accepted it (headers), so its errors still get their own status. */
    abstract startGeneration(name: string, request: GenerateRequest, signal?: AbortSignal): Promise<UpstreamCall>;

    /** Reads a started generation, translating the upstream's stream into the internal events. */
    abstract readGeneration(call: UpstreamCall, request: GenerateRequest, onEvent: (e: GenerationEvent) => void, signal: AbortSignal): Promise<GenerationStats>;

    abstract embed(name: string, inputs: string[], truncate: boolean, signal: AbortSignal): Promise<EmbedResult>;
}

/** Stats for an upstream answer: the counts it reported, what it did not report as zero. */
export function upstreamStats(partial: Partial<GenerationStats> & Pick<GenerationStats, "done_reason">): GenerationStats {
    const promptTokens = partial.prompt_tokens ?? partial.prompt_eval_count ?? 0;
    return {
        prompt_eval_count: partial.prompt_eval_count ?? promptTokens,
        prompt_tokens: promptTokens,
        cached_tokens: partial.cached_tokens ?? 0,
        eval_count: partial.eval_count ?? 0,
        prompt_eval_duration_ns: partial.prompt_eval_duration_ns ?? 0,
        eval_duration_ns: partial.eval_duration_ns ?? 0,
        context_size: partial.context_size ?? 0,
        done_reason: partial.done_reason
    };
}

/** Upstream ids must be unique: the configured name, else host:port, suffixed when two collide. */
export function resolveUpstreamConfigs(upstreamOllama: string | null, upstreams: UpstreamConfig[]): ResolvedUpstreamConfig[] {
    const raw: UpstreamConfig[] = [...(upstreamOllama ? [{url: upstreamOllama, type: "ollama" as const}] : []), ...upstreams];
    const seen = new Set<string>();
    return raw.map((u) => {
        let base = u.name;
        if (!base) {
            try {
                base = new URL(u.url).host;
            } catch {
                base = u.url;
            }
        }
        let id = base;
        for (let i = 2; seen.has(id); i++) id = `${base}-${i}`;
        seen.add(id);
        return {id, url: u.url, type: u.type ?? "ollama", apiKey: u.api_key ?? null, timeoutMs: u.timeout_ms ?? DEFAULT_UPSTREAM_TIMEOUT_MS};
    });
}
