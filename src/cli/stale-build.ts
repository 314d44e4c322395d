/**
 * A build older than the source beside it. An installed package ships dist/ alone, so this can only happen in a
 * checkout where someone edited src/ and did not rebuild: the commands still run (the build is whole, just old),
 * and say once on stderr how to catch up, instead of silently running yesterday's code.
 */
import fs from "node:fs";
import path from "node:path";
import {currentLayout, packageRoot, type Layout} from "../build-layout.js";

export interface BuildInfo {
    version: string;
    /** When the build started: a file saved after it is newer than the build. */
    built_at_ms: number;
}

/** dist/build-info.json as scripts/build.mjs writes it, or null when absent or unreadable. */
export function readBuildInfo(root: string = packageRoot): BuildInfo | null {
    try {
        const info = JSON.parse(fs.readFileSync(path.join(root, "dist", "build-info.json"), "utf8")) as Partial<BuildInfo>;
        return typeof info.built_at_ms === "number" && typeof info.version === "string" ? {version: info.version, built_at_ms: info.built_at_ms} : null;
    } catch {
        return null;
    }
}

/** The most recently modified file under `dir` (its path and mtime), or null when there is none. */
export function newestFile(dir: string): {file: string; mtimeMs: number} | null {
    let best: {file: string; mtimeMs: number} | null = null;
    let entries: fs.Dirent[];
    try {
        entries = fs.readdirSync(dir, {withFileTypes: true});
    } catch {
        return null;
    }
    for (const e of entries) {
        const p = path.join(dir, e.name);
        const found = e.isDirectory() ? newestFile(p) : e.isFile() ? {file: p, mtimeMs: fs.statSync(p).mtimeMs} : null;
        if (found && (!best || found.mtimeMs > best.mtimeMs)) best = found;
    }
    return best;
}

/**
 * The warning to print when this process runs a build that is older than the source next to it, else null
 * (running the source, an installed package without src/, or a build that is current).
 */
export function staleBuildWarning(root: string = packageRoot, layout: Layout = currentLayout): string | null {
    if (layout !== "build") return null;
    const src = path.join(root, "src");
    if (!fs.existsSync(src)) return null;
    const info = readBuildInfo(root);
    const newest = newestFile(src);
    if (!newest) return null;
    if (info && newest.mtimeMs <= info.built_at_ms) return null;
    const changed = path.relative(root, newest.file);
    return `warning: dist/ is older than the source (${changed} changed since the build${info ? ` of ${new Date(info.built_at_ms).toISOString()}` : ""}); ` +
        "this runs the old build. Rebuild with `npm run build`, or run the source with `npm run dev`.";
}
