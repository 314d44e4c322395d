import fs from "node:fs";
import {hashCachePath, recordVerifiedHash} from "../audit/hash-cache.js";
import type {ProviderConfig} from "../config/load.js";
import type {Logger} from "../log/logger.js";
import {DownloadError} from "./errors.js";
import {fetchFile} from "./fetch-file.js";
import {lockOf, partOf, sizeOrNull} from "./files.js";
import {hfHeaders, type HfSettings} from "./hf.js";
import {type JobRecord, updateTotals} from "./job.js";
import {acquireLock} from "./lock.js";

export interface TransferContext {
    config: ProviderConfig;
    hf: HfSettings;
    fetch: typeof fetch;
    log: Logger;
    retryDelayMs: (attempt: number) => number;
    stallTimeoutMs: number;
    /** Sends the job's state to its subscribers (`force`: a status or phase change, not just bytes). */
    publish: (r: JobRecord, force: boolean) => void;
    persistSoon: () => void;
    /** Throws when the disk lacks room for `need` more bytes of this job, next to what the other jobs reserve. */
    assertRoom: (need: number, r: JobRecord) => Promise<void>;
}

/**
 * Brings every file of a job into place, one after the other: each under its lock, resumed from its `.part`,
 * fetched with retries and verified by `fetchFile`, and its hash recorded so the audit need not read it again.
 * Throws on the first file that fails (or on the abort of `signal`); the locks it still holds are in `r.locks`
 * for the caller to release.
 */
export async function transferFiles(r: JobRecord, signal: AbortSignal, ctx: TransferContext): Promise<void> {
    const s = r.snap;
    let resumed = 0;
    await fs.promises.mkdir(s.folder, {recursive: true});
    for (let i = 0; i < s.files.length; i++) {
        const f = s.files[i]!;
        if (f.done) continue;
        r.fileIndex = i;
        const part = partOf(f.path);
        const lock = await acquireLock(lockOf(part));
        r.locks.push(lock);
        // The destination may have appeared while queued (another tool, a second request): do not clobber it.
        const existing = await sizeOrNull(f.path);
        if (existing != null) {
            if (f.size_bytes != null && existing !== f.size_bytes)
                throw new DownloadError("conflict", `${f.path} appeared with ${existing} bytes while this download waited; expected ${f.size_bytes}`);
            f.done = true;
            f.downloaded_bytes = existing;
            updateTotals(r);
            continue;
        }
        f.downloaded_bytes = (await sizeOrNull(part)) ?? 0;
        resumed += f.downloaded_bytes;
        s.resumed_from_bytes = resumed;
        updateTotals(r);
        r.samples = [];
        ctx.publish(r, true);
        const url = r.urls[i]!;
        const res = await fetchFile({url, dest: f.path, part, size: f.size_bytes, sha256: f.sha256}, {
            headers: hfHeaders(ctx.hf, url),
            signal,
            retries: ctx.config.downloads.retries,
            retryDelayMs: ctx.retryDelayMs,
            stallTimeoutMs: ctx.stallTimeoutMs,
            fetch: ctx.fetch,
            logger: ctx.log,
            onProgress: (bytes, total) => {
                f.downloaded_bytes = bytes;
                if (f.size_bytes == null && total != null) f.size_bytes = total;
                updateTotals(r);
                ctx.publish(r, false);
                ctx.persistSoon();
            },
            onPhase: (phase) => {
                s.phase = phase;
                s.status = phase === "verifying" ? "verifying" : "downloading";
                ctx.publish(r, true);
            },
            onRestart: () => {
                f.downloaded_bytes = 0;
                updateTotals(r);
            },
            beforeWrite: async (total, onDisk) => {
                // This file's remaining bytes plus those of the job's files still to come.
                const rest = s.files.reduce((n, g, k) => n + (k === i || g.done || g.size_bytes == null ? 0 : g.size_bytes - g.downloaded_bytes), 0);
                await ctx.assertRoom((total == null ? 0 : total - onDisk) + rest, r);
            }
        });
        f.done = true;
        f.verified = true;
        f.sha256 = res.sha256;
        f.size_bytes = res.size;
        f.downloaded_bytes = res.size;
        updateTotals(r);
        await lock.release();
        r.locks.splice(r.locks.indexOf(lock), 1);
        ctx.log.info({id: s.id, file: f.path, bytes: res.size, resumed_from: res.resumedFrom, requests: res.requests}, "download verified and in place");
        await recordVerifiedHash(hashCachePath(ctx.config), f.path, res.sha256)
            .catch((err: unknown) => ctx.log.warn({err: (err as Error).message}, "could not record the verified hash"));
    }
}
