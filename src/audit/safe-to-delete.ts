import {createHmac, randomBytes, timingSafeEqual} from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type {ProviderConfig} from "../config/load.js";
import {lockIsLive} from "../download/lock.js";
import {isInside, isProjectorName} from "../download/names.js";
import type {Logger} from "../log/logger.js";
import {silentLogger} from "../log/logger.js";
import type {ExternalModel, ModelEntry, ModelSource} from "../registry/types.js";
import {type AdoptedModel, sourceDirs, type SourceEnvironment} from "../sources/index.js";
import {findDuplicates, KEEP_RULE, type HashProgress, type KeepFacts} from "./duplicates.js";
import {HashCache, hashCachePath} from "./hash-cache.js";
import {type AuditFile, collectInventory, ollamaNamesFor} from "./inventory.js";
import {hasGgufMagic} from "../sources/read.js";

export type CandidateReason = "duplicate" | "orphan_part" | "invalid_gguf" | "unused_projector";

export interface SafeToDeleteCandidate {
    path: string;
    size_bytes: number;
    mtime_ms: number;
    reason: CandidateReason;
    /** One sentence for the user: why it can go, and what stays. */
    detail: string;
    /** Index models that use this path (they disappear from the list; for a duplicate, the kept copy stays). */
    models: string[];
    /** For a duplicate: the copy that stays. */
    kept: {path: string; source: ModelSource; size_bytes: number; mtime_ms: number} | null;
}

/** A duplicate inside a store this server never writes to: reported with the tool that removes it. */
export interface ExternalAdvice {
    path: string;
    size_bytes: number;
    source: Exclude<ModelSource, "models_dir">;
    models: string[];
    duplicate_of: string;
    command: string;
    detail: string;
}

export interface SafeToDeleteReport {
    generated_at: string;
    expires_at: string;
    /** Echo it, with the exact paths chosen, to delete: nothing is deleted without it. */
    token: string;
    models_dir: string;
    candidates: SafeToDeleteCandidate[];
    advice: ExternalAdvice[];
    duplicates: Array<{sha256: string; size_bytes: number; keep: string; keep_reason: string; copies: string[]}>;
    reclaimable_bytes: number;
    hashed_files: number;
    hashed_bytes: number;
    warnings: string[];
}

export interface AuditOptions {
    logger?: Logger;
    onProgress?: (p: HashProgress) => void;
    signal?: AbortSignal;
    external?: Array<ExternalModel | AdoptedModel>;
    /** `.part` files of downloads that are queued or running (DownloadManager.activePartPaths()). */
    activeParts?: string[];
    now?: number;
    /** How long the token stays valid (default 15 minutes). */
    ttlMs?: number;
    envOpts?: SourceEnvironment;
    /**
     * The names the index served before the scan that produced `models` (setup reads them before it rescans): a copy
     * that still holds one of them is the copy clients know, and the one kept.
     */
    existingNames?: ReadonlySet<string>;
}

/** Thrown by deleteApproved; `status` is the HTTP answer (400 bad request, 403 token, 409 changed since listing). */
export class AuditError extends Error {
    constructor(readonly status: number, message: string) {
        super(message);
        this.name = "AuditError";
    }
}

// Per process: a token from one process (or before a restart) is never accepted by another.
const SECRET = randomBytes(32);
const DEFAULT_TTL_MS = 15 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

function caseKey(p: string): string {
    return process.platform === "win32" ? path.resolve(p).toLowerCase() : path.resolve(p);
}

function canonical(expires: number, candidates: SafeToDeleteCandidate[]): string {
    const rows = candidates.map((c) => [caseKey(c.path), c.size_bytes, c.mtime_ms, c.reason, c.kept ? [caseKey(c.kept.path), c.kept.size_bytes, c.kept.mtime_ms] : null]);
    rows.sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1));
    return JSON.stringify([expires, rows]);
}

/** `<expiry ms>.<hmac>`: binds the token to exactly this list of candidates and their sizes and mtimes. */
export function confirmationToken(candidates: SafeToDeleteCandidate[], expiresAt: number): string {
    const mac = createHmac("sha256", SECRET).update(canonical(expiresAt, candidates)).digest("base64url");
    return `${expiresAt}.${mac}`;
}

export function verifyToken(candidates: SafeToDeleteCandidate[], token: string, now = Date.now()): boolean {
    const m = /^(\d{1,16})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (!m) return false;
    const expires = Number(m[1]);
    if (!(expires > now)) return false;
    const expected = Buffer.from(confirmationToken(candidates, expires));
    const got = Buffer.from(token);
    return expected.length === got.length && timingSafeEqual(expected, got);
}

function adviceFor(f: AuditFile, keep: AuditFile, ollamaNames: string[]): ExternalAdvice {
    const source = f.source as ExternalAdvice["source"];
    let command: string;
    let detail: string;
    const keptWhere = keep.source === "models_dir" ? `${keep.path} (models_dir, served by this server)` : `${keep.path} (${keep.source})`;
    if (source === "ollama") {
        const names = ollamaNames.length > 0 ? ollamaNames : f.models;
        command = `ollama rm ${names.join(" ")}`;
        detail = `Ollama blob identical to ${keptWhere}. Ollama frees the blob only when no model uses it, so remove every name listed. ` +
            `Projects that call Ollama by these names then need the model's name on this server instead.`;
    } else if (source === "huggingface") {
        command = "huggingface-cli delete-cache";
        detail = `Hugging Face cache file identical to ${keptWhere}. Run the command and select ${f.repo ? `models--${f.repo.split("/").join("--")}` : "its repo"} in the list.`;
    } else {
        command = "LM Studio → My Models → delete";
        detail = `LM Studio file identical to ${keptWhere}. Remove it in LM Studio (My Models) so LM Studio's own list stays consistent.`;
    }
    return {path: f.path, size_bytes: f.size, source, models: f.models, duplicate_of: keep.path, command, detail};
}

function days(ms: number): string {
    const d = ms / DAY_MS;
    return d >= 1 ? `${Math.floor(d)} day${Math.floor(d) === 1 ? "" : "s"}` : `${Math.max(1, Math.round(ms / 3600_000))} hour(s)`;
}

/**
 * What refers to each file's served names, and since when its model is there, from the index entries, the config
 * (`models.<name>` overrides and aliases, `default_model`) and the names the index had before this scan.
 */
export function keepFacts(config: Pick<ProviderConfig, "models" | "default_model">, models: readonly ModelEntry[], existingNames?: ReadonlySet<string>): KeepFacts {
    const byName = new Map(models.map((m) => [m.name, m]));
    return {
        inUse(f) {
            const why: string[] = [];
            for (const name of f.models) {
                const m = byName.get(name);
                const override = config.models[name];
                const aliases = [...new Set([...(override?.aliases ?? []), ...(m?.aliases ?? [])])];
                if (aliases.length > 0) why.push(`config aliases ${aliases.map((a) => `"${a}"`).join(", ")} name "${name}"`);
                else if (override) why.push(`the config sets models."${name}"`);
                if (config.default_model === name) why.push(`"${name}" is the config's default_model`);
                if (m?.defaults?.modelfile) why.push(`a Modelfile in its folder configures "${name}"`);
                if (existingNames?.has(name)) why.push(`"${name}" was already in the index`);
            }
            return why;
        },
        since(f) {
            const times = f.models.map((n) => byName.get(n)?.mtime_ms).filter((t): t is number => typeof t === "number");
            return times.length > 0 ? Math.min(...times) : f.mtime_ms;
        }
    };
}

/**
 * The safe-to-delete list: duplicates (size, then sha256; the copy in models_dir is kept), orphaned partial
 * downloads older than downloads.orphan_part_days, invalid GGUF files, and projectors no model uses. Only files in
 * models_dir become candidates; a duplicate in Ollama's store or the Hugging Face cache is reported as advice with
 * the tool that removes it. The last copy of any content is never a candidate. Nothing is deleted here.
 */
export async function buildSafeToDeleteList(config: ProviderConfig, models: ModelEntry[], opts: AuditOptions = {}): Promise<SafeToDeleteReport> {
    const logger = opts.logger ?? silentLogger;
    const now = opts.now ?? Date.now();
    const inv = await collectInventory(config, models, {logger, external: opts.external, envOpts: opts.envOpts});
    const cache = await HashCache.load(hashCachePath(config));
    const dups = await findDuplicates(inv.files, {cache, onProgress: opts.onProgress, signal: opts.signal, keep: keepFacts(config, models, opts.existingNames)});

    const candidates: SafeToDeleteCandidate[] = [];
    const advice: ExternalAdvice[] = [];
    const taken = new Set<string>();
    const push = (c: SafeToDeleteCandidate): void => {
        const k = caseKey(c.path);
        if (taken.has(k)) return;
        taken.add(k);
        candidates.push(c);
    };
    const ownFile = (f: AuditFile): boolean => f.source === "models_dir" && !f.read_only && isInside(config.paths.models, f.path);

    // Invalid files first: "invalid" says more than "duplicate" when both apply.
    for (const f of inv.files) {
        if (!ownFile(f)) continue;
        let reason = f.invalid_reason;
        if (reason == null && f.models.length === 0 && f.role === "model" && !(await hasGgufMagic(f.path, true))) reason = "not a GGUF file (the first bytes are not \"GGUF\")";
        if (reason == null) continue;
        push({
            path: f.path, size_bytes: f.size, mtime_ms: f.mtime_ms, reason: "invalid_gguf", models: f.models, kept: null,
            detail: `invalid GGUF: ${reason}. It cannot be served; delete it, or download it again if it is a broken download.`
        });
    }

    for (const g of dups.groups) {
        for (const f of g.others) {
            if (ownFile(f)) {
                const lost = f.models.filter((m) => !g.keep.models.includes(m));
                push({
                    path: f.path, size_bytes: f.size, mtime_ms: f.mtime_ms, reason: "duplicate", models: f.models,
                    kept: {path: g.keep.path, source: g.keep.source, size_bytes: g.keep.size, mtime_ms: g.keep.mtime_ms},
                    detail: `identical (sha256 ${g.sha256.slice(0, 12)}…) to ${g.keep.path}; ${g.keep_reason}. (The rule: ${KEEP_RULE}.)` +
                        (lost.length > 0 ? ` The name${lost.length > 1 ? "s" : ""} ${lost.join(", ")} will disappear; the same model stays available${g.keep.models.length > 0 ? ` as ${g.keep.models.join(", ")}` : ""}.` : "")
                });
            } else if (f.source !== "models_dir") {
                advice.push(adviceFor(f, g.keep, ollamaNamesFor(inv, f)));
            }
        }
    }

    const active = new Set((opts.activeParts ?? []).map(caseKey));
    const maxAge = config.downloads.orphan_part_days * DAY_MS;
    for (const p of inv.partials) {
        if (active.has(caseKey(p.path)) || lockIsLive(`${p.path}.lock`)) continue;
        const age = now - p.mtime_ms;
        if (age < maxAge) continue;
        push({
            path: p.path, size_bytes: p.size, mtime_ms: p.mtime_ms, reason: "orphan_part", models: [], kept: null,
            detail: `partial download last written ${days(age)} ago (older than downloads.orphan_part_days = ${config.downloads.orphan_part_days}) and no download is using it. ` +
                "Starting the same download again would resume from it instead."
        });
    }

    const usedProjectors = new Set<string>();
    for (const m of models) if (m.projector) usedProjectors.add(caseKey(m.projector));
    // Any model file beside a projector keeps it, even an invalid one: that model may be downloaded again.
    const modelDirs = new Set(inv.files.filter((f) => f.role === "model" && !isProjectorName(f.path)).flatMap((f) => [f.path, ...f.aliases]).map((p) => caseKey(path.dirname(p))));
    for (const f of inv.files) {
        if (!ownFile(f) || !isProjectorName(f.path)) continue;
        if ([f.path, ...f.aliases].some((p) => usedProjectors.has(caseKey(p))) || modelDirs.has(caseKey(path.dirname(f.path)))) continue;
        push({
            path: f.path, size_bytes: f.size, mtime_ms: f.mtime_ms, reason: "unused_projector", models: [], kept: null,
            detail: "multimodal projector with no model in its folder and none that uses it; a projector only works next to its model."
        });
    }

    const expiresAt = now + (opts.ttlMs ?? DEFAULT_TTL_MS);
    const report: SafeToDeleteReport = {
        generated_at: new Date(now).toISOString(),
        expires_at: new Date(expiresAt).toISOString(),
        token: confirmationToken(candidates, expiresAt),
        models_dir: config.paths.models,
        candidates,
        advice,
        duplicates: dups.groups.map((g) => ({sha256: g.sha256, size_bytes: g.size_bytes, keep: g.keep.path, keep_reason: g.keep_reason, copies: g.others.map((o) => o.path)})),
        reclaimable_bytes: candidates.reduce((n, c) => n + c.size_bytes, 0),
        hashed_files: dups.hashed_files,
        hashed_bytes: dups.hashed_bytes,
        warnings: inv.warnings
    };
    logger.info({candidates: candidates.length, advice: advice.length, reclaimable_bytes: report.reclaimable_bytes, hashed_bytes: dups.hashed_bytes}, "safe-to-delete list built");
    return report;
}

export interface DeleteResult {
    deleted: Array<{path: string; size_bytes: number; reason: CandidateReason}>;
    freed_bytes: number;
    failed: Array<{path: string; error: string}>;
}

export interface DeleteOptions {
    logger?: Logger;
    now?: number;
    activeParts?: string[];
    envOpts?: SourceEnvironment;
}

/**
 * Deletes exactly the approved candidates, and only with the token of the listing they came from. Every check
 * runs before the first deletion (all or nothing): the token matches this list and has not expired, each path is
 * one of its candidates, lies in models_dir outside every other tool's store, is a plain file unchanged since the
 * listing (size and mtime), a duplicate's kept copy is still there unchanged, and a partial download is not in use.
 * Each deletion is logged. Throws AuditError (400, 403, 409).
 */
export async function deleteApproved(config: ProviderConfig, candidates: SafeToDeleteCandidate[], approvedPaths: unknown, token: unknown, opts: DeleteOptions = {}): Promise<DeleteResult> {
    const logger = opts.logger ?? silentLogger;
    if (typeof token !== "string" || token === "") throw new AuditError(400, "a confirmation token is required: GET /models/safe-to-delete (or npm run audit) and send its token");
    if (!Array.isArray(approvedPaths) || approvedPaths.length === 0 || !approvedPaths.every((p) => typeof p === "string" && p !== ""))
        throw new AuditError(400, `"paths" must be a non-empty list of candidate paths`);
    if (!verifyToken(candidates, token, opts.now)) throw new AuditError(403, "the confirmation token is invalid or expired, or the list changed; list the candidates again");

    const byKey = new Map(candidates.map((c) => [caseKey(c.path), c]));
    const chosen: SafeToDeleteCandidate[] = [];
    for (const p of approvedPaths as string[]) {
        const c = byKey.get(caseKey(p));
        if (!c) throw new AuditError(400, `not a candidate of this listing: ${p}; nothing was deleted`);
        if (!chosen.includes(c)) chosen.push(c);
    }

    const stores = sourceDirs({...config, import_sources: {...config.import_sources, ollama: true, lmstudio: true, huggingface: true}}, opts.envOpts);
    const storeDirs = [...stores.ollama, ...stores.lmstudio, ...stores.huggingface].filter((d) => !isInside(d, config.paths.models));
    const active = new Set((opts.activeParts ?? []).map(caseKey));
    const modelsReal = await fs.promises.realpath(config.paths.models).catch(() => config.paths.models);
    for (const c of chosen) {
        if (!isInside(config.paths.models, c.path)) throw new AuditError(400, `${c.path} is outside models_dir; nothing was deleted`);
        if (storeDirs.some((d) => isInside(d, c.path))) throw new AuditError(400, `${c.path} lies in another tool's store; remove it with that tool. Nothing was deleted`);
        let st: fs.Stats;
        try {
            st = await fs.promises.lstat(c.path);
        } catch {
            throw new AuditError(409, `${c.path} no longer exists; list the candidates again. Nothing was deleted`);
        }
        if (!st.isFile()) throw new AuditError(409, `${c.path} is not a plain file any more; nothing was deleted`);
        const real = await fs.promises.realpath(c.path);
        if (!isInside(modelsReal, real)) throw new AuditError(400, `${c.path} resolves outside models_dir; nothing was deleted`);
        if (st.size !== c.size_bytes || st.mtimeMs !== c.mtime_ms) throw new AuditError(409, `${c.path} changed since the listing; list the candidates again. Nothing was deleted`);
        if (c.reason === "duplicate") {
            const k = c.kept;
            const kst = k ? await fs.promises.stat(k.path).catch(() => null) : null;
            if (!k || !kst || kst.size !== k.size_bytes || kst.mtimeMs !== k.mtime_ms)
                throw new AuditError(409, `the kept copy of ${c.path} (${k?.path ?? "?"}) is gone or changed; list the candidates again. Nothing was deleted`);
            if (caseKey(await fs.promises.realpath(k.path)) === caseKey(real)) throw new AuditError(409, `${c.path} and its kept copy are the same file; nothing was deleted`);
        }
        if (c.reason === "orphan_part" && (active.has(caseKey(c.path)) || lockIsLive(`${c.path}.lock`)))
            throw new AuditError(409, `${c.path} is in use by a running download; nothing was deleted`);
    }

    const result: DeleteResult = {deleted: [], freed_bytes: 0, failed: []};
    const cache = await HashCache.load(hashCachePath(config));
    for (const c of chosen) {
        try {
            await fs.promises.rm(c.path);
            if (c.reason === "orphan_part") await fs.promises.rm(`${c.path}.lock`, {force: true});
            cache.delete(c.path);
            result.deleted.push({path: c.path, size_bytes: c.size_bytes, reason: c.reason});
            result.freed_bytes += c.size_bytes;
            logger.info({path: c.path, size_bytes: c.size_bytes, reason: c.reason, kept: c.kept?.path ?? null}, "deleted an approved safe-to-delete candidate");
        } catch (err) {
            result.failed.push({path: c.path, error: (err as Error).message});
            logger.warn({path: c.path, err: (err as Error).message}, "could not delete an approved candidate");
        }
    }
    await cache.save().catch(() => undefined);
    return result;
}
