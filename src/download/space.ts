import fs from "node:fs";
import path from "node:path";

/** Free bytes available to this user on the volume holding `dir`; null when the OS cannot tell. */
export type FreeSpaceProbe = (dir: string) => Promise<number | null>;

/**
 * `fs.statfs` on the nearest existing ancestor (the target folder usually does not exist yet). Works on Windows,
 * macOS and Linux since Node 18.15; `bavail` (not `bfree`) is what a non-root user can actually write.
 */
export const statfsFreeSpace: FreeSpaceProbe = async (dir) => {
    let d = path.resolve(dir);
    // Bounded: every step goes one folder up, and the root is its own parent.
    for (let i = 0; i < 256; i++) {
        try {
            const s = await fs.promises.statfs(d);
            return Number(s.bavail) * Number(s.bsize);
        } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            const parent = path.dirname(d);
            if ((code !== "ENOENT" && code !== "ENOTDIR") || parent === d) return null;
            d = parent;
        }
    }
    return null;
};

/** Room kept free beyond the file itself, so a download never fills the disk to the last byte. */
export const FREE_SPACE_HEADROOM = 16 * 1024 * 1024;

export function formatBytes(n: number): string {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let v = n;
    let u = 0;
    while (v >= 1024 && u < units.length - 1) {
        v /= 1024;
        u++;
    }
    return `${u === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}
