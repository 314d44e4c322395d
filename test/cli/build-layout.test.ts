/** Finding the package root and the version wherever a module runs, and how each tree starts a child module. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {afterAll, describe, expect, it} from "vitest";
import {currentLayout, engineEntry, findPackageRoot, layoutOf, nodeEntry, PACKAGE_NAME, packageRoot} from "../../src/build-layout.js";
import {runnerEntry} from "../../src/runtime/runner-entry.js";
import {PROVIDER_VERSION} from "../../src/version.js";

const checkout = path.resolve(import.meta.dirname, "..", "..");
const temp = fs.mkdtempSync(path.join(os.tmpdir(), "zc-layout-"));
afterAll(() => fs.rmSync(temp, {recursive: true, force: true}));

function writeJson(file: string, value: unknown): void {
    fs.mkdirSync(path.dirname(file), {recursive: true});
    fs.writeFileSync(file, JSON.stringify(value));
}

describe("package root and version", () => {
    it("the version is package.json's", () => {
        const manifest = JSON.parse(fs.readFileSync(path.join(checkout, "package.json"), "utf8")) as {version: string};
        expect(PROVIDER_VERSION).toBe(manifest.version);
        expect(packageRoot).toBe(checkout);
    });

    it("walks up from a module as deep as dist/cli and passes over other packages' package.json", () => {
        // An installed copy: ours under node_modules, inside a project that has a package.json of its own.
        const project = path.join(temp, "project");
        const ours = path.join(project, "node_modules", PACKAGE_NAME);
        writeJson(path.join(project, "package.json"), {name: "someone-else", version: "9.9.9"});
        writeJson(path.join(ours, "package.json"), {name: PACKAGE_NAME, version: "1.2.3"});
        writeJson(path.join(ours, "dist", "cli", "package.json"), {type: "module"});
        expect(findPackageRoot(path.join(ours, "dist", "cli"))).toBe(ours);
        expect(findPackageRoot(path.join(project, "src"), "someone-else")).toBe(project);
    });

    it("says which package it looked for when there is none above", () => {
        const lone = path.join(temp, "lone", "dist");
        fs.mkdirSync(lone, {recursive: true});
        expect(() => findPackageRoot(lone, "no-such-package-anywhere")).toThrow(/no package\.json named "no-such-package-anywhere" in .*lone/);
    });
});

describe("entry points", () => {
    it("tells the trees apart by the module's extension", () => {
        expect(layoutOf("file:///x/src/cli/start.ts")).toBe("source");
        expect(layoutOf("file:///x/dist/cli/start.js")).toBe("build");
        // vitest runs the TypeScript source
        expect(currentLayout).toBe("source");
    });

    it("starts the build's JavaScript with no loader", () => {
        expect(nodeEntry("cli/start", "build", "/opt/zc")).toEqual({script: path.join("/opt/zc", "dist", "cli", "start.js"), execArgv: []});
        // the checkout's build bundles the runner (npm ci builds it); without esbuild it is the plain module
        expect([path.join(checkout, "dist", "bundle", "runner.js"), path.join(checkout, "dist", "runner", "main.js")]).toContain(runnerEntry("build").script);
        expect(runnerEntry("build").execArgv).toEqual([]);
    });

    it("starts an engine process from its bundle only while the installed node-llama-cpp is the version bundled", () => {
        const root = path.join(temp, "bundled");
        writeJson(path.join(root, "package.json"), {name: PACKAGE_NAME, version: "1.0.0"});
        const engine = path.join(root, "node_modules", "node-llama-cpp");
        writeJson(path.join(engine, "package.json"), {name: "node-llama-cpp", version: "3.21.1", main: "dist/index.js"});
        fs.mkdirSync(path.join(engine, "dist"), {recursive: true});
        fs.writeFileSync(path.join(engine, "dist", "index.js"), "");
        const plain = {script: path.join(root, "dist", "runner", "main.js"), execArgv: []};
        // no bundle built (esbuild was not installed)
        expect(engineEntry("runner/main", "build", root)).toEqual(plain);
        writeJson(path.join(root, "dist", "bundle", "bundle.json"), {nodeLlamaCpp: "3.21.1", bundles: {"runner/main": "runner"}});
        fs.writeFileSync(path.join(root, "dist", "bundle", "runner.js"), "");
        expect(engineEntry("runner/main", "build", root)).toEqual({script: path.join(root, "dist", "bundle", "runner.js"), execArgv: []});
        // a module the bundle does not carry, and the source tree, start as nodeEntry starts them
        expect(engineEntry("registry/header-child", "build", root).script).toBe(path.join(root, "dist", "registry", "header-child.js"));
        expect(engineEntry("runner/main", "source", root).script).toBe(path.join(root, "src", "runner", "main.ts"));
        // another node-llama-cpp installed over the one bundled: its JavaScript must come with its binaries
        writeJson(path.join(engine, "package.json"), {name: "node-llama-cpp", version: "3.22.0", main: "dist/index.js"});
        expect(engineEntry("runner/main", "build", root)).toEqual(plain);
    });

    it("starts the source under tsx's loader, resolved to a file so the working directory does not matter", () => {
        const e = runnerEntry("source");
        expect(e.script).toBe(path.join(checkout, "src", "runner", "main.ts"));
        expect(fs.existsSync(e.script)).toBe(true);
        expect(e.execArgv[0]).toBe("--import");
        expect(e.execArgv[1]).toMatch(/^file:\/\/.*tsx/);
    });
});
