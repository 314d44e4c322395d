/**
 * Errors by meaning. The runtime, the runner, the registry and the upstream clients say *what* went wrong;
 * src/server/errors.ts alone decides the HTTP status and each API family's body shape.
 */
export type ErrorKind =
    /** The request itself is wrong (bad field, unsupported feature for this model). */
    | "bad_request"
    /** No such model (or other named thing). */
    | "not_found"
    /** A name matches more than one model. */
    | "ambiguous"
    /** The queue is full or the model is being unloaded: try again shortly. */
    | "busy"
    /** The model does not fit the memory budget even after evicting every idle model. */
    | "does_not_fit"
    /** The server is closing. */
    | "shutting_down"
    /** The model cannot be loaded (invalid GGUF, engine refused it). */
    | "load_failed"
    /** The model's runner process died or misbehaved. */
    | "crashed"
    /** The client went away or cancelled. */
    | "cancelled"
    /** An upstream could not be reached, broke off, or sent garbage. */
    | "upstream_failed"
    /** An upstream did not answer in time. */
    | "upstream_timeout"
    /** An upstream answered with an error status of its own (kept as `upstreamStatus`). */
    | "upstream_refused"
    /** Something that should not happen. */
    | "internal";

export const ERROR_KINDS: readonly ErrorKind[] = [
    "bad_request", "not_found", "ambiguous", "busy", "does_not_fit", "shutting_down", "load_failed", "crashed", "cancelled",
    "upstream_failed", "upstream_timeout", "upstream_refused", "internal"
];

export interface ErrorDetails {
    /** A stable machine-readable code (OpenAI's `code`), e.g. "model_not_found". */
    code?: string;
    /** The request field at fault (OpenAI's `param`). */
    param?: string;
    /** For "upstream_refused": the status the upstream answered with. */
    upstreamStatus?: number;
}

export class ProviderError extends Error {
    readonly code?: string;
    readonly param?: string;
    readonly upstreamStatus?: number;

    constructor(readonly kind: ErrorKind, message: string, details: ErrorDetails = {}) {
        super(message);
        this.name = "ProviderError";
        this.code = details.code;
        this.param = details.param;
        this.upstreamStatus = details.upstreamStatus;
    }
}

export function isProviderError(err: unknown): err is ProviderError {
    return err instanceof ProviderError;
}

export const badRequest = (message: string, param?: string, code?: string) =>
    new ProviderError("bad_request", message, {code, param});

export const QUEUE_FULL_MESSAGE = "server busy, please try again.  maximum pending requests exceeded";

/** Ollama's exact text first (Continue parses `model 'NAME' not found`), then whatever helps the user. */
export function notFound(name: string, hint?: string): ProviderError {
    return new ProviderError("not_found", `model '${name}' not found${hint ? `; ${hint}` : ""}`, {code: "model_not_found", param: "model"});
}

export const cancelled = () => new ProviderError("cancelled", "request canceled", {code: "request_canceled"});
export const shuttingDown = () => new ProviderError("shutting_down", "server is shutting down; try again in a moment", {code: "shutting_down"});
