/** An error with the HTTP status it should be answered with; each API family renders it in its own shape. */
export class HttpError extends Error {
    constructor(readonly status: number, message: string, readonly code?: string, readonly param?: string) {
        super(message);
        this.name = "HttpError";
    }
}

export const QUEUE_FULL_MESSAGE = "server busy, please try again.  maximum pending requests exceeded";

export function notFound(name: string): HttpError {
    return new HttpError(404, `model '${name}' not found`, "model_not_found", "model");
}
