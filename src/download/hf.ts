import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type {ProviderConfig} from "../config/load.js";
import {DownloadError} from "./errors.js";
import {assertSafeRepoPath, isGgufName, isProjectorName, nameHasQuant, quantFromFileName, splitInfo} from "./names.js";
import {DEFAULT_QUANT, type HfModelRef} from "./ref.js";

export const DEFAULT_HF_ENDPOINT = "https://huggingface.co";

export interface HfSettings {
    /** Without a trailing slash. */
    endpoint: string;
    token: string | null;
    /** Where the token came from, for messages (never the token). */
    tokenSource: "config" | "env" | "file" | "none";
}

/**
 * Endpoint and token, with the project's precedence (file < environment): `HF_ENDPOINT` / `HF_TOKEN` (the variables
 * Hugging Face's own tools read) over `downloads.hf_endpoint` / `downloads.hf_token`, then the token file
 * `huggingface-cli login` writes, so a user who logged in once needs nothing else.
 */
export function resolveHfSettings(config: ProviderConfig, env: NodeJS.ProcessEnv = process.env, homedir: string = os.homedir()): HfSettings {
    const endpoint = (env.HF_ENDPOINT || config.downloads.hf_endpoint || DEFAULT_HF_ENDPOINT).replace(/\/+$/, "");
    const envToken = env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN;
    if (envToken) return {endpoint, token: envToken, tokenSource: "env"};
    if (config.downloads.hf_token) return {endpoint, token: config.downloads.hf_token, tokenSource: "config"};
    const candidates = [
        env.HF_TOKEN_PATH,
        env.HF_HOME ? path.join(env.HF_HOME, "token") : undefined,
        path.join(homedir, ".cache", "huggingface", "token")
    ].filter((p): p is string => typeof p === "string" && p !== "");
    for (const file of candidates) {
        try {
            const t = fs.readFileSync(file, "utf8").trim();
            if (t) return {endpoint, token: t, tokenSource: "file"};
        } catch {
            // no token file: anonymous access
        }
    }
    return {endpoint, token: null, tokenSource: "none"};
}

/** Whether a URL belongs to the Hugging Face endpoint, the only place the token may be sent. */
export function isHfUrl(hf: HfSettings, url: string): boolean {
    try {
        const u = new URL(url);
        const e = new URL(hf.endpoint);
        return u.origin === e.origin || u.hostname === "huggingface.co" || u.hostname === "hf.co";
    } catch {
        return false;
    }
}

export function hfHeaders(hf: HfSettings, url: string): Record<string, string> {
    const h: Record<string, string> = {"user-agent": "zombiecoder-provider"};
    if (hf.token && isHfUrl(hf, url)) h.authorization = `Bearer ${hf.token}`;
    return h;
}

export interface HfFileEntry {
    /** Path inside the repo, forward slashes. */
    path: string;
    size: number;
    /** sha256 Hugging Face publishes for LFS files (`lfs.oid`); null for small git files. */
    sha256: string | null;
}

export function hfResolveUrl(hf: HfSettings, repo: string, revision: string, filePath: string): string {
    const file = filePath.split("/").map(encodeURIComponent).join("/");
    return `${hf.endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${file}`;
}

function upstreamError(what: string, status: number, hf: HfSettings): DownloadError {
    if (status === 404)
        return new DownloadError("not_found", `${what}: not found at ${hf.endpoint} (HTTP 404). Check the repo name and revision.`, {upstreamStatus: status});
    if (status === 401 || status === 403) {
        const hint = hf.token
            ? "the configured token has no access: accept the model's terms on its Hugging Face page with that account"
            : "the repo is gated or private: accept its terms on Hugging Face and set HF_TOKEN or downloads.hf_token";
        return new DownloadError("upstream", `${what}: Hugging Face refused access (HTTP ${status}); ${hint}`, {upstreamStatus: status});
    }
    return new DownloadError("upstream", `${what}: ${hf.endpoint} answered HTTP ${status}`, {upstreamStatus: status});
}

function nextLink(header: string | null): string | null {
    if (!header) return null;
    for (const part of header.split(",")) {
        const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
        if (m) return m[1]!;
    }
    return null;
}

/** Lists every file of a repo revision (recursive, following the `Link: rel=next` pages the Hub sends for big repos). */
export async function listHfRepoFiles(hf: HfSettings, repo: string, revision: string,
    opts: {fetch?: typeof fetch; signal?: AbortSignal} = {}): Promise<HfFileEntry[]> {
    const doFetch = opts.fetch ?? fetch;
    let url: string | null = `${hf.endpoint}/api/models/${repo}/tree/${encodeURIComponent(revision)}?recursive=true&expand=false`;
    const out: HfFileEntry[] = [];
    // A repo with 50 pages of 1000 files is far beyond any GGUF repo; the bound stops a server that loops.
    for (let page = 0; url && page < 50; page++) {
        let res: Response;
        try {
            res = await doFetch(url, {headers: {...hfHeaders(hf, url), accept: "application/json"}, signal: opts.signal});
        } catch (err) {
            throw new DownloadError("upstream", `cannot reach ${hf.endpoint} to list ${repo}: ${(err as Error).message}`, {cause: err});
        }
        if (!res.ok) {
            await res.body?.cancel().catch(() => undefined);
            throw upstreamError(`Hugging Face repo ${repo} (revision ${revision})`, res.status, hf);
        }
        let items: unknown;
        try {
            items = await res.json();
        } catch (err) {
            throw new DownloadError("upstream", `${hf.endpoint} sent an unreadable file list for ${repo}`, {cause: err});
        }
        if (!Array.isArray(items)) throw new DownloadError("upstream", `${hf.endpoint} sent an unexpected file list for ${repo}`);
        for (const it of items as Array<Record<string, unknown>>) {
            if (it == null || it.type !== "file" || typeof it.path !== "string") continue;
            const lfs = it.lfs as {oid?: unknown; size?: unknown} | undefined;
            const sha = lfs && typeof lfs.oid === "string" && /^[0-9a-f]{64}$/i.test(lfs.oid) ? lfs.oid.toLowerCase() : null;
            const size = typeof lfs?.size === "number" ? lfs.size : typeof it.size === "number" ? it.size : NaN;
            if (!Number.isFinite(size) || size < 0) continue;
            out.push({path: it.path, size, sha256: sha});
        }
        const next = nextLink(res.headers.get("link"));
        url = next ? new URL(next, hf.endpoint).toString() : null;
    }
    return out;
}

export interface HfSelection {
    /** The model's files in load order (split parts in index order). */
    model: HfFileEntry[];
    projector: HfFileEntry | null;
    /** The quantization actually chosen (from the tag or the file name). */
    quant: string | null;
}

function distinctQuants(files: HfFileEntry[]): string[] {
    return [...new Set(files.map((f) => quantFromFileName(f.path)).filter((q): q is string => q != null))].sort();
}

/** Expands one split part to the whole set, checking every part is present. */
function expandSplit(all: HfFileEntry[], chosen: HfFileEntry): HfFileEntry[] {
    const info = splitInfo(chosen.path);
    if (!info) return [chosen];
    const dir = path.posix.dirname(chosen.path);
    const parts = all.filter((f) => {
        const i = splitInfo(f.path);
        return i != null && i.prefix === info.prefix && i.count === info.count && path.posix.dirname(f.path) === dir;
    }).sort((a, b) => splitInfo(a.path)!.index - splitInfo(b.path)!.index);
    if (parts.length !== info.count || parts.some((p, i) => splitInfo(p.path)!.index !== i + 1))
        throw new DownloadError("upstream", `split model ${chosen.path} is incomplete in the repo: found ${parts.length} of ${info.count} parts`);
    return parts;
}

function pickProjector(all: HfFileEntry[], model: HfFileEntry[]): HfFileEntry | null {
    const projectors = all.filter((f) => isGgufName(f.path) && isProjectorName(f.path));
    if (projectors.length === 0) return null;
    const dir = path.posix.dirname(model[0]!.path);
    // Precision order llama.cpp's converters publish: F16 is the usual companion and works with any quant.
    const rank = (p: string): number => {
        const q = quantFromFileName(p) ?? "";
        const order = ["F16", "BF16", "Q8_0", "F32"];
        const i = order.indexOf(q);
        return i < 0 ? order.length : i;
    };
    const sameDir = projectors.filter((p) => path.posix.dirname(p.path) === dir);
    const pool = sameDir.length > 0 ? sameDir : projectors.filter((p) => path.posix.dirname(p.path) === ".");
    if (pool.length === 0) return null;
    return [...pool].sort((a, b) => rank(a.path) - rank(b.path) || a.path.localeCompare(b.path))[0]!;
}

/**
 * Chooses the files for a reference: a named file (with its split set), or the file carrying the quantization tag
 * (default Q4_K_M, or the only model file when the repo has one). The projector comes along when the repo has one
 * next to the model and the reference did not opt out.
 */
export function selectHfFiles(entries: HfFileEntry[], ref: HfModelRef): HfSelection {
    const ggufs = entries.filter((f) => isGgufName(f.path));
    const models = ggufs.filter((f) => !isProjectorName(f.path));
    let chosen: HfFileEntry[];
    if (ref.file) {
        const f = entries.find((e) => e.path === ref.file) ?? entries.find((e) => e.path.toLowerCase() === ref.file!.toLowerCase());
        if (!f) throw new DownloadError("not_found", `${ref.repo} has no file ${ref.file} (revision ${ref.revision})`);
        chosen = expandSplit(entries, f);
    } else {
        const quant = ref.quant ?? DEFAULT_QUANT;
        let matches = models.filter((f) => nameHasQuant(f.path, quant));
        if (matches.length === 0 && ref.quant == null && models.length > 0) {
            // No tag and no Q4_K_M: a repo holding one model (possibly split) is unambiguous.
            const firsts = models.filter((f) => {
                const s = splitInfo(f.path);
                return s == null || s.index === 1;
            });
            if (firsts.length === 1) matches = firsts;
        }
        if (matches.length === 0) {
            const available = distinctQuants(models);
            throw new DownloadError("not_found", models.length === 0
                ? `${ref.repo} has no GGUF files (revision ${ref.revision})`
                : `${ref.repo} has no ${quant} file; available: ${available.length ? available.join(", ") : models.map((m) => m.path).join(", ")}`);
        }
        // Prefer a single file over a split set, then the shortest path: "model-Q4_K_M.gguf" over "model-Q4_K_M-imat.gguf".
        const firsts = matches.filter((f) => {
            const s = splitInfo(f.path);
            return s == null || s.index === 1;
        });
        firsts.sort((a, b) => Number(splitInfo(a.path) != null) - Number(splitInfo(b.path) != null) || a.path.length - b.path.length || a.path.localeCompare(b.path));
        const first = firsts[0] ?? matches[0]!;
        chosen = expandSplit(entries, first);
    }
    for (const f of chosen) assertSafeRepoPath(f.path);
    const projector = ref.projector && !isProjectorName(chosen[0]!.path) ? pickProjector(entries, chosen) : null;
    if (projector) assertSafeRepoPath(projector.path);
    return {model: chosen, projector, quant: ref.quant ?? quantFromFileName(chosen[0]!.path)};
}
