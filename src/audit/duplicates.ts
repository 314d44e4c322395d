import path from "node:path";
import type {ModelSource} from "../registry/types.js";
import {sha256File} from "./hash.js";
import type {HashCache} from "./hash-cache.js";
import type {AuditFile} from "./inventory.js";

export interface HashProgress {
    phase: "hashing";
    file: string;
    file_bytes: number;
    file_size: number;
    /** Bytes hashed so far over all files that need hashing. */
    done_bytes: number;
    total_bytes: number;
    files_done: number;
    files_total: number;
}

export interface DuplicateGroup {
    sha256: string;
    size_bytes: number;
    keep: AuditFile;
    keep_reason: string;
    /** The other copies, each of which could go without losing the model. */
    others: AuditFile[];
}

export interface DuplicateResult {
    groups: DuplicateGroup[];
    hashed_files: number;
    hashed_bytes: number;
}

const SOURCE_ORDER: ModelSource[] = ["models_dir", "ollama", "lmstudio", "huggingface"];

/**
 * What decides which of identical copies stays, beyond where it lives: whether something refers to the name it is
 * served under, and since when its model has been there. A split model's parts answer for the whole model, so the
 * parts of one copy are all kept, or all offered, together.
 */
export interface KeepFacts {
    /** What refers to the copy's served names (config aliases, a Modelfile, the index before this scan); empty when nothing does. */
    inUse(f: AuditFile): string[];
    /** When the copy's model appeared: its first file's modification time (ms). */
    since(f: AuditFile): number;
}

/** Without any facts: nothing is known to be in use, and each file's own time says how old it is. */
export const NO_KEEP_FACTS: KeepFacts = {inUse: () => [], since: (f) => f.mtime_ms};

/**
 * The order in which copies are kept, first to last: a copy in models_dir (this server owns it), a pinned one, a valid
 * one, one whose served name is in use (deleting it would make that name disappear for whoever calls it), then the
 * older one (a copy is usually the one made later), then the shorter folder path and the name (so the order is total).
 */
export const KEEP_RULE = "of identical copies, the one whose served name is in use (config aliases, a Modelfile, the names the index already had) is kept, then the older one";

function keepScore(f: AuditFile, facts: KeepFacts): number[] {
    return [
        SOURCE_ORDER.indexOf(f.source),
        f.pinned ? 0 : 1,
        f.models.length > 0 && f.invalid_reason == null ? 0 : 1,
        facts.inUse(f).length > 0 ? 0 : 1,
        facts.since(f)
    ];
}

function compareKeep(a: AuditFile, b: AuditFile, facts: KeepFacts): number {
    const sa = keepScore(a, facts);
    const sb = keepScore(b, facts);
    for (let i = 0; i < sa.length; i++) if (sa[i] !== sb[i]) return sa[i]! - sb[i]!;
    // Folder first, then name: the parts of two copies of a split model all keep the same copy.
    const da = path.dirname(a.path);
    const db = path.dirname(b.path);
    if (da !== db) return da.length - db.length || (da < db ? -1 : 1);
    return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

function keepReason(keep: AuditFile, group: AuditFile[], facts: KeepFacts): string {
    if (keep.source === "models_dir") {
        if (keep.pinned) return `kept: in models_dir and used by pinned model ${keep.models.join(", ")}`;
        const local = group.filter((g) => g.source === "models_dir" && g !== keep);
        if (local.length > 0) {
            const used = facts.inUse(keep);
            if (used.length > 0 && local.every((g) => facts.inUse(g).length === 0)) return `kept: its served name is in use (${used.join("; ")})`;
            const since = facts.since(keep);
            if (local.every((g) => facts.since(g) > since))
                return `kept: the older copy (its model is there since ${new Date(since).toISOString().slice(0, 10)})${used.length > 0 ? `; in use: ${used.join("; ")}` : ""}`;
            return keep.models.length > 0 ? `kept: in models_dir, used by ${keep.models.join(", ")}, in the shortest folder path` : "kept: in models_dir, in the shortest folder path";
        }
        return "kept: the copy in models_dir is the one this server owns";
    }
    if (keep.source === "ollama") return "kept: no copy in models_dir; Ollama's copy also serves projects still wired to Ollama";
    return `kept: no copy in models_dir; the ${keep.source} copy is listed first`;
}

/**
 * Identical files by size first, then sha256: only files that share a size with another file are hashed, store
 * blob names stand in for hashes where the store guarantees them, and computed hashes go to the cache (keyed by
 * path, size and mtime) so the next audit reads nothing that did not change.
 */
export async function findDuplicates(files: AuditFile[], opts: {cache: HashCache; onProgress?: (p: HashProgress) => void; signal?: AbortSignal; keep?: KeepFacts}): Promise<DuplicateResult> {
    const facts = opts.keep ?? NO_KEEP_FACTS;
    const bySize = new Map<number, AuditFile[]>();
    for (const f of files) {
        if (f.size === 0) continue;
        const list = bySize.get(f.size) ?? [];
        list.push(f);
        bySize.set(f.size, list);
    }
    const candidates = [...bySize.values()].filter((l) => l.length > 1).flat();
    const hashes = new Map<AuditFile, string>();
    const toHash: AuditFile[] = [];
    for (const f of candidates) {
        const h = f.known_sha256 ?? opts.cache.get(f.path, f.size, f.mtime_ms);
        if (h) hashes.set(f, h);
        else toHash.push(f);
    }
    const total = toHash.reduce((n, f) => n + f.size, 0);
    let done = 0;
    let filesDone = 0;
    for (const f of toHash) {
        const base = done;
        const h = await sha256File(f.path, {
            signal: opts.signal,
            onBytes: (b) => opts.onProgress?.({phase: "hashing", file: f.path, file_bytes: b, file_size: f.size, done_bytes: base + b, total_bytes: total, files_done: filesDone, files_total: toHash.length})
        });
        done = base + f.size;
        filesDone++;
        hashes.set(f, h);
        opts.cache.set(f.path, f.size, f.mtime_ms, h);
        opts.onProgress?.({phase: "hashing", file: f.path, file_bytes: f.size, file_size: f.size, done_bytes: done, total_bytes: total, files_done: filesDone, files_total: toHash.length});
    }
    await opts.cache.save();

    const bySha = new Map<string, AuditFile[]>();
    for (const [f, h] of hashes) {
        const key = `${f.size}:${h}`;
        const list = bySha.get(key) ?? [];
        list.push(f);
        bySha.set(key, list);
    }
    const groups: DuplicateGroup[] = [];
    for (const [key, list] of bySha) {
        if (list.length < 2) continue;
        const sorted = [...list].sort((a, b) => compareKeep(a, b, facts));
        const keep = sorted[0]!;
        groups.push({sha256: key.slice(key.indexOf(":") + 1), size_bytes: keep.size, keep, keep_reason: keepReason(keep, list, facts), others: sorted.slice(1)});
    }
    groups.sort((a, b) => b.size_bytes - a.size_bytes || (a.keep.path < b.keep.path ? -1 : 1));
    return {groups, hashed_files: toHash.length, hashed_bytes: total};
}
