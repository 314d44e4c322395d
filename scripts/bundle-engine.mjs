/**
 * The build's second step: bundles the processes that load node-llama-cpp (a model's runner, the GGUF header
 * reader) into dist/bundle/ with esbuild, node-llama-cpp's own JavaScript included.
 *
 * Why: importing node-llama-cpp is ~400 ES modules (its index re-exports the downloader, the CLI's helpers and
 * more); Node 20 resolves, reads and links each one, with no compile cache. On the project's 2-core VM the plain
 * import took 380-550 ms and left the process at 80 MB RSS; the same code as one file took 130-150 ms and 60 MB.
 * Every model load starts a runner, so this is on the cold path of every first request.
 *
 * node-llama-cpp finds its files (llama/, its binaries' packages, its own test script) from `import.meta.url` and
 * by importing `@node-llama-cpp/<platform>`. In the bundle those would name the bundle's folder, so each
 * `import.meta.url` in node-llama-cpp's modules becomes the URL of that module where it is installed, found when
 * the bundle starts (`require.resolve("node-llama-cpp")`, as the unbundled build resolves it), and each import of a
 * binaries package is resolved from node-llama-cpp's folder, as it would be. The binaries stay where npm put them.
 *
 * dist/bundle/bundle.json records the node-llama-cpp version bundled; the server forks a bundle only while the
 * installed version is that one (src/build-layout.ts) and otherwise the plain dist/ modules, so an override of the
 * dependency can never pair one version's JavaScript with another's binaries.
 */
import fs from "node:fs";
import {createRequire} from "node:module";
import path from "node:path";
import {pathToFileURL} from "node:url";

/** The modules bundled, by their name in dist/ (without extension), and the bundle's name in dist/bundle/. */
export const ENGINE_BUNDLES = {"runner/main": "runner", "registry/header-child": "header-child"};

const BANNER = `import {createRequire as __zcCreateRequire} from "node:module";
import __zcPath from "node:path";
import {pathToFileURL as __zcPathToFileURL} from "node:url";
const require = __zcCreateRequire(import.meta.url);
const __zcEngineIndex = require.resolve("node-llama-cpp");
const __zcEngineRoot = __zcPath.dirname(__zcPath.dirname(__zcEngineIndex));
const __zcEngineRequire = __zcCreateRequire(__zcEngineIndex);
const __zcEngineUrl = (file) => __zcPathToFileURL(__zcPath.join(__zcEngineRoot, file)).href;
const __zcEngineImport = (specifier) => {
    try {
        return import(__zcPathToFileURL(__zcEngineRequire.resolve(specifier)).href);
    } catch (err) {
        return Promise.reject(err);
    }
};`;

/** The esbuild plugin that keeps node-llama-cpp's file lookups pointing at its installed folder. */
function enginePaths(engineRoot) {
    return {
        name: "zombiecoder-engine-paths",
        setup(build) {
            build.onLoad({filter: /[\\/]node_modules[\\/]node-llama-cpp[\\/]dist[\\/].*\.js$/}, async (args) => {
                const rel = path.relative(engineRoot, args.path).split(path.sep).join("/");
                let text = await fs.promises.readFile(args.path, "utf8");
                text = text.replaceAll("import.meta.url", `__zcEngineUrl(${JSON.stringify(rel)})`);
                text = text.replace(/\bimport\((["'])(@node-llama-cpp\/[^"']+)\1\)/g, (_, _q, spec) => `__zcEngineImport(${JSON.stringify(spec)})`);
                return {contents: text, loader: "js"};
            });
        }
    };
}

/**
 * Writes dist/bundle/. Returns null when esbuild is not installed (dev dependencies omitted): the server then forks
 * the plain modules, which work the same, only slower to start.
 */
export async function bundleEngine(root, dist) {
    const require = createRequire(path.join(root, "package.json"));
    let esbuild;
    try {
        // a file URL: import() refuses a bare Windows path (C:\...)
        esbuild = await import(pathToFileURL(require.resolve("esbuild")).href);
    } catch {
        return null;
    }
    const engineManifest = path.join(path.dirname(path.dirname(require.resolve("node-llama-cpp"))), "package.json");
    const engineRoot = path.dirname(engineManifest);
    const {version} = JSON.parse(fs.readFileSync(engineManifest, "utf8"));
    const outdir = path.join(dist, "bundle");
    const entryPoints = Object.entries(ENGINE_BUNDLES).map(([module, out]) => ({in: path.join(dist, ...module.split("/")) + ".js", out}));
    const result = await esbuild.build({
        entryPoints,
        outdir,
        bundle: true,
        splitting: true,
        platform: "node",
        format: "esm",
        target: "node20",
        // the binaries' packages are native code found at run time; @reflink is the downloader's optional native part
        external: ["@node-llama-cpp/*", "@reflink/*", "electron"],
        banner: {js: BANNER},
        plugins: [enginePaths(engineRoot)],
        logLevel: "error",
        legalComments: "none"
    });
    if (result.errors.length > 0) throw new Error(`esbuild: ${result.errors.map((e) => e.text).join("; ")}`);
    fs.writeFileSync(path.join(outdir, "bundle.json"), `${JSON.stringify({nodeLlamaCpp: version, bundles: ENGINE_BUNDLES}, null, 2)}\n`);
    return {outdir, version};
}
