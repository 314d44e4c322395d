import {randomBytes} from "node:crypto";
import path from "node:path";
import type {FileLock} from "./lock.js";
import type {Plan} from "./plan.js";
import {formatModelRef} from "./ref.js";
import type {DownloadFileState, DownloadJob, DownloadProgressEvent, KeptPart} from "./types.js";

/** A download job as the manager holds it: the public snapshot plus what only a running job needs. */
export interface JobRecord {
    snap: DownloadJob;
    /** One URL per file, in the order of `snap.files`; persisted but never shown (it may carry a signed query). */
    urls: string[];
    abort: AbortController | null;
    running: Promise<void> | null;
    deleteOnCancel: boolean;
    /** `.part` files the last delete left in place (a newer job or another process writes them). */
    partsKept: KeptPart[] | null;
    /** Locks this job holds while it runs: its own lock never keeps its own `.part` from being deleted. */
    locks: FileLock[];
    /** The file being transferred, for progress events. */
    fileIndex: number;
    /** Recent `[time ms, bytes]` pairs the speed is measured over. */
    samples: Array<[number, number]>;
    /** When the last progress event went out, for throttling. */
    lastEmit: number;
}

export function now(): string {
    return new Date().toISOString();
}

export function newRecord(snap: DownloadJob, urls: string[]): JobRecord {
    return {snap, urls, abort: null, running: null, deleteOnCancel: false, partsKept: null, locks: [], fileIndex: 0, samples: [], lastEmit: 0};
}

/** A new queued job for a plan whose files were already checked on disk. */
export function recordFromPlan(plan: Plan, files: DownloadFileState[]): JobRecord {
    const {ref} = plan;
    const target = plan.files[0]!.dest;
    const ts = now();
    const snap: DownloadJob = {
        id: `dl_${randomBytes(6).toString("hex")}`,
        model: formatModelRef(ref),
        source: ref.kind === "hf" ? "huggingface" : "url",
        repo: ref.kind === "hf" ? ref.repo : null,
        revision: ref.kind === "hf" ? ref.revision : null,
        quant: plan.quant,
        ollama_name: plan.ollamaName,
        target,
        folder: path.dirname(target),
        files,
        total_bytes: files.some((f) => f.size_bytes == null) ? null : files.reduce((n, f) => n + (f.size_bytes ?? 0), 0),
        downloaded_bytes: files.reduce((n, f) => n + f.downloaded_bytes, 0),
        speed_bps: 0,
        eta_seconds: null,
        status: "queued",
        phase: null,
        error: null,
        error_code: null,
        http_status: null,
        resumed_from_bytes: files.reduce((n, f) => n + (f.done ? 0 : f.downloaded_bytes), 0),
        created_at: ts,
        updated_at: ts,
        finished_at: null
    };
    return newRecord(snap, plan.files.map((f) => f.url));
}

/** A copy callers may keep or change without touching the live job. */
export function snapshotOf(r: JobRecord): DownloadJob {
    return {...r.snap, files: r.snap.files.map((f) => ({...f}))};
}

export function progressEventOf(r: JobRecord): DownloadProgressEvent {
    const s = r.snap;
    const f = s.files[Math.min(r.fileIndex, s.files.length - 1)];
    return {
        id: s.id, status: s.status, phase: s.phase,
        bytes: s.downloaded_bytes, total: s.total_bytes, speed: Math.round(s.speed_bps), eta: s.eta_seconds,
        file: f?.name ?? null, file_index: r.fileIndex, files_total: s.files.length,
        file_bytes: f?.downloaded_bytes ?? 0, file_total: f?.size_bytes ?? null, file_sha256: f?.sha256 ?? null,
        error: s.error, error_code: s.error_code
    };
}

/** Recomputes the job's byte totals from its files, and its speed and ETA over the last five seconds. */
export function updateTotals(r: JobRecord): void {
    const s = r.snap;
    s.downloaded_bytes = s.files.reduce((n, f) => n + f.downloaded_bytes, 0);
    s.total_bytes = s.files.some((f) => f.size_bytes == null) ? null : s.files.reduce((n, f) => n + (f.size_bytes ?? 0), 0);
    const t = Date.now();
    const last = r.samples[r.samples.length - 1];
    if (!last || t - last[0] >= 100) r.samples.push([t, s.downloaded_bytes]);
    while (r.samples.length > 2 && t - r.samples[0]![0] > 5000) r.samples.shift();
    const first = r.samples[0]!;
    const dt = (t - first[0]) / 1000;
    s.speed_bps = dt > 0.2 ? Math.max(0, (s.downloaded_bytes - first[1]) / dt) : s.speed_bps;
    s.eta_seconds = s.total_bytes != null && s.speed_bps > 0 ? Math.ceil((s.total_bytes - s.downloaded_bytes) / s.speed_bps) : null;
}

/** Bytes a job still has to write: what it reserves of the free space while active. */
export function bytesStillNeeded(files: readonly DownloadFileState[]): number {
    let n = 0;
    for (const f of files) if (!f.done && f.size_bytes != null) n += Math.max(0, f.size_bytes - f.downloaded_bytes);
    return n;
}
