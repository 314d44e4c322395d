import fs from "node:fs";
import path from "node:path";
import {modelNameFromFile} from "../download/names.js";
import type {Logger} from "../log/logger.js";
import {silentLogger} from "../log/logger.js";
import type {ExternalModel} from "../registry/types.js";
import {groupGgufFiles} from "./group.js";
import {listGgufFiles} from "./lmstudio.js";

export interface HfCacheModel extends ExternalModel {
    source: "huggingface";
    store: string;
    /** `org/repo`. */
    repo: string;
    /** The snapshot (commit) folder the files are listed from. */
    revision: string;
    /**
     * sha256 of the first file when the blob it links to is named by it (LFS blobs are), so the audit can compare
     * without reading the file; null on a cache that holds copies instead of links.
     */
    blob_sha256: string | null;
}

async function realpathOrSelf(p: string): Promise<string> {
    try {
        return await fs.promises.realpath(p);
    } catch {
        return p;
    }
}

/**
 * The Hugging Face hub cache: `models--org--repo/snapshots/<commit>/<path>`, each file a link to
 * `blobs/<sha256>` (copies on Windows without developer mode). The snapshot `refs/main` points at comes first;
 * older snapshots add only files not already seen. Read-only.
 */
export async function discoverHfCache(hub: string, logger: Logger = silentLogger): Promise<HfCacheModel[]> {
    let repos: string[] = [];
    try {
        repos = (await fs.promises.readdir(hub, {withFileTypes: true})).filter((e) => e.isDirectory() && e.name.startsWith("models--")).map((e) => e.name).sort();
    } catch {
        return [];
    }
    const out: HfCacheModel[] = [];
    for (const dirName of repos) {
        const repo = dirName.slice("models--".length).split("--").join("/");
        const repoDir = path.join(hub, dirName);
        let snapshots: string[] = [];
        try {
            snapshots = (await fs.promises.readdir(path.join(repoDir, "snapshots"), {withFileTypes: true})).filter((e) => e.isDirectory()).map((e) => e.name).sort();
        } catch {
            continue;
        }
        let main: string | null = null;
        try {
            main = (await fs.promises.readFile(path.join(repoDir, "refs", "main"), "utf8")).trim();
        } catch {
            // no refs/main: a cache filled by revision only
        }
        if (main && snapshots.includes(main)) snapshots = [main, ...snapshots.filter((s) => s !== main)];
        const seenBlobs = new Set<string>();
        for (const rev of snapshots) {
            const snapDir = path.join(repoDir, "snapshots", rev);
            const files = await listGgufFiles(snapDir, 4);
            for (const g of groupGgufFiles(files)) {
                const real = await realpathOrSelf(g.files[0]!);
                if (seenBlobs.has(real)) continue;
                seenBlobs.add(real);
                const blobName = path.basename(real);
                out.push({
                    name: modelNameFromFile(path.basename(g.files[0]!)),
                    files: g.files,
                    source: "huggingface",
                    projector: g.projector,
                    store: hub,
                    repo,
                    revision: rev,
                    blob_sha256: /^[0-9a-f]{64}$/.test(blobName) ? blobName : null
                });
            }
        }
    }
    logger.debug({hub, models: out.length}, "Hugging Face cache models found");
    return out;
}
