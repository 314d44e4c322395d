import fs from "node:fs";
import type {Logger} from "../log/logger.js";
import {lockOf, partOf} from "./files.js";
import {type JobRecord, updateTotals} from "./job.js";
import {lockIsLive} from "./lock.js";
import type {KeptPart} from "./types.js";

/**
 * Removes a finished job's `.part` files, except those someone else now writes: a newer job of the same file
 * (`activeParts`: queued or running here) or a live lock (a running job here, or `npm run pull` in another
 * process). An old job's id must never be a way to pull the file out from under the download that resumed from it.
 */
export async function deleteParts(r: JobRecord, activeParts: ReadonlySet<string>, log: Logger): Promise<KeptPart[]> {
    // This job's own lock is still held while its run winds down; it does not protect the part from this job.
    const own = new Set(r.locks.map((l) => l.path));
    const kept: KeptPart[] = [];
    for (const f of r.snap.files) {
        if (f.done) continue;
        const part = partOf(f.path);
        const lock = lockOf(part);
        let reason: string | null = null;
        if (activeParts.has(part)) reason = "a newer download of the same file is using it";
        else if (!own.has(lock) && lockIsLive(lock)) reason = `another download holds its lock (${lock})`;
        if (reason) {
            kept.push({path: part, reason});
            log.warn({id: r.snap.id, part, reason}, "kept a .part the request asked to delete");
            continue;
        }
        await fs.promises.rm(part, {force: true});
        f.downloaded_bytes = 0;
    }
    updateTotals(r);
    return kept;
}
