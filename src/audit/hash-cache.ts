import {randomBytes} from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type {ProviderConfig} from "../config/load.js";

interface Entry {
    size: number;
    mtime_ms: number;
    sha256: string;
}

interface CacheFile {
    version: 1;
    entries: Record<string, Entry>;
}

/** The cache lives with the logs: machine-local, git-ignored, and safe to delete (it only costs re-hashing). */
export function hashCachePath(config: Pick<ProviderConfig, "paths">): string {
    return path.join(config.paths.logs, "hash-cache.json");
}

function key(file: string): string {
    const p = path.resolve(file);
    return process.platform === "win32" ? p.toLowerCase() : p;
}

/**
 * sha256 per file, valid while the file's size and mtime are unchanged: hashing a 20 GB model takes a minute, so
 * the audit hashes each file once and the download records the hash it already verified.
 */
export class HashCache {
    private dirty = false;

    private constructor(readonly file: string, private readonly entries: Map<string, Entry>) {}

    static async load(file: string): Promise<HashCache> {
        const entries = new Map<string, Entry>();
        try {
            const parsed = JSON.parse(await fs.promises.readFile(file, "utf8")) as Partial<CacheFile>;
            if (parsed && parsed.version === 1 && parsed.entries && typeof parsed.entries === "object") {
                for (const [k, v] of Object.entries(parsed.entries)) {
                    if (v && typeof v.size === "number" && typeof v.mtime_ms === "number" && typeof v.sha256 === "string" && /^[0-9a-f]{64}$/.test(v.sha256))
                        entries.set(k, v);
                }
            }
        } catch {
            // missing or corrupt cache: start empty, it is only a cache
        }
        return new HashCache(file, entries);
    }

    get(file: string, size: number, mtimeMs: number): string | null {
        const e = this.entries.get(key(file));
        return e && e.size === size && e.mtime_ms === mtimeMs ? e.sha256 : null;
    }

    set(file: string, size: number, mtimeMs: number, sha256: string): void {
        this.entries.set(key(file), {size, mtime_ms: mtimeMs, sha256: sha256.toLowerCase()});
        this.dirty = true;
    }

    delete(file: string): void {
        if (this.entries.delete(key(file))) this.dirty = true;
    }

    get size(): number {
        return this.entries.size;
    }

    /** Writes atomically (temp file + rename) so a crash never leaves half a cache. */
    async save(): Promise<void> {
        if (!this.dirty) return;
        await fs.promises.mkdir(path.dirname(this.file), {recursive: true});
        const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
        const out: CacheFile = {version: 1, entries: Object.fromEntries(this.entries)};
        await fs.promises.writeFile(tmp, JSON.stringify(out));
        await fs.promises.rename(tmp, this.file);
        this.dirty = false;
    }
}

let recordQueue: Promise<void> = Promise.resolve();

/**
 * Records one verified hash (a finished download) without keeping a cache object around. Calls in this process are
 * serialised so two downloads finishing together do not drop each other's entry.
 */
export function recordVerifiedHash(cacheFile: string, file: string, sha256: string): Promise<void> {
    const run = async (): Promise<void> => {
        const st = await fs.promises.stat(file);
        const cache = await HashCache.load(cacheFile);
        cache.set(file, st.size, st.mtimeMs, sha256);
        await cache.save();
    };
    const p = recordQueue.then(run, run);
    recordQueue = p.catch(() => undefined);
    return p;
}
