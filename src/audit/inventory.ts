import fs from "node:fs";
import path from "node:path";
import type {ProviderConfig} from "../config/load.js";
import {isGgufName, isProjectorName, PARTIAL_SUFFIXES} from "../download/names.js";
import type {Logger} from "../log/logger.js";
import {silentLogger} from "../log/logger.js";
import type {ExternalModel, ModelEntry, ModelSource} from "../registry/types.js";
import {type AdoptedModel, discoverExternalModels, type SourceEnvironment} from "../sources/index.js";

/** One physical file the audit knows about (hard links and symlinks to the same bytes are one file). */
export interface AuditFile {
    /** The path shown and acted on: a non-link path, models_dir first. */
    path: string;
    /** Every other path that reaches the same bytes. */
    aliases: string[];
    size: number;
    mtime_ms: number;
    source: ModelSource;
    read_only: boolean;
    role: "model" | "projector";
    /** Names of the index models that use this file. */
    models: string[];
    pinned: boolean;
    /** The index says the file is not a usable GGUF. */
    invalid_reason: string | null;
    /** A content hash the store itself guarantees (Ollama and HF blobs are named by their sha256). */
    known_sha256: string | null;
    /** `org/repo` for Hugging Face cache files (the advice names it). */
    repo: string | null;
}

export interface PartialFile {
    path: string;
    size: number;
    mtime_ms: number;
}

export interface Inventory {
    files: AuditFile[];
    partials: PartialFile[];
    /** Ollama names per blob path, so advice can list every tag that must go before the blob is freed. */
    ollamaNames: Map<string, string[]>;
    warnings: string[];
}

export interface InventoryOptions {
    logger?: Logger;
    /** Models of the other stores; discovered with `discoverExternalModels` when omitted. */
    external?: Array<ExternalModel | AdoptedModel>;
    envOpts?: SourceEnvironment;
}

function caseKey(p: string): string {
    return process.platform === "win32" ? p.toLowerCase() : p;
}

async function walkModelsDir(root: string, warnings: string[]): Promise<{ggufs: string[]; partials: string[]}> {
    const ggufs: string[] = [];
    const partials: string[] = [];
    const walk = async (dir: string, depth: number): Promise<void> => {
        let entries: fs.Dirent[];
        try {
            entries = await fs.promises.readdir(dir, {withFileTypes: true});
        } catch (err) {
            if (depth > 0) warnings.push(`${dir}: cannot list (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
            return;
        }
        for (const e of entries) {
            const full = path.join(dir, e.name);
            if (e.isDirectory()) {
                // Hidden folders are not scanned by the registry either; the depth bound stops deep trees.
                if (!e.name.startsWith(".") && depth < 8) await walk(full, depth + 1);
            } else if (e.isFile() || e.isSymbolicLink()) {
                const lower = e.name.toLowerCase();
                if (PARTIAL_SUFFIXES.some((s) => lower.endsWith(s))) partials.push(full);
                else if (isGgufName(e.name)) ggufs.push(full);
            }
        }
    };
    await walk(root, 0);
    return {ggufs, partials};
}

function blobSha(p: string, source: ModelSource): string | null {
    const base = path.basename(p);
    if (source === "ollama") {
        const m = /^sha256[-:]([0-9a-f]{64})$/.exec(base);
        return m ? m[1]! : null;
    }
    if (source === "huggingface") return /^[0-9a-f]{64}$/.test(base) ? base : null;
    return null;
}

/**
 * Everything on disk the audit may reason about: GGUF files in models_dir (walked, so files the index skipped
 * still count), the files of every index model, the other stores' files, and partial downloads in models_dir.
 * Files are merged by identity (device + inode, else real path), so a link is never its own duplicate.
 */
export async function collectInventory(config: ProviderConfig, models: ModelEntry[], opts: InventoryOptions = {}): Promise<Inventory> {
    const logger = opts.logger ?? silentLogger;
    const warnings: string[] = [];
    const byId = new Map<string, AuditFile>();
    const ollamaNames = new Map<string, string[]>();

    const add = async (p: string, source: ModelSource, info: {role?: AuditFile["role"]; model?: string; pinned?: boolean; invalid?: string | null; repo?: string | null}): Promise<void> => {
        let st: fs.Stats;
        let lst: fs.Stats;
        let real: string;
        let ident: fs.BigIntStats;
        try {
            st = await fs.promises.stat(p);
            // Windows file ids are 64-bit: as numbers they could collide and merge two different files.
            ident = await fs.promises.stat(p, {bigint: true});
            lst = await fs.promises.lstat(p);
            real = await fs.promises.realpath(p);
        } catch (err) {
            warnings.push(`${p}: cannot stat (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
            return;
        }
        if (!st.isFile()) return;
        const id = ident.ino !== 0n ? `${ident.dev}:${ident.ino}` : caseKey(real);
        let f = byId.get(id);
        if (!f) {
            f = {
                path: p, aliases: [], size: st.size, mtime_ms: st.mtimeMs, source, read_only: source !== "models_dir",
                role: info.role ?? (isProjectorName(p) ? "projector" : "model"), models: [], pinned: false,
                invalid_reason: null, known_sha256: blobSha(real, source), repo: info.repo ?? null
            };
            byId.set(id, f);
        } else if (caseKey(f.path) !== caseKey(p)) {
            // Prefer a models_dir path, and a real file over a link, as the one shown and acted on.
            const better = (f.source !== "models_dir" && source === "models_dir") || (f.source === source && !lst.isSymbolicLink() && (await fs.promises.lstat(f.path).catch(() => lst)).isSymbolicLink());
            if (better) {
                f.aliases.push(f.path);
                f.path = p;
                f.source = source;
                f.read_only = source !== "models_dir";
            } else if (!f.aliases.some((a) => caseKey(a) === caseKey(p))) {
                f.aliases.push(p);
            }
            // A file reachable from a read-only store is read-only, whatever else links to it.
            if (source !== "models_dir") f.read_only = true;
            f.known_sha256 ??= blobSha(real, source);
        }
        if (info.role === "projector") f.role = "projector";
        if (info.model && !f.models.includes(info.model)) f.models.push(info.model);
        if (info.pinned) f.pinned = true;
        if (info.invalid) f.invalid_reason = info.invalid;
        if (info.repo) f.repo ??= info.repo;
    };

    const walked = await walkModelsDir(config.paths.models, warnings);
    for (const p of walked.ggufs) await add(p, "models_dir", {});

    for (const m of models) {
        const invalid = m.status === "invalid" ? m.reason ?? "invalid GGUF" : null;
        for (const p of m.files) await add(p, m.source, {role: "model", model: m.name, pinned: m.pinned, invalid});
        if (m.projector) await add(m.projector, m.source, {role: "projector", model: m.name, pinned: m.pinned});
    }

    let external = opts.external;
    if (!external) {
        try {
            external = await discoverExternalModels(config, logger, opts.envOpts);
        } catch (err) {
            warnings.push(`external stores: ${(err as Error).message}`);
            external = [];
        }
    }
    for (const e of external) {
        const repo = "repo" in e && typeof e.repo === "string" ? e.repo : null;
        for (const p of e.files) {
            await add(p, e.source, {role: "model", model: e.name, repo});
            if (e.source === "ollama") ollamaNames.set(caseKey(p), [...(ollamaNames.get(caseKey(p)) ?? []), e.name]);
        }
        if (e.projector) {
            await add(e.projector, e.source, {role: "projector", model: e.name, repo});
            if (e.source === "ollama") ollamaNames.set(caseKey(e.projector), [...(ollamaNames.get(caseKey(e.projector)) ?? []), e.name]);
        }
    }

    const partials: PartialFile[] = [];
    for (const p of walked.partials) {
        try {
            const st = await fs.promises.lstat(p);
            if (st.isFile()) partials.push({path: p, size: st.size, mtime_ms: st.mtimeMs});
        } catch {
            // vanished between listing and stat: a download just finished
        }
    }
    for (const w of warnings) logger.debug({warning: w}, "audit inventory");
    return {files: [...byId.values()], partials, ollamaNames, warnings};
}

export function ollamaNamesFor(inv: Inventory, f: AuditFile): string[] {
    const names = new Set<string>();
    for (const p of [f.path, ...f.aliases]) for (const n of inv.ollamaNames.get(caseKey(p)) ?? []) names.add(n);
    return [...names].sort();
}
