import {createHash, type Hash} from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type {Logger} from "../log/logger.js";
import {silentLogger} from "../log/logger.js";
import {CancelledByUser, DownloadError, ShutdownAbort} from "./errors.js";

export interface FileSpec {
    url: string;
    /** Final path; written only by renaming the completed, verified `.part`. */
    dest: string;
    /** `<dest>.part`: the bytes so far, appended to on resume. */
    part: string;
    /** Expected size when known (Hugging Face tree, HEAD); null → taken from the response. */
    size: number | null;
    /** Expected sha256 (hex) when published; null → taken from the response's `x-linked-etag`/`etag` if it is one. */
    sha256: string | null;
}

export type FilePhase = "hashing-partial" | "downloading" | "verifying";

export interface FetchFileOptions {
    headers?: Record<string, string>;
    signal?: AbortSignal;
    /** Retries after a failed attempt; an attempt that made progress resets the count. */
    retries: number;
    /** Delay before retry `attempt` (1-based). */
    retryDelayMs?: (attempt: number) => number;
    /** An attempt that receives no byte for this long is aborted and retried. */
    stallTimeoutMs?: number;
    fetch?: typeof fetch;
    logger?: Logger;
    /** Bytes of this file on disk so far (called per chunk; the caller throttles). */
    onProgress?: (bytes: number, total: number | null) => void;
    onPhase?: (phase: FilePhase) => void;
    /** Called when the total is known and before the first byte is written: throw to refuse (disk space). */
    beforeWrite?: (total: number | null, alreadyOnDisk: number) => Promise<void>;
    /** Called when the server ignored Range and the file restarts from zero. */
    onRestart?: () => void;
}

export interface FetchFileResult {
    size: number;
    sha256: string;
    /** Bytes already on disk when this call started. */
    resumedFrom: number;
    /** Requests made (1 = no retry). */
    requests: number;
}

export const defaultRetryDelay = (attempt: number): number => Math.min(30_000, 500 * 2 ** (attempt - 1)) + Math.floor(Math.random() * 250);

class RetryableError extends Error {
    constructor(message: string, opts?: {cause?: unknown}) {
        super(message, opts);
        this.name = "RetryableError";
    }
}

class StallError extends Error {
    constructor(ms: number) {
        super(`no data for ${Math.round(ms / 1000)} s`);
        this.name = "StallError";
    }
}

async function fileSize(p: string): Promise<number> {
    try {
        return (await fs.promises.stat(p)).size;
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
        throw err;
    }
}

async function hashExisting(p: string, length: number, hash: Hash, signal?: AbortSignal): Promise<void> {
    if (length === 0) return;
    const stream = fs.createReadStream(p, {start: 0, end: length - 1, highWaterMark: 1024 * 1024});
    for await (const chunk of stream) {
        if (signal?.aborted) {
            stream.destroy();
            throw signal.reason;
        }
        hash.update(chunk as Buffer);
    }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const t = setTimeout(() => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
        }, ms);
        const onAbort = (): void => {
            clearTimeout(t);
            reject(signal!.reason);
        };
        signal?.addEventListener("abort", onAbort, {once: true});
    });
}

// "bytes 100-199/1000" → {start: 100, total: 1000}; "bytes (star)/1000" → {start: null, total: 1000}.
function parseContentRange(v: string | null): {start: number | null; total: number | null} {
    if (!v) return {start: null, total: null};
    const m = /^bytes\s+(?:(\d+)-\d+|\*)\/(\d+|\*)$/i.exec(v.trim());
    if (!m) return {start: null, total: null};
    return {start: m[1] != null ? Number(m[1]) : null, total: m[2] === "*" ? null : Number(m[2])};
}

function shaFromHeaders(h: Headers): string | null {
    for (const name of ["x-linked-etag", "etag"]) {
        const v = h.get(name)?.replace(/^W\//, "").replace(/"/g, "").trim().toLowerCase();
        if (v && /^[0-9a-f]{64}$/.test(v)) return v;
    }
    return null;
}

function redact(url: string): string {
    try {
        const u = new URL(url);
        return `${u.origin}${u.pathname}`;
    } catch {
        return "(invalid url)";
    }
}

function isAbortReason(err: unknown): boolean {
    return err instanceof CancelledByUser || err instanceof ShutdownAbort;
}

/**
 * Downloads one file to `<dest>.part`, resuming from the bytes already there with an HTTP Range request, retrying
 * with backoff after drops and 5xx, verifying size and sha256, and renaming into place only when complete.
 *
 * A sha256 mismatch throws (code "checksum") and leaves the `.part` for inspection. A cancel or shutdown leaves the
 * `.part` so the next call resumes. The hash runs incrementally while writing; on resume the bytes already on disk
 * are read once to seed it.
 */
export async function fetchFile(spec: FileSpec, opts: FetchFileOptions): Promise<FetchFileResult> {
    const log = opts.logger ?? silentLogger;
    const doFetch = opts.fetch ?? fetch;
    const retryDelay = opts.retryDelayMs ?? defaultRetryDelay;
    const stallMs = opts.stallTimeoutMs ?? 60_000;
    const signal = opts.signal;
    let expectedSize = spec.size;
    let expectedSha = spec.sha256?.toLowerCase() ?? null;

    let offset = await fileSize(spec.part);
    // A .part at (or past) full size was never renamed: it failed verification before. Start over rather than
    // asking the server for bytes past the end and failing the same way again.
    if (expectedSize != null && offset >= expectedSize && offset > 0) {
        log.warn({file: spec.part, bytes: offset}, "partial file is already full size but was never verified; downloading again");
        await fs.promises.truncate(spec.part, 0);
        offset = 0;
    }
    const resumedFrom = offset;
    let hash = createHash("sha256");
    if (offset > 0) {
        opts.onPhase?.("hashing-partial");
        await hashExisting(spec.part, offset, hash, signal);
    }
    opts.onPhase?.("downloading");
    opts.onProgress?.(offset, expectedSize);

    let failures = 0;
    let requests = 0;
    // Bounded: each pass either completes, throws, or spends one of `retries` (reset only by real progress, and
    // a file has finitely many bytes).
    for (;;) {
        if (signal?.aborted) throw signal.reason;
        const attemptCtl = new AbortController();
        const onOuterAbort = (): void => attemptCtl.abort(signal!.reason);
        signal?.addEventListener("abort", onOuterAbort, {once: true});
        let stallTimer: NodeJS.Timeout | undefined;
        const armStall = (): void => {
            clearTimeout(stallTimer);
            stallTimer = setTimeout(() => attemptCtl.abort(new StallError(stallMs)), stallMs);
        };
        let fh: fs.promises.FileHandle | undefined;
        const startOffset = offset;
        try {
            const headers: Record<string, string> = {...opts.headers, "accept-encoding": "identity"};
            if (offset > 0) headers.range = `bytes=${offset}-`;
            requests++;
            armStall();
            let res: Response;
            try {
                res = await doFetch(spec.url, {headers, signal: attemptCtl.signal, redirect: "follow"});
            } catch (err) {
                throw attemptCtl.signal.aborted ? attemptCtl.signal.reason : new RetryableError(`request failed: ${(err as Error).message}`, {cause: err});
            }
            if (res.status === 416 && offset > 0) {
                await res.body?.cancel().catch(() => undefined);
                const {total} = parseContentRange(res.headers.get("content-range"));
                if (total != null && total === offset && (expectedSize == null || expectedSize === total)) break;
                log.warn({url: redact(spec.url), offset, total}, "server refused the resume range; restarting the file");
                await fs.promises.truncate(spec.part, 0);
                offset = 0;
                hash = createHash("sha256");
                opts.onRestart?.();
                throw new RetryableError("range not satisfiable");
            }
            if (!res.ok) {
                await res.body?.cancel().catch(() => undefined);
                const s = res.status;
                if (s >= 500 || s === 408 || s === 429) throw new RetryableError(`HTTP ${s}`);
                if (s === 404) throw new DownloadError("not_found", `${redact(spec.url)}: not found (HTTP 404)`, {upstreamStatus: s});
                if (s === 401 || s === 403)
                    throw new DownloadError("upstream", `${redact(spec.url)}: access refused (HTTP ${s}); a gated Hugging Face repo needs HF_TOKEN or downloads.hf_token`, {upstreamStatus: s});
                throw new DownloadError("upstream", `${redact(spec.url)}: HTTP ${s}`, {upstreamStatus: s});
            }
            if (!res.body) throw new RetryableError("response without a body");
            if (offset > 0 && res.status === 200) {
                // The server ignored Range: the body is the whole file.
                log.warn({url: redact(spec.url), offset}, "server ignored the Range header; restarting the file from byte 0");
                offset = 0;
                hash = createHash("sha256");
                opts.onRestart?.();
            }
            let total: number | null = null;
            if (res.status === 206) {
                const cr = parseContentRange(res.headers.get("content-range"));
                if (cr.start !== offset) throw new DownloadError("upstream", `server resumed at byte ${cr.start ?? "?"} instead of ${offset}`);
                total = cr.total;
            } else {
                const len = res.headers.get("content-length");
                total = len != null && /^\d+$/.test(len) ? Number(len) : null;
            }
            if (total == null) {
                const linked = res.headers.get("x-linked-size");
                if (linked && /^\d+$/.test(linked)) total = Number(linked);
            }
            if (expectedSize != null && total != null && total !== expectedSize)
                throw new DownloadError("upstream", `${redact(spec.url)}: server reports ${total} bytes, expected ${expectedSize}; the file changed upstream or the mirror is inconsistent`);
            if (expectedSize == null && total != null) expectedSize = total;
            if (expectedSha == null) expectedSha = shaFromHeaders(res.headers);
            // Every attempt: free space may have shrunk while this one waited to retry.
            await opts.beforeWrite?.(expectedSize, offset);
            await fs.promises.mkdir(path.dirname(spec.part), {recursive: true});
            fh = await fs.promises.open(spec.part, offset === 0 ? "w" : "a");
            opts.onProgress?.(offset, expectedSize);
            for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
                armStall();
                if (expectedSize != null && offset + chunk.byteLength > expectedSize)
                    throw new DownloadError("upstream", `${redact(spec.url)}: server sent more than the expected ${expectedSize} bytes`);
                for (let written = 0; written < chunk.byteLength;)
                    written += (await fh.write(chunk, written, chunk.byteLength - written)).bytesWritten;
                hash.update(chunk);
                offset += chunk.byteLength;
                opts.onProgress?.(offset, expectedSize);
            }
            await fh.close();
            fh = undefined;
            if (expectedSize != null && offset < expectedSize) throw new RetryableError(`connection closed at byte ${offset} of ${expectedSize}`);
            break;
        } catch (err) {
            const reason = attemptCtl.signal.aborted ? attemptCtl.signal.reason : undefined;
            if (signal?.aborted) throw signal.reason;
            if (isAbortReason(err)) throw err;
            if ((err as NodeJS.ErrnoException).code === "ENOSPC")
                throw new DownloadError("insufficient_storage", `the disk filled up while writing ${spec.part}; free some space and start the download again to resume`, {cause: err});
            if (err instanceof DownloadError) throw err;
            const retryable = err instanceof RetryableError || reason instanceof StallError || err instanceof TypeError || (err as Error).name === "AbortError";
            if (!retryable) throw err;
            failures = offset > startOffset ? 1 : failures + 1;
            const why = reason instanceof StallError ? reason.message : (err as Error).message;
            if (failures > opts.retries)
                throw new DownloadError("upstream", `${redact(spec.url)}: giving up after ${opts.retries} retries (${why}); start it again to resume from byte ${offset}`, {cause: err});
            log.warn({url: redact(spec.url), offset, attempt: failures, reason: why}, "download interrupted; retrying");
            await sleep(retryDelay(failures), signal);
        } finally {
            clearTimeout(stallTimer);
            signal?.removeEventListener("abort", onOuterAbort);
            await fh?.close().catch(() => undefined);
        }
    }

    opts.onPhase?.("verifying");
    if (expectedSize != null && offset !== expectedSize)
        throw new DownloadError("upstream", `${redact(spec.url)}: got ${offset} bytes, expected ${expectedSize}`);
    const digest = hash.digest("hex");
    if (expectedSha != null && digest !== expectedSha) {
        throw new DownloadError("checksum",
            `sha256 mismatch for ${path.basename(spec.dest)}: expected ${expectedSha}, got ${digest}. The bytes are kept in ${spec.part} for inspection; starting the download again replaces them.`);
    }
    await fs.promises.rename(spec.part, spec.dest);
    return {size: offset, sha256: digest, resumedFrom, requests};
}
