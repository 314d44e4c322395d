import fs from "node:fs";

/** Reads a file only if it is at most `max` bytes (manifests, params, templates): a huge blob is never slurped. */
export async function readSmallBuffer(file: string, max: number): Promise<Buffer | null> {
    try {
        const st = await fs.promises.stat(file);
        if (!st.isFile() || st.size > max) return null;
        return await fs.promises.readFile(file);
    } catch {
        return null;
    }
}

export async function readSmallText(file: string, max: number): Promise<string | null> {
    const b = await readSmallBuffer(file, max);
    return b == null ? null : b.toString("utf8");
}

/**
 * Whether the file starts with the GGUF magic; opened read-only, 4 bytes read. `ifUnreadable` is the answer for a
 * file that cannot be opened: adopters skip it (false), the audit never calls it invalid (true).
 */
export async function hasGgufMagic(file: string, ifUnreadable = false): Promise<boolean> {
    let fh: fs.promises.FileHandle | undefined;
    try {
        fh = await fs.promises.open(file, "r");
        const b = Buffer.alloc(4);
        const {bytesRead} = await fh.read(b, 0, 4, 0);
        return bytesRead === 4 && b.toString("latin1") === "GGUF";
    } catch {
        return ifUnreadable;
    } finally {
        await fh?.close().catch(() => undefined);
    }
}
