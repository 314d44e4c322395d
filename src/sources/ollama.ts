import {createHash} from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type {Logger} from "../log/logger.js";
import {silentLogger} from "../log/logger.js";
import type {ExternalModel, ModelDefaults} from "../registry/types.js";
import {hasGgufMagic, readSmallBuffer, readSmallText} from "./read.js";

export const OLLAMA_MEDIA = {
    model: "application/vnd.ollama.image.model",
    projector: "application/vnd.ollama.image.projector",
    adapter: "application/vnd.ollama.image.adapter",
    template: "application/vnd.ollama.image.template",
    system: "application/vnd.ollama.image.system",
    params: "application/vnd.ollama.image.params",
    messages: "application/vnd.ollama.image.messages"
} as const;

const DEFAULT_HOST = "registry.ollama.ai";
const DEFAULT_NAMESPACE = "library";

/** An Ollama model with what the audit needs besides the registry's fields. */
export interface OllamaModel extends ExternalModel {
    source: "ollama";
    /** The store folder (OLLAMA_MODELS). */
    store: string;
    /** sha256 (hex) of the model blob: Ollama names blobs by content, so this is the file's hash. */
    blob_sha256: string;
    /** The manifest file this model came from. */
    manifest: string;
}

interface Layer {
    mediaType?: unknown;
    digest?: unknown;
    size?: unknown;
}

const DIGEST_RE = /^sha256[:-]([0-9a-f]{64})$/;

/** `sha256:<hex>` → `<store>/blobs/sha256-<hex>`; anything else is refused (a crafted digest must not become a path). */
export function blobPath(store: string, digest: string): string | null {
    const m = DIGEST_RE.exec(digest);
    return m ? path.join(store, "blobs", `sha256-${m[1]}`) : null;
}

/** Ollama's short display name: `llama3.2:latest`, `user/model:tag`, `hf.co/org/repo:Q4_K_M`. */
export function ollamaDisplayName(host: string, namespace: string, model: string, tag: string): string {
    if (host === DEFAULT_HOST && namespace === DEFAULT_NAMESPACE) return `${model}:${tag}`;
    if (host === DEFAULT_HOST) return `${namespace}/${model}:${tag}`;
    return `${host}/${namespace}/${model}:${tag}`;
}

async function readDirNames(dir: string, kind: "dir" | "file"): Promise<string[]> {
    try {
        const entries = await fs.promises.readdir(dir, {withFileTypes: true});
        return entries.filter((e) => (kind === "dir" ? e.isDirectory() : e.isFile())).map((e) => e.name).sort();
    } catch {
        return [];
    }
}

function parseParams(text: string, logger: Logger, where: string): Pick<ModelDefaults, "options" | "stop"> {
    try {
        const obj = JSON.parse(text) as unknown;
        if (obj == null || typeof obj !== "object" || Array.isArray(obj)) return {};
        const {stop, ...options} = obj as Record<string, unknown>;
        const out: Pick<ModelDefaults, "options" | "stop"> = {};
        if (Array.isArray(stop)) out.stop = stop.filter((s): s is string => typeof s === "string");
        else if (typeof stop === "string") out.stop = [stop];
        if (Object.keys(options).length > 0) out.options = options;
        return out;
    } catch {
        logger.warn({where}, "Ollama params layer is not JSON; ignored");
        return {};
    }
}

function parseMessages(text: string): ModelDefaults["messages"] {
    try {
        const arr = JSON.parse(text) as unknown;
        if (!Array.isArray(arr)) return undefined;
        const msgs = arr.filter((m): m is {role: string; content: string} =>
            m != null && typeof m === "object" && typeof (m as {role?: unknown}).role === "string" && typeof (m as {content?: unknown}).content === "string")
            .map((m) => ({role: m.role, content: m.content}));
        return msgs.length > 0 ? msgs : undefined;
    } catch {
        return undefined;
    }
}

/**
 * Reads one Ollama store (`manifests/<host>/<namespace>/<model>/<tag>` + `blobs/sha256-<hex>`) and returns its GGUF
 * models under their Ollama names. Read-only: it lists, stats and reads; it never creates, writes or touches a
 * file in the store. Models whose manifest carries an adapter layer are skipped (serving the base model alone
 * would answer as a different model).
 */
export async function discoverOllama(store: string, logger: Logger = silentLogger): Promise<OllamaModel[]> {
    const out: OllamaModel[] = [];
    const manifests = path.join(store, "manifests");
    for (const host of await readDirNames(manifests, "dir")) {
        for (const ns of await readDirNames(path.join(manifests, host), "dir")) {
            for (const model of await readDirNames(path.join(manifests, host, ns), "dir")) {
                for (const tag of await readDirNames(path.join(manifests, host, ns, model), "file")) {
                    const file = path.join(manifests, host, ns, model, tag);
                    const found = await readManifest(store, file, ollamaDisplayName(host, ns, model, tag), logger);
                    if (found) out.push(found);
                }
            }
        }
    }
    return out;
}

async function readManifest(store: string, file: string, name: string, logger: Logger): Promise<OllamaModel | null> {
    const bytes = await readSmallBuffer(file, 1024 * 1024);
    const raw = bytes?.toString("utf8");
    if (bytes == null || raw == null) {
        logger.warn({file}, "Ollama manifest unreadable; skipped");
        return null;
    }
    let manifest: {layers?: unknown; config?: Layer};
    try {
        manifest = JSON.parse(raw) as typeof manifest;
    } catch {
        logger.warn({file}, "Ollama manifest is not JSON; skipped");
        return null;
    }
    const layers = Array.isArray(manifest.layers) ? manifest.layers as Layer[] : [];
    const of = (type: string): Layer[] => layers.filter((l) => l && l.mediaType === type && typeof l.digest === "string");
    const modelLayer = of(OLLAMA_MEDIA.model)[0];
    if (!modelLayer) {
        logger.debug({name}, "Ollama manifest without a model layer (cloud or non-GGUF model); skipped");
        return null;
    }
    if (of(OLLAMA_MEDIA.adapter).length > 0) {
        logger.info({name}, "Ollama model with a LoRA adapter layer is not adopted; use it through Ollama");
        return null;
    }
    const modelBlob = blobPath(store, modelLayer.digest as string);
    if (!modelBlob) {
        logger.warn({name, digest: modelLayer.digest}, "Ollama model layer has an invalid digest; skipped");
        return null;
    }
    if (!(await hasGgufMagic(modelBlob))) {
        logger.debug({name, blob: modelBlob}, "Ollama model blob is missing or not GGUF; skipped");
        return null;
    }
    const defaults: ModelDefaults = {};
    const text = async (type: string): Promise<string | null> => {
        const l = of(type)[0];
        const p = l ? blobPath(store, l.digest as string) : null;
        return p ? readSmallText(p, 4 * 1024 * 1024) : null;
    };
    const params = await text(OLLAMA_MEDIA.params);
    if (params != null) Object.assign(defaults, parseParams(params, logger, name));
    const system = await text(OLLAMA_MEDIA.system);
    if (system != null && system !== "") defaults.system = system;
    // Go-template syntax: shown in /api/show, never executed (the GGUF's own chat template is used).
    const template = await text(OLLAMA_MEDIA.template);
    if (template != null && template !== "") defaults.template = template;
    const messages = await text(OLLAMA_MEDIA.messages);
    const parsedMessages = messages != null ? parseMessages(messages) : undefined;
    if (parsedMessages) defaults.messages = parsedMessages;

    const projLayer = of(OLLAMA_MEDIA.projector)[0];
    const projector = projLayer ? blobPath(store, projLayer.digest as string) : null;
    // Ollama's `digest` in /api/tags is the hash of the manifest file's bytes.
    const manifestDigest = createHash("sha256").update(bytes).digest("hex");
    const m: OllamaModel = {
        name,
        files: [modelBlob],
        source: "ollama",
        projector: projector && fs.existsSync(projector) ? projector : null,
        digest: manifestDigest,
        store,
        blob_sha256: DIGEST_RE.exec(modelLayer.digest as string)![1]!,
        manifest: file
    };
    if (Object.keys(defaults).length > 0) m.defaults = defaults;
    return m;
}
