import {currentLayout, nodeEntry, type Layout, type NodeEntry} from "../build-layout.js";

/**
 * The script and node options a runner child starts with: the same tree as the server that forks it, so the
 * build forks `dist/runner/main.js` with no loader (no TypeScript compile on every model load) and the source,
 * under tsx or the tests, forks `src/runner/main.ts` with tsx's loader.
 */
export function runnerEntry(layout: Layout = currentLayout): NodeEntry {
    return nodeEntry("runner/main", layout);
}
