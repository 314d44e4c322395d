import fs from "node:fs/promises";
import path from "node:path";
import {randomBytes} from "node:crypto";
import type {ModelsIndex} from "./types.js";

/**
 * Writes the file so that a reader sees either the old or the new content, never a partial one:
 * temp file in the same folder, fsync, rename over the target.
 */
export async function writeFileAtomic(target: string, content: string): Promise<void> {
    await fs.mkdir(path.dirname(target), {recursive: true});
    const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
    const fh = await fs.open(tmp, "w");
    try {
        await fh.writeFile(content, "utf8");
        await fh.sync();
    } finally {
        await fh.close();
    }
    try {
        await fs.rename(tmp, target);
    } catch (err) {
        await fs.rm(tmp, {force: true});
        throw err;
    }
}

export async function writeIndex(file: string, index: ModelsIndex): Promise<void> {
    await writeFileAtomic(file, JSON.stringify(index, null, 2) + "\n");
}

/** Reads a previous index; a missing or damaged file just means "no cache". */
export async function readIndex(file: string): Promise<ModelsIndex | null> {
    try {
        const parsed = JSON.parse(await fs.readFile(file, "utf8")) as ModelsIndex;
        if (parsed == null || parsed.version !== 1 || !Array.isArray(parsed.models)) return null;
        parsed.projectors ??= [];
        return parsed;
    } catch {
        return null;
    }
}
