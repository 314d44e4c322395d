import fs from "node:fs";
import path from "node:path";
import {isGgufName, modelNameFromFile} from "../download/names.js";
import type {Logger} from "../log/logger.js";
import {silentLogger} from "../log/logger.js";
import type {ExternalModel} from "../registry/types.js";
import {groupGgufFiles} from "./group.js";

export interface LmStudioModel extends ExternalModel {
    source: "lmstudio";
    store: string;
    /** `publisher/repo`, the two folders LM Studio files a model under. */
    repo: string | null;
}

/** Lists `.gguf` files under `dir`, a few levels deep, skipping hidden folders; symlinked folders are not followed. */
export async function listGgufFiles(dir: string, maxDepth: number): Promise<string[]> {
    const out: string[] = [];
    const walk = async (d: string, depth: number): Promise<void> => {
        let entries: fs.Dirent[];
        try {
            entries = await fs.promises.readdir(d, {withFileTypes: true});
        } catch {
            return;
        }
        for (const e of entries) {
            if (e.name.startsWith(".")) continue;
            const full = path.join(d, e.name);
            if (e.isDirectory()) {
                if (depth < maxDepth) await walk(full, depth + 1);
            } else if ((e.isFile() || e.isSymbolicLink()) && isGgufName(e.name)) {
                out.push(full);
            }
        }
    };
    await walk(dir, 0);
    return out.sort();
}

/**
 * LM Studio keeps plain GGUF files under `<models>/<publisher>/<repo>/`. They are adopted in place under the same
 * names the registry gives files in models_dir (`qwen2.5-7b-instruct:q4_k_m`). Read-only.
 */
export async function discoverLmStudio(store: string, logger: Logger = silentLogger): Promise<LmStudioModel[]> {
    const files = await listGgufFiles(store, 4);
    const out: LmStudioModel[] = [];
    for (const g of groupGgufFiles(files)) {
        const rel = path.relative(store, path.dirname(g.files[0]!)).split(path.sep);
        out.push({
            name: modelNameFromFile(path.basename(g.files[0]!)),
            files: g.files,
            source: "lmstudio",
            projector: g.projector,
            store,
            repo: rel.length >= 2 ? `${rel[0]}/${rel[1]}` : null
        });
    }
    logger.debug({store, models: out.length}, "LM Studio models found");
    return out;
}
