import fs from "node:fs/promises";
import path from "node:path";
import {createHash} from "node:crypto";
import type {ProviderConfig} from "../config/load.js";
import {silentLogger, type Logger} from "../log/logger.js";
import {InvalidGgufError} from "./gguf-header.js";
import {createHeaderReader, type HeaderReading} from "./header-reader.js";
import {deriveName, SPLIT_RE} from "./names.js";
import {parseModelfile} from "./modelfile.js";
import {readIndex, writeIndex} from "./index-file.js";
import type {ExternalModel, GgufMetadata, ModelDefaults, ModelEntry, ModelsIndex, ModelSource} from "./types.js";

export interface ScanOptions {
    logger?: Logger;
    /** The previous index, for incremental rescans; read from the registry file when omitted. */
    previous?: ModelsIndex | null;
    /** Models in other tools' stores (Ollama, LM Studio, the HF cache). */
    external?: () => Promise<ExternalModel[]>;
    /** Write the index file (default true). */
    write?: boolean;
    /** Where headers are read: a child process in the build, this process under the source (`header-reader.ts`). */
    headerReading?: HeaderReading;
}

export interface ScanStats {
    files: number;
    headerReads: number;
    reused: number;
    durationMs: number;
}

export interface ScanResult {
    index: ModelsIndex;
    stats: ScanStats;
    warnings: string[];
}

interface FoundFile {
    absPath: string;
    size: number;
    mtimeMs: number;
}

const MIB = 1024 * 1024;

/** Walks `dir` for .gguf files; symlinks are followed once, and a directory seen before (a loop) is skipped. */
async function walk(dir: string, visited: Set<string>, out: FoundFile[], warnings: string[]): Promise<void> {
    let real: string;
    try {
        real = await fs.realpath(dir);
    } catch (err) {
        warnings.push(`${dir}: cannot resolve (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
        return;
    }
    if (visited.has(real)) {
        warnings.push(`${dir}: symlink loop or repeated folder (already scanned as ${real}); not followed again`);
        return;
    }
    visited.add(real);
    let entries: import("node:fs").Dirent[];
    try {
        entries = await fs.readdir(dir, {withFileTypes: true});
    } catch (err) {
        warnings.push(`${dir}: cannot list (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
        return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
        const full = path.join(dir, e.name);
        let isDir = e.isDirectory();
        let isFile = e.isFile();
        if (e.isSymbolicLink()) {
            try {
                const st = await fs.stat(full);
                isDir = st.isDirectory();
                isFile = st.isFile();
            } catch (err) {
                warnings.push(`${full}: broken symlink (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
                continue;
            }
        }
        if (isDir) {
            if (e.name.startsWith(".")) continue;
            await walk(full, visited, out, warnings);
        } else if (isFile && /\.gguf$/i.test(e.name)) {
            try {
                const st = await fs.stat(full);
                out.push({absPath: full, size: st.size, mtimeMs: st.mtimeMs});
            } catch (err) {
                warnings.push(`${full}: cannot stat (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
            }
        }
    }
}

/** Cheap content fingerprint: never reads more than 2 MiB, whatever the file's size. */
export async function fingerprintFile(absPath: string, size: number, extra: string): Promise<string> {
    const hash = createHash("sha256");
    hash.update(`${size}\n${extra}\n`);
    const fh = await fs.open(absPath, "r");
    try {
        const head = Buffer.alloc(Math.min(MIB, size));
        await fh.read(head, 0, head.length, 0);
        hash.update(head);
        if (size > MIB) {
            const tailLen = Math.min(MIB, size - MIB);
            const tail = Buffer.alloc(tailLen);
            await fh.read(tail, 0, tailLen, size - tailLen);
            hash.update(tail);
        }
    } finally {
        await fh.close();
    }
    return hash.digest("hex");
}

function relToHome(home: string, abs: string): string {
    const rel = path.relative(home, abs);
    return rel.startsWith("..") || path.isAbsolute(rel) ? abs : rel.split(path.sep).join("/");
}

/** Quantizations in the order Ollama users expect the bare name to pick. */
const DEFAULT_QUANT_PREFERENCE = ["q4_k_m", "q4_k_s", "q5_k_m", "q4_0", "q5_k_s", "q5_0", "q6_k", "q8_0", "f16", "bf16", "f32"];

interface Candidate {
    absPath: string;
    files: string[];
    size: number;
    mtimeMs: number;
    source: ModelSource;
    base: string;
    quant: string | null;
    externalName?: string;
    defaults?: ModelDefaults;
    projector?: string | null;
    meta: GgufMetadata | null;
    fingerprint: string;
    invalidReason?: string;
}

/**
 * Scans models_dir (and external stores) and builds the index. Unchanged files (same size and mtime as in the
 * previous index) keep their cached metadata, names and fingerprints, so a rescan reads only what changed.
 */
export async function scanModels(config: ProviderConfig, opts: ScanOptions = {}): Promise<ScanResult> {
    const t0 = performance.now();
    const logger = opts.logger ?? silentLogger;
    const warnings: string[] = [];
    const stats: ScanStats = {files: 0, headerReads: 0, reused: 0, durationMs: 0};
    const previous = opts.previous !== undefined ? opts.previous : await readIndex(config.paths.registry);
    const prevByPath = new Map<string, ModelEntry>();
    for (const m of previous?.models ?? []) prevByPath.set(m.abs_path, m);
    const prevProjectors = new Map((previous?.projectors ?? []).map((p) => [p.abs_path, p]));

    const found: FoundFile[] = [];
    try {
        await fs.mkdir(config.paths.models, {recursive: true});
    } catch (err) {
        warnings.push(`${config.paths.models}: cannot create the models folder (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    await walk(config.paths.models, new Set(), found, warnings);
    stats.files = found.length;

    // group split parts; the first part stands for the model
    const splitGroups = new Map<string, FoundFile[]>();
    const singles: FoundFile[] = [];
    for (const f of found) {
        const m = SPLIT_RE.exec(f.absPath);
        if (m) {
            const key = f.absPath.slice(0, m.index) + `-of-${m[2]}`;
            const group = splitGroups.get(key) ?? [];
            group.push(f);
            splitGroups.set(key, group);
        } else singles.push(f);
    }

    const candidates: Candidate[] = [];
    const projectorFiles: FoundFile[] = [];

    const headers = createHeaderReader(opts.headerReading);
    const readEntry = async (first: FoundFile, files: FoundFile[], source: ModelSource, extra?: Partial<Candidate>): Promise<void> => {
        const size = files.reduce((a, f) => a + f.size, 0);
        const {base, quant} = deriveName(path.basename(first.absPath), path.basename(path.dirname(first.absPath)));
        const cand: Candidate = {
            absPath: first.absPath, files: files.map((f) => f.absPath), size, mtimeMs: first.mtimeMs, source,
            base, quant, meta: null, fingerprint: "", ...extra
        };
        const prev = prevByPath.get(first.absPath);
        if (prev && prev.size_bytes === size && prev.mtime_ms === first.mtimeMs && prev.fingerprint) {
            stats.reused++;
            cand.meta = prev.metadata;
            cand.fingerprint = prev.fingerprint;
            if (prev.status === "invalid") cand.invalidReason = prev.reason ?? "invalid GGUF";
            candidates.push(cand);
            return;
        }
        if (/^mmproj/i.test(path.basename(first.absPath)) && source === "models_dir") {
            projectorFiles.push(first);
            return;
        }
        stats.headerReads++;
        try {
            if (first.size === 0) throw new InvalidGgufError("empty file");
            const {meta, projector, dataEnd} = await headers.read(first.absPath);
            if (projector) {
                projectorFiles.push(first);
                return;
            }
            cand.meta = meta;
            if (meta.split_count > 1 && files.length !== meta.split_count)
                cand.invalidReason = `split model has ${files.length} of ${meta.split_count} parts; the missing parts must be in the same folder`;
            // the header read succeeded; check the file is long enough for its tensors
            if (dataEnd != null && meta.split_count <= 1 && dataEnd > first.size)
                cand.invalidReason = `truncated: tensor data needs ${dataEnd} bytes but the file has ${first.size}; re-download it`;
        } catch (err) {
            cand.invalidReason = err instanceof InvalidGgufError ? err.message : `unreadable: ${(err as Error).message}`;
        }
        try {
            cand.fingerprint = await fingerprintFile(first.absPath, size, cand.meta ? `${cand.meta.architecture}:${cand.meta.file_type}` : "");
        } catch (err) {
            cand.invalidReason ??= `unreadable: ${(err as Error).message}`;
            cand.fingerprint = createHash("sha256").update(`${first.absPath}:${size}`).digest("hex");
        }
        candidates.push(cand);
    };

    try {
        for (const f of singles) {
            const cachedProjector = prevProjectors.get(f.absPath);
            if (cachedProjector && cachedProjector.size_bytes === f.size && cachedProjector.mtime_ms === f.mtimeMs) {
                stats.reused++;
                projectorFiles.push(f);
                continue;
            }
            await readEntry(f, [f], "models_dir");
        }
        for (const group of splitGroups.values()) {
            group.sort((a, b) => (a.absPath < b.absPath ? -1 : 1));
            const first = group[0]!;
            if (!/-00001-of-/i.test(first.absPath)) {
                candidates.push({
                    absPath: first.absPath, files: group.map((f) => f.absPath), size: group.reduce((a, f) => a + f.size, 0),
                    mtimeMs: first.mtimeMs, source: "models_dir", ...deriveName(path.basename(first.absPath), path.basename(path.dirname(first.absPath))),
                    meta: null, fingerprint: createHash("sha256").update(first.absPath).digest("hex"),
                    invalidReason: "split model without its first part (-00001-of-)"
                });
                continue;
            }
            await readEntry(first, group, "models_dir");
        }

        // external stores: read-only, named by the tool that owns them
        if (opts.external) {
            let externals: ExternalModel[] = [];
            try {
                externals = await opts.external();
            } catch (err) {
                warnings.push(`external model sources: ${(err as Error).message}`);
            }
            for (const ext of externals) {
                const files: FoundFile[] = [];
                for (const f of ext.files) {
                    try {
                        const st = await fs.stat(f);
                        files.push({absPath: f, size: st.size, mtimeMs: st.mtimeMs});
                    } catch (err) {
                        warnings.push(`${f} (${ext.source} ${ext.name}): cannot stat (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
                    }
                }
                if (files.length === 0) continue;
                await readEntry(files[0]!, files, ext.source, {externalName: ext.name, defaults: ext.defaults, projector: ext.projector ?? null});
            }
        }
    } finally {
        // the child, if one was started, exits now and takes node-llama-cpp's memory with it
        headers.close();
    }

    // Modelfiles beside the GGUFs set per-folder defaults
    const modelfileCache = new Map<string, ModelDefaults | null>();
    const modelfileFor = async (dir: string): Promise<ModelDefaults | null> => {
        if (modelfileCache.has(dir)) return modelfileCache.get(dir)!;
        let result: ModelDefaults | null = null;
        try {
            const text = await fs.readFile(path.join(dir, "Modelfile"), "utf8");
            const parsed = parseModelfile(text);
            for (const w of parsed.warnings) warnings.push(`${path.join(dir, "Modelfile")}: ${w}`);
            result = parsed.defaults;
        } catch {
            result = null;
        }
        modelfileCache.set(dir, result);
        return result;
    };

    const models = await assignNames(config, candidates, prevByPath, modelfileFor);

    // projectors attach to the models in their folder
    const projectors: ModelsIndex["projectors"] = [];
    for (const p of projectorFiles) {
        const dir = path.dirname(p.absPath);
        const owners = models.filter((m) => m.source === "models_dir" && m.status !== "invalid" && path.dirname(m.abs_path) === dir);
        for (const o of owners) o.projector ??= p.absPath;
        projectors.push({path: relToHome(config.home, p.absPath), abs_path: p.absPath, size_bytes: p.size, mtime_ms: p.mtimeMs, model: owners[0]?.name ?? null});
    }

    const index: ModelsIndex = {
        version: 1,
        generated_at: new Date().toISOString(),
        home: config.home,
        models_dir: config.paths.models,
        models,
        projectors
    };
    if (opts.write !== false) await writeIndex(config.paths.registry, index);
    stats.durationMs = performance.now() - t0;
    for (const w of warnings) logger.warn({warning: w}, "scan warning");
    logger.info({models: models.length, headerReads: stats.headerReads, reused: stats.reused, ms: Math.round(stats.durationMs)}, "model scan finished");
    return {index, stats, warnings};
}

async function assignNames(config: ProviderConfig, candidates: Candidate[], prevByPath: Map<string, ModelEntry>,
    modelfileFor: (dir: string) => Promise<ModelDefaults | null>): Promise<ModelEntry[]> {
    const taken = new Set<string>();
    const named = new Map<Candidate, string>();
    // 1. names from the previous index stay, so a new file never renames an existing model
    const ordered = [...candidates].sort((a, b) => (a.absPath < b.absPath ? -1 : a.absPath > b.absPath ? 1 : 0));
    for (const c of ordered) {
        const prev = prevByPath.get(c.absPath);
        if (prev && !taken.has(prev.name)) {
            named.set(c, prev.name);
            taken.add(prev.name);
        }
    }
    // 2. models_dir files: the preferred quantization of each base gets the bare name, the rest `base:quant`
    const local = ordered.filter((c) => c.source === "models_dir" && !named.has(c));
    const rank = (c: Candidate) => {
        const q = c.quant ?? c.meta?.quantization.toLowerCase() ?? "";
        const i = DEFAULT_QUANT_PREFERENCE.indexOf(q);
        return (c.invalidReason ? 1000 : 0) + (i === -1 ? DEFAULT_QUANT_PREFERENCE.length : i);
    };
    local.sort((a, b) => rank(a) - rank(b) || (a.absPath < b.absPath ? -1 : 1));
    const unique = (wanted: string) => {
        let name = wanted;
        for (let i = 2; taken.has(name); i++) name = `${wanted}-${i}`;
        taken.add(name);
        return name;
    };
    for (const c of local) {
        const quant = c.quant ?? c.meta?.quantization.toLowerCase() ?? null;
        if (!taken.has(c.base)) named.set(c, unique(c.base));
        else named.set(c, unique(quant ? `${c.base}:${quant}` : c.base));
    }
    // 3. other stores keep their own names when free
    for (const c of ordered.filter((x) => x.source !== "models_dir" && !named.has(x))) {
        const wanted = c.externalName ?? c.base;
        named.set(c, taken.has(wanted) ? unique(`${c.source}/${wanted}`) : unique(wanted));
    }

    const entries: ModelEntry[] = [];
    for (const c of ordered) {
        const name = named.get(c)!;
        const override = config.models[name] ?? {};
        const quantTag = (c.quant ?? c.meta?.quantization ?? "").toLowerCase();
        const baseName = c.externalName ? name.replace(/:[^:/]*$/, "") : c.base;
        const defaults = c.source === "models_dir" ? await modelfileFor(path.dirname(c.absPath)) : c.defaults ?? null;
        const entry: ModelEntry = {
            name,
            path: relToHome(config.home, c.absPath),
            abs_path: c.absPath,
            files: c.files,
            size_bytes: c.size,
            status: c.invalidReason ? "invalid" : "unloaded",
            keep_loaded: override.keep_loaded ?? config.keep_loaded_default,
            pinned: override.pinned ?? false,
            aliases: override.aliases ?? [],
            source: c.source,
            read_only: c.source !== "models_dir",
            projector: c.projector ?? null,
            fingerprint: c.fingerprint,
            modified_at: new Date(c.mtimeMs).toISOString(),
            mtime_ms: c.mtimeMs,
            quant_tag: quantTag,
            base_name: baseName,
            metadata: c.meta
        };
        if (c.invalidReason) entry.reason = c.invalidReason;
        if (defaults) entry.defaults = defaults;
        entries.push(entry);
    }
    return entries;
}
