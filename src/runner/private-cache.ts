/**
 * Small JSON files a runner keeps between starts to skip work whose answer it has seen before (the binary test,
 * chat-wrapper resolution). They hold verdicts, not user data: losing one only means the work is done again.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {userCacheDir} from "../config/home.js";

/**
 * Where the caches live: ZOMBIECODER_CACHE_DIR, else the per-user cache folder (userCacheDir: it survives a restart,
 * where the OS's temporary folder may not), else this user's folder in the OS's temporary folder.
 */
export function defaultCacheDirs(env: NodeJS.ProcessEnv = process.env): string[] {
    const dirs: string[] = [];
    if (env.ZOMBIECODER_CACHE_DIR && path.isAbsolute(env.ZOMBIECODER_CACHE_DIR)) dirs.push(env.ZOMBIECODER_CACHE_DIR);
    try {
        dirs.push(userCacheDir({platform: process.platform, env}));
    } catch {
        // no home folder to be found: the temporary folder below
    }
    const uid = process.getuid?.();
    const who = uid != null ? String(uid) : os.userInfo().username.replace(/[^A-Za-z0-9_.-]/g, "_");
    dirs.push(path.join(os.tmpdir(), `zombiecoder-${who}`));
    return dirs;
}

/** `dir` made (or found) private to this user, or false: an entry written by someone else could make a runner skip a check. */
function privateDir(dir: string): boolean {
    try {
        fs.mkdirSync(dir, {recursive: true, mode: 0o700});
        const uid = process.getuid?.();
        const st = fs.statSync(dir);
        return !(uid != null && (st.uid !== uid || (st.mode & 0o022) !== 0));
    } catch {
        return false;
    }
}

/** A file in the first of `dirs` that is private to this user (machine-local, as the verdicts are), or null. */
export function privateCacheFile(name: string, dirs: string[] = defaultCacheDirs()): string | null {
    for (const dir of dirs) if (privateDir(dir)) return path.join(dir, name);
    return null;
}

interface EntriesFile<V> {
    format: number;
    entries: Record<string, V>;
}

/**
 * Entries by key in one JSON file, read on each lookup (another runner may have written it meanwhile) and replaced
 * whole on each write. A file of another format, or one that cannot be read, holds nothing. At most `limit`
 * entries are kept, the oldest written dropped first.
 */
export class KeyedCacheFile<V> {
    constructor(private readonly file: string, private readonly format: number, private readonly limit = 256) {}

    private read(): Record<string, V> {
        try {
            const data = JSON.parse(fs.readFileSync(this.file, "utf8")) as Partial<EntriesFile<V>>;
            if (data.format === this.format && data.entries != null && typeof data.entries === "object") return data.entries;
        } catch {
            // missing or unreadable: nothing is known
        }
        return {};
    }

    get(key: string): V | undefined {
        const entries = this.read();
        return Object.hasOwn(entries, key) ? entries[key] : undefined;
    }

    /** A failure to write (read-only folder, full disk) only means the work is done again next time. */
    set(key: string, value: V): void {
        try {
            const entries = this.read();
            delete entries[key];
            entries[key] = value;
            const keys = Object.keys(entries);
            for (const k of keys.slice(0, Math.max(0, keys.length - this.limit))) delete entries[k];
            const tmp = `${this.file}.${process.pid}.tmp`;
            fs.writeFileSync(tmp, JSON.stringify({format: this.format, entries} satisfies EntriesFile<V>), {mode: 0o600});
            fs.renameSync(tmp, this.file);
        } catch {
            // the cache is an optimisation
        }
    }
}
