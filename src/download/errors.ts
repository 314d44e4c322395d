/**
 * One error type for everything the download module refuses or fails at, carrying the HTTP status the
 * routes answer with, so the routes never have to guess from message text.
 */
export type DownloadErrorCode =
    | "bad_reference"      // 400: the model reference cannot be parsed
    | "unsafe_name"        // 400: a file or folder name would escape models_dir or is not a valid name
    | "not_found"          // 404: repo, file or quantization does not exist upstream; unknown job id
    | "conflict"           // 409: the target exists with other content, or another process holds the download
    | "insufficient_storage" // 507: not enough free disk space
    | "upstream"           // 502: the remote server failed or refused
    | "checksum"           // 502: the downloaded bytes do not match the published sha256
    | "cancelled"
    | "interrupted";

const statusOf: Record<DownloadErrorCode, number> = {
    bad_reference: 400,
    unsafe_name: 400,
    not_found: 404,
    conflict: 409,
    insufficient_storage: 507,
    upstream: 502,
    checksum: 502,
    cancelled: 409,
    interrupted: 503
};

export class DownloadError extends Error {
    readonly code: DownloadErrorCode;
    readonly status: number;
    /** Status of the upstream response that caused this, when there was one. */
    readonly upstreamStatus: number | null;

    constructor(code: DownloadErrorCode, message: string, opts: {upstreamStatus?: number; cause?: unknown} = {}) {
        super(message, opts.cause === undefined ? undefined : {cause: opts.cause});
        this.name = "DownloadError";
        this.code = code;
        this.status = statusOf[code];
        this.upstreamStatus = opts.upstreamStatus ?? null;
    }
}

export function isDownloadError(err: unknown): err is DownloadError {
    return err instanceof DownloadError;
}

/** Abort reasons: a cancel by the user and a shutdown (which must leave the job resumable) end differently. */
export class CancelledByUser extends Error {
    constructor() {
        super("download cancelled");
        this.name = "CancelledByUser";
    }
}

export class ShutdownAbort extends Error {
    constructor() {
        super("download interrupted by shutdown; it resumes on the next start");
        this.name = "ShutdownAbort";
    }
}
