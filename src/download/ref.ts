import path from "node:path";
import {DownloadError} from "./errors.js";
import {assertSafeFileName, assertSafeRepoPath, isGgufName, SPLIT_RE} from "./names.js";

/** What the user asked for, after parsing and validation (no network involved yet). */
export type ModelRef = HfModelRef | UrlModelRef;

export interface HfModelRef {
    kind: "hf";
    /** `org/repo`. */
    repo: string;
    revision: string;
    /** A path inside the repo, when a file was named. */
    file: string | null;
    /** A quantization tag (`Q4_K_M`), when one was named; neither file nor quant → the default quant. */
    quant: string | null;
    /** Whether to fetch the multimodal projector that belongs to the model (default true). */
    projector: boolean;
}

export interface UrlModelRef {
    kind: "url";
    url: string;
    /** The file name to save as: the URL's last path segment unless given. */
    fileName: string;
}

/** llama.cpp's `-hf` default when no quantization is named. */
export const DEFAULT_QUANT = "Q4_K_M";

const REPO_PART = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,95})$/;

function badRef(message: string): DownloadError {
    return new DownloadError("bad_reference", message);
}

function validateRepo(repo: string): string {
    const parts = repo.split("/");
    if (parts.length !== 2 || !parts.every((p) => REPO_PART.test(p) && !p.includes("..")))
        throw badRef(`invalid Hugging Face repo ${JSON.stringify(repo)}: expected "org/repo" (letters, digits, ".", "_", "-")`);
    // The repo name becomes a folder under models_dir.
    assertSafeFileName(parts[1]!, "repo name");
    return repo;
}

function validateRevision(rev: string): string {
    if (!/^[A-Za-z0-9._/-]{1,128}$/.test(rev) || rev.split("/").some((s) => s === "" || s === "." || s === ".."))
        throw badRef(`invalid revision ${JSON.stringify(rev)}`);
    return rev;
}

function validateQuant(q: string): string {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(q)) throw badRef(`invalid quantization tag ${JSON.stringify(q)}`);
    return q;
}

function validateRepoFile(file: string): string {
    assertSafeRepoPath(file);
    if (!isGgufName(file)) throw badRef(`only .gguf files can be downloaded; got ${JSON.stringify(file)}`);
    return file;
}

const HF_HOSTS = new Set(["huggingface.co", "hf.co", "www.huggingface.co"]);

/**
 * Parses `org/repo[:tag]`, `org/repo/path/file.gguf` with an optional `#revision`, after the scheme was stripped.
 */
function parseHfPath(rest: string, projector: boolean): HfModelRef {
    let revision = "main";
    const hash = rest.indexOf("#");
    if (hash >= 0) {
        revision = validateRevision(rest.slice(hash + 1));
        rest = rest.slice(0, hash);
    }
    const segments = rest.split("/");
    if (segments.length < 2) throw badRef(`expected a Hugging Face reference like hf:org/repo:Q4_K_M, got ${JSON.stringify(rest)}`);
    if (segments.length === 2) {
        const [org, repoTag] = segments as [string, string];
        const colon = repoTag.indexOf(":");
        const repo = colon >= 0 ? repoTag.slice(0, colon) : repoTag;
        const tag = colon >= 0 ? repoTag.slice(colon + 1) : "";
        return {
            kind: "hf", repo: validateRepo(`${org}/${repo}`), revision, file: null,
            quant: tag === "" || tag.toLowerCase() === "latest" ? null : validateQuant(tag), projector
        };
    }
    const repo = validateRepo(`${segments[0]}/${segments[1]}`);
    const file = segments.slice(2).join("/");
    return {kind: "hf", repo, revision, file: validateRepoFile(file), quant: null, projector};
}

/** `https://huggingface.co/org/repo/resolve/main/file.gguf` (and `/blob/`) as a Hugging Face reference. */
function hfRefFromUrl(u: URL, projector: boolean, hfEndpoint?: string): HfModelRef | null {
    let endpointPath = "";
    const sameAsEndpoint = hfEndpoint != null && (() => {
        try {
            const e = new URL(hfEndpoint);
            endpointPath = e.pathname.replace(/\/+$/, "");
            return e.origin === u.origin && u.pathname.startsWith(`${endpointPath}/`);
        } catch {
            return false;
        }
    })();
    if (!HF_HOSTS.has(u.hostname) && !sameAsEndpoint) return null;
    const p = sameAsEndpoint ? u.pathname.slice(endpointPath.length) : u.pathname;
    const m = /^\/([^/]+)\/([^/]+)\/(?:resolve|blob)\/([^/]+)\/(.+)$/.exec(p);
    if (!m) return null;
    let file: string;
    let revision: string;
    try {
        file = m[4]!.split("/").map((s) => decodeURIComponent(s)).join("/");
        revision = decodeURIComponent(m[3]!);
    } catch {
        throw badRef(`cannot decode the URL path ${JSON.stringify(u.pathname)}`);
    }
    return {kind: "hf", repo: validateRepo(`${m[1]}/${m[2]}`), revision: validateRevision(revision), file: validateRepoFile(file), quant: null, projector};
}

function parseUrl(raw: string, fileName: string | undefined, projector: boolean, hfEndpoint?: string): ModelRef {
    let u: URL;
    try {
        u = new URL(raw);
    } catch {
        throw badRef(`invalid URL ${JSON.stringify(raw)}`);
    }
    if (u.protocol !== "https:" && u.protocol !== "http:") throw badRef(`only http and https URLs can be downloaded, got ${u.protocol}`);
    if (fileName == null) {
        const hf = hfRefFromUrl(u, projector, hfEndpoint);
        if (hf) return hf;
    }
    let name = fileName;
    if (name == null) {
        const last = u.pathname.split("/").pop() ?? "";
        try {
            name = decodeURIComponent(last);
        } catch {
            throw badRef(`cannot decode the file name in ${JSON.stringify(raw)}`);
        }
    }
    assertSafeFileName(name);
    if (!isGgufName(name)) throw badRef(`the URL must name a .gguf file (or pass "filename"); got ${JSON.stringify(name)}`);
    return {kind: "url", url: u.toString(), fileName: name};
}

const PREFIXES = ["hf://", "huggingface://", "hf:", "huggingface:", "hf.co/", "huggingface.co/"];

export interface ParseOptions {
    /** The configured Hugging Face endpoint, so mirror `…/resolve/…` URLs are recognised as Hugging Face files. */
    hfEndpoint?: string;
    /** Accept only Hugging Face references (the Ollama `/api/pull` route). */
    hfOnly?: boolean;
}

/**
 * Turns any accepted spelling of a model into a ModelRef. Accepted: `hf:org/repo:Q4_K_M`, `hf:org/repo`,
 * `hf:org/repo/path/file.gguf[#rev]`, `hf.co/org/repo:quant` (Ollama's name), `https://…` URLs, and objects
 * `{repo, file}`, `{repo, quant}`, `{url[, filename]}` (each with optional `revision`, `projector`).
 * Throws DownloadError (400) for anything else, including names that would leave models_dir.
 */
export function parseModelRef(input: unknown, opts: ParseOptions = {}): ModelRef {
    if (typeof input === "string") return parseRefString(input, true, opts);
    if (input == null || typeof input !== "object" || Array.isArray(input))
        throw badRef(`expected a model reference string or an object with "repo" or "url"`);
    const o = input as Record<string, unknown>;
    const projector = o.projector === undefined ? true : o.projector === true;
    if (o.projector !== undefined && typeof o.projector !== "boolean") throw badRef(`"projector" must be a boolean`);
    if (typeof o.model === "string" && o.url === undefined && o.repo === undefined) {
        // `{model: "hf:org/repo:Q4_K_M", projector: false}`: the string plus per-request switches.
        const s = o.model.trim();
        if (/^https?:\/\//i.test(s) && o.filename !== undefined) return parseModelRef({url: s, filename: o.filename, projector: o.projector}, opts);
        const ref = parseRefString(s, projector, opts);
        if (ref.kind === "hf") {
            ref.projector = projector;
            if (o.revision !== undefined) {
                if (typeof o.revision !== "string") throw badRef(`"revision" must be a string`);
                ref.revision = validateRevision(o.revision);
            }
        }
        return ref;
    }
    if (o.url !== undefined) {
        if (typeof o.url !== "string") throw badRef(`"url" must be a string`);
        if (o.repo !== undefined) throw badRef(`give either "url" or "repo", not both`);
        if (o.filename !== undefined && typeof o.filename !== "string") throw badRef(`"filename" must be a string`);
        if (opts.hfOnly) throw badRef("only Hugging Face references are accepted here");
        return parseUrl(o.url.trim(), o.filename as string | undefined, projector, opts.hfEndpoint);
    }
    if (typeof o.repo !== "string") throw badRef(`expected "repo" (org/repo) or "url"`);
    let repoStr = o.repo.trim();
    for (const p of PREFIXES) if (repoStr.toLowerCase().startsWith(p)) repoStr = repoStr.slice(p.length);
    const revision = o.revision === undefined ? "main" : typeof o.revision === "string" ? validateRevision(o.revision) : (() => {
        throw badRef(`"revision" must be a string`);
    })();
    if (o.file !== undefined && o.quant !== undefined) throw badRef(`give either "file" or "quant", not both`);
    if (o.file !== undefined) {
        if (typeof o.file !== "string") throw badRef(`"file" must be a string`);
        return {kind: "hf", repo: validateRepo(repoStr), revision, file: validateRepoFile(o.file), quant: null, projector};
    }
    if (o.quant !== undefined && typeof o.quant !== "string") throw badRef(`"quant" must be a string`);
    // `{repo: "org/repo:Q8_0"}` is accepted too.
    const ref = parseHfPath(revision === "main" ? repoStr : `${repoStr}#${revision}`, projector);
    if (ref.file) throw badRef(`"repo" must be org/repo; put the file in "file"`);
    if (typeof o.quant === "string" && o.quant !== "") ref.quant = validateQuant(o.quant);
    return ref;
}

function parseRefString(raw: string, projector: boolean, opts: ParseOptions): ModelRef {
    const s = raw.trim();
    if (s === "") throw badRef("empty model reference");
    if (/^https?:\/\//i.test(s)) {
        const ref = parseUrl(s, undefined, projector, opts.hfEndpoint);
        if (opts.hfOnly && ref.kind !== "hf") throw badRef("only Hugging Face references are accepted here");
        return ref;
    }
    const lower = s.toLowerCase();
    for (const p of PREFIXES) {
        if (lower.startsWith(p)) return parseHfPath(s.slice(p.length), projector);
    }
    throw badRef(`not a downloadable reference: ${JSON.stringify(s)}. Use hf:org/repo:Q4_K_M, hf:org/repo/file.gguf, hf.co/org/repo:Q4_K_M or an https:// URL to a .gguf file`);
}

/** The folder under models_dir a reference lands in: the repo name, or the URL file's stem. */
export function targetFolderName(ref: ModelRef): string {
    if (ref.kind === "hf") return assertSafeFileName(ref.repo.split("/")[1]!, "repo name");
    const base = path.basename(ref.fileName);
    const split = SPLIT_RE.exec(base);
    return assertSafeFileName(split ? split[1]! : base.replace(/\.gguf$/i, ""), "folder name");
}

/** A canonical one-line spelling, for logs, the job list, and matching a repeated request to a running job. */
export function formatModelRef(ref: ModelRef): string {
    if (ref.kind === "url") {
        const u = new URL(ref.url);
        // Query strings can hold signed-URL secrets; they never reach the job list or logs.
        return `${u.origin}${u.pathname}`;
    }
    const rev = ref.revision === "main" ? "" : `#${ref.revision}`;
    if (ref.file) return `hf:${ref.repo}/${ref.file}${rev}`;
    return `hf:${ref.repo}:${ref.quant ?? DEFAULT_QUANT}${rev}`;
}
