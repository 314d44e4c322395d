/**
 * The HTTP client the `zombiecoder` client commands (list, ps, load, unload, show, run, pull) use to talk to the
 * running provider: its address from the config's server_host / server_port (ZOMBIECODER_HOST / ZOMBIECODER_PORT
 * override them), its key as the config loader resolves it (auth.api_key, the file named by auth.api_key_file, or
 * ZOMBIECODER_API_KEY over both).
 */
import type {ProviderConfig} from "../config/load.js";
import {connectHost} from "./busy-port.js";

/** Nothing answers at the configured address: the user has to start the provider first. */
export class NoProviderError extends Error {
    constructor(readonly baseUrl: string) {
        super(`no provider is listening on ${baseUrl}: start it with \`zombiecoder serve\` (or \`npm start\`)`);
        this.name = "NoProviderError";
    }
}

/** The provider answered with an error status; the message is the one it sent. */
export class ProviderResponseError extends Error {
    constructor(readonly status: number, message: string) {
        super(message);
        this.name = "ProviderResponseError";
    }
}

export function providerBaseUrl(host: string, port: number): string {
    const h = connectHost(host);
    return `http://${h.includes(":") ? `[${h}]` : h}:${port}`;
}

/** Connection failures that mean "nobody listens there", as opposed to a server that answered badly. */
const NOT_LISTENING = new Set(["ECONNREFUSED", "ECONNRESET", "EHOSTUNREACH", "ENOTFOUND", "EADDRNOTAVAIL"]);

function isNotListening(err: unknown): boolean {
    const cause = (err as {cause?: {code?: string}} | null)?.cause;
    return typeof cause?.code === "string" && NOT_LISTENING.has(cause.code);
}

/** The message in any of the provider's error shapes: Ollama's `{error}`, OpenAI's `{error: {message}}`, `{message}`. */
export function errorMessageOf(status: number, body: string): string {
    try {
        const parsed: unknown = JSON.parse(body);
        if (typeof parsed === "object" && parsed !== null) {
            const {error, message} = parsed as {error?: unknown; message?: unknown};
            if (typeof error === "string") return error;
            if (typeof error === "object" && error !== null && typeof (error as {message?: unknown}).message === "string") return (error as {message: string}).message;
            if (typeof message === "string") return message;
        }
    } catch {
        // not JSON: the text itself
    }
    return body.trim() || `HTTP ${status}`;
}

export class ProviderClient {
    constructor(readonly baseUrl: string, private readonly apiKey: string | null, private readonly fetchFn: typeof fetch = fetch) {}

    static fromConfig(config: ProviderConfig): ProviderClient {
        return new ProviderClient(providerBaseUrl(config.server_host, config.server_port), config.apiKey);
    }

    /** A request with the key; throws NoProviderError when nothing listens, ProviderResponseError for a 4xx/5xx. */
    async request(method: "GET" | "POST" | "DELETE", path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
        const headers: Record<string, string> = {};
        if (this.apiKey) headers["x-api-key"] = this.apiKey;
        if (body !== undefined) headers["content-type"] = "application/json";
        let res: Response;
        try {
            res = await this.fetchFn(`${this.baseUrl}${path}`, {method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal});
        } catch (err) {
            if (isNotListening(err)) throw new NoProviderError(this.baseUrl);
            throw err;
        }
        if (!res.ok) throw new ProviderResponseError(res.status, errorMessageOf(res.status, await res.text()));
        return res;
    }

    async json<T>(method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<T> {
        return (await (await this.request(method, path, body)).json()) as T;
    }

    /** True when a provider answers /health (no key needed), false when nothing listens there. */
    async isListening(timeoutMs = 1500): Promise<boolean> {
        try {
            const res = await this.fetchFn(`${this.baseUrl}/health`, {signal: AbortSignal.timeout(timeoutMs)});
            await res.body?.cancel();
            return true;
        } catch {
            return false;
        }
    }
}

/** The lines of an NDJSON response body, parsed, as they arrive. */
export async function* ndjsonLines(res: Response): AsyncGenerator<unknown> {
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of res.body) {
        buffered += decoder.decode(chunk, {stream: true});
        let nl: number;
        while ((nl = buffered.indexOf("\n")) >= 0) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (line !== "") yield JSON.parse(line) as unknown;
        }
    }
    const rest = (buffered + decoder.decode()).trim();
    if (rest !== "") yield JSON.parse(rest) as unknown;
}

/** The events of a server-sent-events body (`event:` name and parsed `data:`), as they arrive. */
export async function* sseEvents(res: Response): AsyncGenerator<{event: string; data: unknown}> {
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of res.body) {
        buffered += decoder.decode(chunk, {stream: true}).replace(/\r\n/g, "\n");
        let end: number;
        while ((end = buffered.indexOf("\n\n")) >= 0) {
            const block = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            let event = "message";
            const data: string[] = [];
            for (const line of block.split("\n")) {
                if (line.startsWith("event:")) event = line.slice(6).trim();
                else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
            }
            if (data.length > 0) yield {event, data: JSON.parse(data.join("\n")) as unknown};
        }
    }
}
