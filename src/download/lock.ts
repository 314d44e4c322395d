import fs from "node:fs";
import os from "node:os";
import {DownloadError} from "./errors.js";

/** Locks this process holds, so a second manager in the same process is refused but a stale lock of ours is not. */
const heldHere = new Set<string>();

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (err) {
        // EPERM: the process exists but belongs to someone else.
        return (err as NodeJS.ErrnoException).code === "EPERM";
    }
}

export interface FileLock {
    path: string;
    release(): Promise<void>;
}

/**
 * An exclusive lock file next to a partial download, so `npm run pull` and a running server never append to the
 * same `.part` at once. A lock left by a dead process (crash, power loss) is taken over.
 */
export async function acquireLock(lockPath: string): Promise<FileLock> {
    if (heldHere.has(lockPath)) throw new DownloadError("conflict", `this file is already being downloaded (${lockPath})`);
    // Two tries: the second after removing a stale lock.
    for (let attempt = 0; attempt < 2; attempt++) {
        try {
            const fh = await fs.promises.open(lockPath, "wx");
            await fh.writeFile(JSON.stringify({pid: process.pid, host: os.hostname(), since: new Date().toISOString()}));
            await fh.close();
            heldHere.add(lockPath);
            return {
                path: lockPath,
                release: async () => {
                    heldHere.delete(lockPath);
                    await fs.promises.rm(lockPath, {force: true});
                }
            };
        } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
            let holder: {pid?: unknown; host?: unknown} = {};
            try {
                holder = JSON.parse(await fs.promises.readFile(lockPath, "utf8")) as typeof holder;
            } catch {
                // unreadable or half-written lock: treat as stale
            }
            const pid = typeof holder.pid === "number" ? holder.pid : null;
            const sameHost = holder.host == null || holder.host === os.hostname();
            const stale = pid == null || (sameHost && (pid === process.pid ? !heldHere.has(lockPath) : !alive(pid)));
            if (!stale || attempt > 0)
                throw new DownloadError("conflict", `another process (pid ${pid ?? "?"}) is downloading this file; wait for it or stop it (lock ${lockPath})`);
            await fs.promises.rm(lockPath, {force: true});
        }
    }
    throw new DownloadError("conflict", `cannot lock ${lockPath}`);
}

/** Whether a lock file belongs to a live process other than a stale one: used by the audit to skip active parts. */
export function lockIsLive(lockPath: string): boolean {
    try {
        const holder = JSON.parse(fs.readFileSync(lockPath, "utf8")) as {pid?: unknown; host?: unknown};
        if (typeof holder.pid !== "number") return false;
        if (holder.host != null && holder.host !== os.hostname()) return true;
        return holder.pid === process.pid ? heldHere.has(lockPath) : alive(holder.pid);
    } catch {
        return false;
    }
}
