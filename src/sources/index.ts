import fs from "node:fs";
import type {ProviderConfig} from "../config/load.js";
import {isInside} from "../download/names.js";
import type {Logger} from "../log/logger.js";
import {silentLogger} from "../log/logger.js";
import type {ExternalModel} from "../registry/types.js";
import {discoverHfCache, type HfCacheModel} from "./huggingface.js";
import {discoverLmStudio, type LmStudioModel} from "./lmstudio.js";
import {discoverOllama, type OllamaModel} from "./ollama.js";
import {sourceDirs, type SourceDirs, type SourceEnvironment} from "./paths.js";

export {discoverOllama, ollamaDisplayName, blobPath, OLLAMA_MEDIA, type OllamaModel} from "./ollama.js";
export {discoverLmStudio, type LmStudioModel} from "./lmstudio.js";
export {discoverHfCache, type HfCacheModel} from "./huggingface.js";
export {sourceDirs, type SourceDirs, type SourceEnvironment} from "./paths.js";

export type AdoptedModel = OllamaModel | LmStudioModel | HfCacheModel;

function realKey(p: string): string {
    let r = p;
    try {
        r = fs.realpathSync(p);
    } catch {
        // keep the path as given
    }
    return process.platform === "win32" ? r.toLowerCase() : r;
}

/**
 * Every model in the other tools' stores that `import_sources` enables, adopted in place (never copied, never
 * written to). A store that fails is logged and skipped; the others still count. A store folder inside models_dir
 * is skipped (the registry scans models_dir itself), and a file reachable from two stores is listed once.
 * Ollama tags sharing one blob are all listed: each is a name Ollama clients use.
 * `envOpts` exists for tests; the server passes nothing and the real environment and home folder apply.
 */
export async function discoverExternalModels(config: ProviderConfig, logger: Logger = silentLogger, envOpts: SourceEnvironment = {}): Promise<AdoptedModel[]> {
    const dirs: SourceDirs = sourceDirs(config, envOpts);
    const out: AdoptedModel[] = [];
    // Two Ollama tags may share a blob and both are real names; the same file reached through a second store
    // (an LM Studio folder linked into the HF cache) is listed once, under the first store.
    const seen = new Map<string, AdoptedModel["source"]>();
    const add = (models: AdoptedModel[]): void => {
        for (const m of models) {
            const k = realKey(m.files[0]!);
            const owner = seen.get(k);
            if (owner != null && owner !== m.source) continue;
            seen.set(k, m.source);
            out.push(m);
        }
    };
    const run = async (kind: keyof SourceDirs, fn: (dir: string, l: Logger) => Promise<AdoptedModel[]>): Promise<void> => {
        for (const dir of dirs[kind]) {
            if (isInside(config.paths.models, dir)) {
                logger.info({source: kind, dir}, "store folder lies inside models_dir; it is scanned as part of models_dir");
                continue;
            }
            try {
                const found = await fn(dir, logger);
                logger.info({source: kind, dir, models: found.length}, "adopted models from another tool's store");
                add(found);
            } catch (err) {
                logger.warn({source: kind, dir, err: (err as Error).message}, "could not read a model store; skipped");
            }
        }
    };
    await run("ollama", discoverOllama);
    await run("lmstudio", discoverLmStudio);
    await run("huggingface", discoverHfCache);
    return out;
}

/** The shape the registry consumes, for callers that want exactly ExternalModel. */
export function toExternal(m: AdoptedModel): ExternalModel {
    const e: ExternalModel = {name: m.name, files: [...m.files], source: m.source, projector: m.projector ?? null};
    if (m.defaults) e.defaults = m.defaults;
    if (m.digest) e.digest = m.digest;
    return e;
}
