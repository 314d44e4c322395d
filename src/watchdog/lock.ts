import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import {isProcessAlive} from "./process.js";

/** What the lock file holds: enough to tell a live holder from a stale file left by a killed one. */
export interface LockInfo {
    pid: number;
    /** Distinguishes this holder from an earlier process that happened to get the same PID. */
    token: string;
    hostname: string;
    started_at: string;
}

export class LockHeldError extends Error {
    constructor(readonly lockPath: string, readonly holder: LockInfo, what = "watchdog") {
        super(`another ${what} (pid ${holder.pid}, started ${holder.started_at}) holds ${lockPath}; stop it first`);
        this.name = "LockHeldError";
    }
}

export interface LockHandle {
    readonly path: string;
    readonly info: LockInfo;
    /** True while the file on disk is still ours. */
    owned(): boolean;
    /** Removes the file if it is still ours; safe to call twice. */
    release(): void;
}

export interface LockOptions {
    isAlive?: (pid: number) => boolean;
    pid?: number;
    /** An unreadable lock younger than this is assumed to be mid-write by a live holder. */
    unreadableGraceMs?: number;
    /** What holds the lock, for messages ("watchdog", "setup run"); the setup CLI uses the same lock. */
    holder?: string;
}

/** Tokens of locks this process holds, so a second watchdog in the same process is refused too. */
const ownTokens = new Set<string>();

function readLock(file: string): LockInfo | null | "missing" {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return "missing";
        throw err;
    }
    try {
        const v = JSON.parse(text) as Partial<LockInfo>;
        if (typeof v.pid === "number" && Number.isInteger(v.pid) && v.pid > 0 && typeof v.token === "string")
            return {pid: v.pid, token: v.token, hostname: String(v.hostname ?? ""), started_at: String(v.started_at ?? "")};
    } catch {
        // fall through: unreadable
    }
    return null;
}

function isStale(info: LockInfo | null, file: string, opts: Required<Pick<LockOptions, "isAlive" | "pid" | "unreadableGraceMs">>): boolean {
    if (info == null) {
        try {
            return Date.now() - fs.statSync(file).mtimeMs > opts.unreadableGraceMs;
        } catch {
            return true;
        }
    }
    // Our own PID but not one of our tokens: a previous process (container restart) that got the same PID.
    if (info.pid === opts.pid) return !ownTokens.has(info.token);
    return !opts.isAlive(info.pid);
}

/**
 * Takes the single-instance lock, or throws LockHeldError naming the live holder.
 * A lock whose holder is gone is taken over: it is first renamed aside, so that of two processes
 * taking over at once only one wins, and one that renamed a fresh lock by mistake puts it back.
 */
export function acquireLock(lockPath: string, opts: LockOptions = {}): LockHandle {
    const o = {isAlive: opts.isAlive ?? isProcessAlive, pid: opts.pid ?? process.pid, unreadableGraceMs: opts.unreadableGraceMs ?? 10_000};
    const info: LockInfo = {pid: o.pid, token: crypto.randomUUID(), hostname: os.hostname(), started_at: new Date().toISOString()};
    for (let attempt = 0; attempt < 10; attempt++) {
        try {
            const fd = fs.openSync(lockPath, "wx");
            try {
                fs.writeSync(fd, JSON.stringify(info));
            } finally {
                fs.closeSync(fd);
            }
            ownTokens.add(info.token);
            return handle(lockPath, info);
        } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        }
        const current = readLock(lockPath);
        if (current === "missing") continue;
        if (!isStale(current, lockPath, o)) {
            if (current == null) throw new LockHeldError(lockPath, {pid: 0, token: "", hostname: "", started_at: "just now (lock being written)"}, opts.holder);
            throw new LockHeldError(lockPath, current, opts.holder);
        }
        const aside = `${lockPath}.stale-${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
        try {
            fs.renameSync(lockPath, aside);
        } catch (err) {
            if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
            throw err;
        }
        const moved = readLock(aside);
        const movedSame = moved !== "missing" && (moved == null ? current == null : current != null && moved.token === current.token);
        if (!movedSame) {
            // Someone replaced the stale lock between our read and our rename: restore theirs.
            try {
                fs.linkSync(aside, lockPath);
            } catch {
                // A third process already created a new lock; theirs stands.
            }
        }
        fs.rmSync(aside, {force: true});
    }
    throw new Error(`could not take ${lockPath} after several attempts; another ${opts.holder ?? "watchdog"} may be starting at the same time`);
}

function handle(lockPath: string, info: LockInfo): LockHandle {
    let released = false;
    const owned = (): boolean => {
        const cur = readLock(lockPath);
        return cur !== "missing" && cur != null && cur.token === info.token;
    };
    return {
        path: lockPath,
        info,
        owned,
        release() {
            if (released) return;
            released = true;
            ownTokens.delete(info.token);
            try {
                if (owned()) fs.rmSync(lockPath, {force: true});
            } catch {
                // Best effort: a lock left behind is stale and the next watchdog takes it over.
            }
        }
    };
}
