import fs from "node:fs";
import path from "node:path";
import {DownloadError} from "./errors.js";

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

export interface RoomCheck {
    probe: FreeSpaceProbe;
    /** The folder the bytes go to (models_dir). */
    dir: string;
    /** Bytes this download still has to write. */
    need: number;
    /** Bytes the other active downloads still have to write: the free space is shared. Read after the probe. */
    reserved: () => number;
    /** What is being downloaded, for the message. */
    what: string;
}

/** Refuses (insufficient_storage) a download that would leave less than the headroom free; passes when the OS cannot tell. */
export async function assertRoom(c: RoomCheck): Promise<void> {
    const free = await c.probe(c.dir);
    if (free == null) return;
    const reserved = c.reserved();
    if (c.need + reserved + FREE_SPACE_HEADROOM > free) {
        throw new DownloadError("insufficient_storage",
            `not enough disk space for ${c.what}: it needs ${formatBytes(c.need)}` +
            (reserved > 0 ? ` (plus ${formatBytes(reserved)} for other running downloads)` : "") +
            `, but only ${formatBytes(free)} is free on the drive holding ${c.dir}. ` +
            `Free some space (npm run audit lists safe-to-delete files) or move models_dir.`);
    }
}
