import {currentLayout, engineEntry, type Layout, type NodeEntry} from "../build-layout.js";

/**
 * The script and node options a runner child starts with: the same tree as the server that forks it, so the
 * build forks the runner's bundle, `dist/bundle/runner.js` (or `dist/runner/main.js` when there is none for the
 * installed node-llama-cpp), with no loader (no TypeScript compile on every model load) and the source,
 * under tsx or the tests, forks `src/runner/main.ts` with tsx's loader.
 */
export function runnerEntry(layout: Layout = currentLayout): NodeEntry {
    return engineEntry("runner/main", layout);
}
