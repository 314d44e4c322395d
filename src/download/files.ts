import {randomBytes} from "node:crypto";
import fs from "node:fs";

/** The partial file a download appends to; renamed to `dest` only once complete and verified. */
export function partOf(dest: string): string {
    return `${dest}.part`;
}

/** The lock next to a `.part`, so two writers (this server, `npm run pull`) never append to it at once. */
export function lockOf(part: string): string {
    return `${part}.lock`;
}

export async function sizeOrNull(p: string): Promise<number | null> {
    try {
        return (await fs.promises.stat(p)).size;
    } catch {
        return null;
    }
}

/** Writes through a uniquely named temporary file and a rename, so a reader never sees half a file. */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
    const tmp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
    await fs.promises.writeFile(tmp, text);
    await fs.promises.rename(tmp, file);
}
