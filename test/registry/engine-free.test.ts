/**
 * node-llama-cpp costs the process that imports it about 35 MB RSS for good. The server needs it only to read GGUF
 * headers, which `header-reader.ts` does on demand (in a child process in the build), so nothing the registry or
 * the logger imports statically may reach it.
 */
import fs from "node:fs";
import path from "node:path";
import {describe, expect, it} from "vitest";

const SRC = path.resolve(import.meta.dirname, "../../src");
const IMPORT = /^\s*(import|export)\s+(type\s+)?([^'"]*?\s+from\s+)?["']([^"']+)["']/gm;

/** The chain of run-time (not type-only) static imports from `entry` to `pkg`, or null when none reaches it. */
function chainTo(entry: string, pkg: string): string[] | null {
    const seen = new Set<string>();
    const walk = (file: string, chain: string[]): string[] | null => {
        if (seen.has(file)) return null;
        seen.add(file);
        for (const m of fs.readFileSync(file, "utf8").matchAll(IMPORT)) {
            const clause = m[3]?.trim() ?? "";
            if (m[2] || (/^\{[^}]*\}\s*from$/.test(clause) && clause.replace(/[{}]|from$/g, "").split(",").every((n) => n.trim() === "" || n.trim().startsWith("type ")))) continue;
            const spec = m[4]!;
            const here = [...chain, path.relative(SRC, file)];
            if (spec === pkg || spec.startsWith(`${pkg}/`)) return [...here, spec];
            if (!spec.startsWith(".")) continue;
            const found = walk(path.resolve(path.dirname(file), spec.replace(/\.js$/, ".ts")), here);
            if (found) return found;
        }
        return null;
    };
    return walk(path.join(SRC, entry), []);
}

describe("what the server loads for the registry and its logs", () => {
    it("the scan, the header facts and the logger never import node-llama-cpp statically", () => {
        for (const entry of ["registry/scan.ts", "registry/gguf-header.ts", "registry/header-reader.ts", "log/logger.ts"])
            expect(chainTo(entry, "node-llama-cpp"), entry).toBeNull();
    });

    it("the whole server (what `npm start` and the services run) never imports node-llama-cpp statically", () => {
        for (const entry of ["cli/start.ts", "server/serve.ts", "server/app.ts"])
            expect(chainTo(entry, "node-llama-cpp"), entry).toBeNull();
    });

    it("the walker sees the import where there is one: the header reading itself", () => {
        expect(chainTo("registry/gguf-read.ts", "node-llama-cpp")).toEqual(["registry/gguf-read.ts", "node-llama-cpp"]);
        expect(chainTo("registry/header-child.ts", "node-llama-cpp")).toEqual(["registry/header-child.ts", "registry/gguf-read.ts", "node-llama-cpp"]);
    });
});
