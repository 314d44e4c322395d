import type {DownloadErrorCode} from "./errors.js";
import type {FilePhase} from "./fetch-file.js";

/** The shapes a download job has outside the module: what the routes show, the CLI renders and the state file holds. */

export type JobStatus = "queued" | "downloading" | "verifying" | "completed" | "failed" | "cancelled";

/** Statuses of a download job that still owns its `.part` files and its share of the disk. */
export const ACTIVE: ReadonlySet<JobStatus> = new Set(["queued", "downloading", "verifying"]);
export const TERMINAL: ReadonlySet<JobStatus> = new Set(["completed", "failed", "cancelled"]);

export interface DownloadFileState {
    name: string;
    /** Absolute final path inside models_dir. */
    path: string;
    role: "model" | "projector";
    size_bytes: number | null;
    downloaded_bytes: number;
    /** Published sha256 before the download, the verified one after. */
    sha256: string | null;
    done: boolean;
    /** True when this download verified the bytes (false for a file that was already in place). */
    verified: boolean;
}

/** A job as the routes show it (JSON-safe; no token, no query strings). */
export interface DownloadJob {
    id: string;
    /** Canonical spelling of the request (`hf:org/repo:Q4_K_M`, `https://host/path/file.gguf`). */
    model: string;
    source: "huggingface" | "url";
    repo: string | null;
    revision: string | null;
    quant: string | null;
    /** The name Ollama clients use for this pull (`hf.co/org/repo:Q4_K_M`). */
    ollama_name: string | null;
    /** Absolute path of the entry file (the first part of a split model). */
    target: string;
    folder: string;
    files: DownloadFileState[];
    total_bytes: number | null;
    downloaded_bytes: number;
    speed_bps: number;
    eta_seconds: number | null;
    status: JobStatus;
    phase: FilePhase | null;
    error: string | null;
    error_code: DownloadErrorCode | null;
    http_status: number | null;
    /** Bytes already on disk when the job last (re)started: > 0 means it resumed. */
    resumed_from_bytes: number;
    created_at: string;
    updated_at: string;
    finished_at: string | null;
}

/** A `.part` that a delete request left in place, and why. */
export interface KeptPart {
    path: string;
    reason: string;
}

/** What cancel answers: the job, plus (when the request asked to delete the partial files) the ones it had to keep. */
export type CancelledJob = DownloadJob & {parts_kept?: KeptPart[]};

/** One progress event (SSE `data:`, subscriber callbacks). `bytes` never decreases unless a server ignores Range. */
export interface DownloadProgressEvent {
    id: string;
    status: JobStatus;
    phase: FilePhase | null;
    bytes: number;
    total: number | null;
    /** Bytes per second over the last few seconds. */
    speed: number;
    /** Seconds left at the current speed; null when unknown. */
    eta: number | null;
    file: string | null;
    file_index: number;
    files_total: number;
    file_bytes: number;
    file_total: number | null;
    file_sha256: string | null;
    error: string | null;
    error_code: DownloadErrorCode | null;
}
