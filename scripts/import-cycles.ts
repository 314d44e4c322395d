/**
 * Finds import circles among the TypeScript files of a folder. Only imports that exist at run time count:
 * `import type` and `export type` lines are erased by the compiler and cannot form a circle.
 * Run: `npx tsx scripts/import-cycles.ts [folder]` (default src/); exits 1 when it finds one.
 */
import fs from "node:fs";
import path from "node:path";

const IMPORT = /^\s*(import|export)\s+(type\s+)?([^'"]*?\s+from\s+)?["']([^"']+)["']/gm;

/** The relative run-time imports of one file, resolved to absolute .ts paths. */
export function sourceImports(file: string): string[] {
    const text = fs.readFileSync(file, "utf8");
    const out: string[] = [];
    for (const m of text.matchAll(IMPORT)) {
        if (m[2]) continue;
        const spec = m[4]!;
        if (!spec.startsWith(".")) continue;
        // `import {type A, type B} from` is erased too
        if (m[3] && /^\{[^}]*\}\s+from\s+$/.test(m[3].trim() + " ") && m[3].replace(/[{}]/g, "").split(",").every((n) => n.trim() === "" || n.trim().startsWith("type "))) continue;
        out.push(path.resolve(path.dirname(file), spec.replace(/\.js$/, ".ts")));
    }
    return out;
}

function tsFiles(dir: string): string[] {
    return fs.readdirSync(dir, {withFileTypes: true}).flatMap((e) => {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) return tsFiles(p);
        return e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [p] : [];
    });
}

/** Every elementary circle found by a depth-first walk, each as relative paths starting and ending at the same file. */
export function findImportCycles(root: string): string[][] {
    const files = tsFiles(root).sort();
    const graph = new Map(files.map((f) => [f, sourceImports(f).filter((i) => fs.existsSync(i))]));
    const cycles: string[][] = [];
    const seen = new Set<string>();
    const state = new Map<string, "open" | "done">();
    const stack: string[] = [];
    const visit = (f: string): void => {
        state.set(f, "open");
        stack.push(f);
        for (const next of graph.get(f) ?? []) {
            if (state.get(next) === "open") {
                const cycle = stack.slice(stack.indexOf(next)).concat(next).map((p) => path.relative(root, p).split(path.sep).join("/"));
                const key = [...cycle].slice(0, -1).sort().join("|");
                if (!seen.has(key)) {
                    seen.add(key);
                    cycles.push(cycle);
                }
            } else if (!state.has(next)) visit(next);
        }
        stack.pop();
        state.set(f, "done");
    };
    for (const f of files) if (!state.has(f)) visit(f);
    return cycles;
}

const isMain = process.argv[1] != null && path.resolve(process.argv[1]) === path.resolve(import.meta.filename);
if (isMain) {
    const root = path.resolve(process.argv[2] ?? "src");
    const cycles = findImportCycles(root);
    for (const c of cycles) process.stdout.write(c.join(" -> ") + "\n");
    process.stdout.write(cycles.length === 0 ? `no import circles in ${root}\n` : `${cycles.length} import circle(s)\n`);
    process.exitCode = cycles.length === 0 ? 0 : 1;
}
