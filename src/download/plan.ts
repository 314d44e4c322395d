import path from "node:path";
import type {Logger} from "../log/logger.js";
import {DownloadError} from "./errors.js";
import {partOf, sizeOrNull} from "./files.js";
import {hfHeaders, hfResolveUrl, type HfSettings, listHfRepoFiles, selectHfFiles} from "./hf.js";
import {assertSafeFileName, resolveInside} from "./names.js";
import {formatModelRef, type HfModelRef, type ModelRef, targetFolderName, type UrlModelRef} from "./ref.js";
import type {DownloadFileState} from "./types.js";

/** Turns a model reference into the files to fetch and where each lands; no byte is written here. */

export interface PlannedFile {
    url: string;
    dest: string;
    size: number | null;
    sha256: string | null;
    role: "model" | "projector";
}

export interface Plan {
    ref: ModelRef;
    folder: string;
    /** The entry file first (the first part of a split model), the projector last. */
    files: PlannedFile[];
    quant: string | null;
    ollamaName: string | null;
}

export interface PlanContext {
    modelsDir: string;
    hf: HfSettings;
    fetch: typeof fetch;
    log: Logger;
}

/** Resolves a reference to files (network: the Hugging Face file list, or a HEAD for URLs). */
export async function planDownload(ref: ModelRef, ctx: PlanContext): Promise<Plan> {
    return ref.kind === "hf" ? planHf(ref, ctx) : planUrl(ref, ctx);
}

async function planHf(ref: HfModelRef, ctx: PlanContext): Promise<Plan> {
    const folder = targetFolderName(ref);
    const entries = await listHfRepoFiles(ctx.hf, ref.repo, ref.revision, {fetch: ctx.fetch});
    const sel = selectHfFiles(entries, ref);
    const toFile = (e: {path: string; size: number; sha256: string | null}, role: PlannedFile["role"]): PlannedFile => ({
        url: hfResolveUrl(ctx.hf, ref.repo, ref.revision, e.path),
        dest: resolveInside(ctx.modelsDir, folder, assertSafeFileName(path.posix.basename(e.path))),
        size: e.size,
        sha256: e.sha256,
        role
    });
    const files = sel.model.map((e) => toFile(e, "model"));
    if (sel.projector) files.push(toFile(sel.projector, "projector"));
    const tag = ref.file ? null : (ref.quant ?? sel.quant);
    return {ref, folder, files, quant: sel.quant, ollamaName: tag ? `hf.co/${ref.repo}:${tag}` : null};
}

async function planUrl(ref: UrlModelRef, ctx: PlanContext): Promise<Plan> {
    const folder = targetFolderName(ref);
    const dest = resolveInside(ctx.modelsDir, folder, assertSafeFileName(ref.fileName));
    let size: number | null = null;
    let sha: string | null = null;
    try {
        const res = await ctx.fetch(ref.url, {method: "HEAD", redirect: "follow", headers: hfHeaders(ctx.hf, ref.url)});
        if (res.status === 404) throw new DownloadError("not_found", `${formatModelRef(ref)}: not found (HTTP 404)`, {upstreamStatus: 404});
        if (res.ok) {
            const len = res.headers.get("x-linked-size") ?? res.headers.get("content-length");
            if (len && /^\d+$/.test(len)) size = Number(len);
            const etag = (res.headers.get("x-linked-etag") ?? res.headers.get("etag") ?? "").replace(/^W\//, "").replace(/"/g, "").toLowerCase();
            if (/^[0-9a-f]{64}$/.test(etag)) sha = etag;
        }
    } catch (err) {
        if (err instanceof DownloadError) throw err;
        // Servers that refuse HEAD are common; the GET reports the size, and the space check runs then.
        ctx.log.debug({url: formatModelRef(ref), err: (err as Error).message}, "HEAD failed; size will come from the download");
    }
    return {ref, folder, files: [{url: ref.url, dest, size, sha256: sha, role: "model"}], quant: null, ollamaName: null};
}

/**
 * The state each planned file starts in, from what is on disk: a complete file is done (refused when its size
 * differs from the published one), a `.part` is resumed from its length.
 */
export async function filesOnDisk(plan: Plan): Promise<DownloadFileState[]> {
    const files: DownloadFileState[] = [];
    for (const f of plan.files) {
        const have = await sizeOrNull(f.dest);
        const state: DownloadFileState = {
            name: path.basename(f.dest), path: f.dest, role: f.role, size_bytes: f.size,
            downloaded_bytes: 0, sha256: f.sha256, done: false, verified: false
        };
        if (have != null) {
            if (f.size != null && have !== f.size) {
                throw new DownloadError("conflict", `${f.dest} already exists with ${have} bytes, but ${formatModelRef(plan.ref)} has ${f.size}. ` +
                    `Delete or rename the existing file to download this one.`);
            }
            state.done = true;
            state.downloaded_bytes = have;
            state.size_bytes = have;
        } else {
            state.downloaded_bytes = (await sizeOrNull(partOf(f.dest))) ?? 0;
            // A `.part` at full size failed its verification before: the file restarts.
            if (f.size != null && state.downloaded_bytes >= f.size) state.downloaded_bytes = 0;
        }
        files.push(state);
    }
    return files;
}
