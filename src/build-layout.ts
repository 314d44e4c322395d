/**
 * Where this package is, and which of its two trees this process runs from: the TypeScript source (`src/`, run by
 * tsx during development and by the tests) or the compiled build (`dist/`, what `npm start`, the `zombiecoder`
 * command, the services and an installed package run). A child process is started from the same tree as its
 * parent, so a build never needs tsx and a test always runs the source it is testing.
 */
import fs from "node:fs";
import {createRequire} from "node:module";
import path from "node:path";
import {fileURLToPath, pathToFileURL} from "node:url";

/** The name in our package.json; a package.json with another name (a dependency's, a workspace's) is passed over. */
export const PACKAGE_NAME = "zombiecoder-provider";

export type Layout = "source" | "build";

export interface PackageManifest {
    name: string;
    version: string;
}

/**
 * The nearest folder at or above `fromDir` whose package.json is ours. Walking up instead of a fixed `../` keeps
 * this right wherever the module ends up (src/, dist/, an installed package under node_modules).
 */
export function findPackageRoot(fromDir: string, name: string = PACKAGE_NAME): string {
    let dir = path.resolve(fromDir);
    for (;;) {
        const manifest = readManifest(path.join(dir, "package.json"));
        if (manifest?.name === name) return dir;
        const parent = path.dirname(dir);
        if (parent === dir) throw new Error(`no package.json named "${name}" in ${fromDir} or any folder above it`);
        dir = parent;
    }
}

function readManifest(file: string): PackageManifest | null {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch {
        return null;
    }
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null) return null;
    const {name, version} = parsed as Record<string, unknown>;
    return typeof name === "string" ? {name, version: typeof version === "string" ? version : "0.0.0"} : null;
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** The package's top folder (the checkout, or the installed package). */
export const packageRoot: string = findPackageRoot(here);

/** Our package.json's name and version, read once. */
export const packageManifest: PackageManifest = readManifest(path.join(packageRoot, "package.json"))!;

/** The tree of a module URL: a `.ts` module is the source; anything else was compiled. */
export function layoutOf(moduleUrl: string): Layout {
    return moduleUrl.endsWith(".ts") ? "source" : "build";
}

/** The tree this process runs from. */
export const currentLayout: Layout = layoutOf(import.meta.url);

export interface NodeEntry {
    /** The script node runs. */
    script: string;
    /** Node's own options before the script: tsx's loader for the source, nothing for the build. */
    execArgv: string[];
}

/**
 * How node starts one of the package's modules, named without extension from the tree's top
 * (`"runner/main"`, `"cli/start"`): `dist/<module>.js` as it is, or `src/<module>.ts` under tsx's loader.
 * `node --import tsx` keeps one process (the tsx CLI would start a second), so signals reach the module itself.
 */
export function nodeEntry(module: string, layout: Layout = currentLayout, root: string = packageRoot): NodeEntry {
    const parts = module.split("/");
    if (layout === "build") return {script: path.join(root, "dist", ...parts) + ".js", execArgv: []};
    return {script: path.join(root, "src", ...parts) + ".ts", execArgv: tsxExecArgv()};
}

/** dist/bundle/bundle.json, written by scripts/bundle-engine.mjs. */
interface BundleManifest {
    nodeLlamaCpp: string;
    bundles: Record<string, string>;
}

/** The installed node-llama-cpp's version, resolved as the plain build imports it; read, never imported. */
function installedEngineVersion(root: string): string | null {
    try {
        const index = createRequire(path.join(root, "package.json")).resolve("node-llama-cpp");
        const manifest: unknown = JSON.parse(fs.readFileSync(path.join(path.dirname(path.dirname(index)), "package.json"), "utf8"));
        const version = (manifest as {version?: unknown}).version;
        return typeof version === "string" ? version : null;
    } catch {
        return null;
    }
}

/**
 * How node starts a module that loads node-llama-cpp (`"runner/main"`, `"registry/header-child"`): in the build, its
 * single-file bundle from dist/bundle/ (a runner starts ~250 ms sooner and 20 MB smaller: scripts/bundle-engine.mjs)
 * while the node-llama-cpp installed is the version bundled, otherwise the module as nodeEntry starts it.
 */
export function engineEntry(module: string, layout: Layout = currentLayout, root: string = packageRoot): NodeEntry {
    if (layout === "build") {
        const dir = path.join(root, "dist", "bundle");
        const manifest = readJson(path.join(dir, "bundle.json")) as BundleManifest | null;
        const name = manifest?.bundles?.[module];
        if (name != null && manifest!.nodeLlamaCpp === installedEngineVersion(root)) {
            const script = path.join(dir, `${name}.js`);
            if (fs.existsSync(script)) return {script, execArgv: []};
        }
    }
    return nodeEntry(module, layout, root);
}

function readJson(file: string): unknown {
    try {
        return JSON.parse(fs.readFileSync(file, "utf8"));
    } catch {
        return null;
    }
}

/** Node's options that make it run TypeScript through tsx (a development dependency: absent from an installed package). */
export function tsxExecArgv(): string[] {
    return ["--import", tsxLoader()];
}

let loader: string | undefined;

/** tsx's loader as a file URL, resolved from this package, so the working directory does not matter. */
function tsxLoader(): string {
    loader ??= pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
    return loader;
}
