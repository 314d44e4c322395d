#!/usr/bin/env node
/**
 * `npm run build` (and `prepare`, which `npm install` and `npm ci` run by themselves): compiles src/ to dist/ with
 * tsc, one .js file per .ts module, copies the files the modules read next to themselves (the dashboard's
 * assets), and bundles the two processes that load node-llama-cpp into dist/bundle/ (bundle-engine.mjs). dist/ is
 * emptied first so a module deleted from src/ cannot linger in the build.
 *
 * Plain JavaScript, so it runs before anything is compiled and on any shell npm uses (sh, cmd.exe).
 */
import {spawnSync} from "node:child_process";
import fs from "node:fs";
import {createRequire} from "node:module";
import path from "node:path";
import {fileURLToPath} from "node:url";
import {bundleEngine} from "./bundle-engine.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const src = path.join(root, "src");
const dist = path.join(root, "dist");
const entry = path.join(dist, "cli", "zombiecoder.js");

function fail(message) {
    process.stderr.write(`build: ${message}\n`);
    process.exit(1);
}

let tsc;
try {
    tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
} catch {
    // `npm ci --omit=dev` in a checkout still runs `prepare`, without the compiler: an existing build is kept.
    if (fs.existsSync(entry)) {
        process.stderr.write("build: typescript is not installed (dev dependencies omitted); keeping the existing dist/\n");
        process.exit(0);
    }
    fail("typescript is not installed and there is no dist/ yet: run `npm install` (with dev dependencies) first");
}

// Taken before compiling: a source file saved while tsc runs counts as newer than this build.
const startedAt = Date.now();
fs.rmSync(dist, {recursive: true, force: true});
const r = spawnSync(process.execPath, [tsc, "-p", path.join(root, "tsconfig.build.json")], {cwd: root, stdio: "inherit"});
if (r.error) fail(`could not run tsc: ${r.error.message}`);
if (r.status !== 0) fail(`tsc failed (exit ${r.status ?? r.signal}); dist/ is incomplete`);

/** Copies every file that is not TypeScript source, keeping its place in the tree. */
function copyAssets(from, to) {
    let copied = 0;
    for (const e of fs.readdirSync(from, {withFileTypes: true})) {
        const a = path.join(from, e.name);
        const b = path.join(to, e.name);
        if (e.isDirectory()) copied += copyAssets(a, b);
        else if (e.isFile() && !e.name.endsWith(".ts")) {
            fs.mkdirSync(to, {recursive: true});
            fs.copyFileSync(a, b);
            copied++;
        }
    }
    return copied;
}
const assets = copyAssets(src, dist);
if (!fs.existsSync(entry)) fail(`tsc did not write ${path.relative(root, entry)}`);
if (process.platform !== "win32") fs.chmodSync(entry, 0o755);

// the runner and the header reader as single files (bundle-engine.mjs says why); without esbuild the plain modules serve
const bundled = await bundleEngine(root, dist);
if (bundled == null) process.stderr.write("build: esbuild is not installed; runners will start from the plain modules (slower to start)\n");

const version = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).version;
fs.writeFileSync(path.join(dist, "build-info.json"), `${JSON.stringify({version, built_at_ms: startedAt, built_at: new Date(startedAt).toISOString()}, null, 2)}\n`);
process.stdout.write(`build: dist/ written in ${((Date.now() - startedAt) / 1000).toFixed(1)} s (${assets} asset file${assets === 1 ? "" : "s"} copied${bundled ? `, node-llama-cpp ${bundled.version} bundled` : ""})\n`);
