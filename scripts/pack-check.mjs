#!/usr/bin/env node
/**
 * `npm run pack-check`: the package as a user gets it, end to end. Packs this checkout (`npm pack`, which builds
 * dist/ through `prepare`), installs the tarball into an empty temporary prefix (`npm install --prefix`, the
 * dependencies from the registry npm is configured with, the npm cache first), and then, through the installed
 * `zombiecoder` command only: prints the version, serves a generated model, lists it, chats with it, and shows
 * it loaded. Everything is removed afterwards (PACK_CHECK_KEEP=1 keeps the folder to look at).
 *
 * Plain JavaScript so it runs without the dev dependencies; no shell, so it runs the same on Windows.
 */
import {spawn} from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import {fileURLToPath, pathToFileURL} from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
const KEY = "pack-check-key";
const MODEL = "tiny";
const windows = process.platform === "win32";
// `--no-build` packs the dist/ that is already there (npm pack --ignore-scripts), to check the packaging alone.
const noBuild = process.argv.includes("--no-build");
const unknown = process.argv.slice(2).filter((a) => a !== "--no-build");
if (unknown.length > 0) {
    process.stderr.write(`usage: npm run pack-check [-- --no-build]\nerror: unknown argument ${JSON.stringify(unknown[0])}\n`);
    process.exit(2);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "zc-pack-check-"));
const prefix = path.join(work, "prefix");
const home = path.join(work, "home");
const started = performance.now();
const children = new Set();

function step(text) {
    process.stdout.write(`pack-check [${((performance.now() - started) / 1000).toFixed(1)} s] ${text}\n`);
}

class CheckFailed extends Error {}

function fail(message) {
    throw new CheckFailed(message);
}

/** npm settings a user may give through the environment; the rest of npm's variables describe the outer `npm run`. */
const KEPT_NPM = new Set(["npm_config_registry", "npm_config_cache", "npm_config_userconfig", "npm_config_offline", "npm_config_prefer_offline"]);

/**
 * The environment without the caller's provider settings (they would point the installed copy elsewhere) and
 * without the outer `npm run`'s own variables (a nested npm would take its prefix and package for its own).
 */
function cleanEnv(extra = {}) {
    const env = {};
    for (const [k, v] of Object.entries(process.env)) {
        if (k.startsWith("ZOMBIECODER_")) continue;
        if (k.toLowerCase().startsWith("npm_") && !KEPT_NPM.has(k.toLowerCase())) continue;
        env[k] = v;
    }
    return {...env, ...extra};
}

/** npm itself: the npm running this script when there is one (no shell needed on Windows), else npm on PATH. */
function npmCommand(args) {
    const cli = process.env.npm_execpath;
    if (cli && /\.[cm]?js$/.test(cli)) return {file: process.execPath, args: [cli, ...args], shell: false};
    return {file: windows ? "npm.cmd" : "npm", args, shell: windows};
}

/** Runs a command to its end; resolves with its exit code and output, rejects after `timeoutMs`. */
function run(file, args, {cwd = work, env = cleanEnv(), timeoutMs = 600_000, shell = false, echo = false} = {}) {
    return new Promise((resolve, reject) => {
        const child = spawn(file, args, {cwd, env, shell, stdio: ["ignore", "pipe", "pipe"]});
        children.add(child);
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => {
            stdout += d;
            if (echo) process.stdout.write(d);
        });
        child.stderr.on("data", (d) => {
            stderr += d;
            if (echo) process.stderr.write(d);
        });
        const timer = setTimeout(() => {
            child.kill("SIGKILL");
            reject(new CheckFailed(`${path.basename(file)} ${args.join(" ")} did not finish within ${timeoutMs / 1000} s\n${stderr}`));
        }, timeoutMs);
        child.once("error", (err) => {
            clearTimeout(timer);
            reject(err);
        });
        child.once("close", (code) => {
            clearTimeout(timer);
            children.delete(child);
            resolve({code, stdout, stderr});
        });
    });
}

function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const {port} = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

/** The installed `zombiecoder` as npm linked it: a symlink on POSIX, a .cmd shim on Windows. */
function zombiecoder() {
    const bin = path.join(prefix, "node_modules", ".bin", windows ? "zombiecoder.cmd" : "zombiecoder");
    if (!fs.existsSync(bin)) fail(`npm did not link the zombiecoder command (${bin} is missing): check "bin" in package.json`);
    return (args, opts = {}) => run(bin, args, {shell: windows, env: cleanEnv({ZOMBIECODER_API_KEY: KEY}), ...opts});
}

async function waitForHealth(url, server, timeoutMs) {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
        if (server.exitCode !== null) fail(`the installed provider exited with code ${server.exitCode} before it answered`);
        try {
            const res = await fetch(`${url}/health`, {signal: AbortSignal.timeout(1000)});
            if (res.ok) return (await res.json());
        } catch {
            // not listening yet
        }
        await new Promise((r) => setTimeout(r, 200));
    }
    fail(`the installed provider did not answer ${url}/health within ${timeoutMs / 1000} s`);
}

async function main() {
    step(`packing ${manifest.name} ${manifest.version} ${noBuild ? "from the dist/ already built" : "(npm pack runs the build)"}`);
    const pack = npmCommand(["pack", "--json", "--pack-destination", work, ...(noBuild ? ["--ignore-scripts"] : [])]);
    const packed = await run(pack.file, pack.args, {cwd: root, shell: pack.shell, env: cleanEnv()});
    if (packed.code !== 0) fail(`npm pack failed (exit ${packed.code}):\n${packed.stderr}`);
    // The build's own lines may come first; npm's JSON is the array that starts a line.
    const json = /^\[/m.exec(packed.stdout);
    if (!json) fail(`npm pack printed no JSON:\n${packed.stdout}`);
    const info = JSON.parse(packed.stdout.slice(json.index))[0];
    const tarball = path.join(work, info.filename);
    const files = info.files.map((f) => f.path);
    for (const needed of ["dist/cli/zombiecoder.js", "dist/cli/start.js", "dist/runner/main.js", "dist/bundle/runner.js", "tasks/provider-setup.yaml", "README.md"])
        if (!files.includes(needed)) fail(`the package lacks ${needed}: check "files" in package.json`);
    for (const f of files) if (f.startsWith("src/") || f.startsWith("test/")) fail(`the package carries ${f}: only the build belongs in it`);
    step(`packed ${info.filename}: ${files.length} files, ${(info.size / 1024).toFixed(0)} KB (${(info.unpackedSize / 1024).toFixed(0)} KB unpacked)`);

    step(`installing it into ${prefix}`);
    fs.mkdirSync(prefix, {recursive: true});
    const install = npmCommand(["install", "--prefix", prefix, tarball, "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"]);
    const installed = await run(install.file, install.args, {shell: install.shell, env: cleanEnv()});
    if (installed.code !== 0) fail(`npm install of the tarball failed (exit ${installed.code}):\n${installed.stderr}`);
    const zc = zombiecoder();

    const version = await zc(["--version"]);
    if (version.code !== 0 || version.stdout.trim() !== `zombiecoder ${manifest.version}`)
        fail(`zombiecoder --version printed ${JSON.stringify(version.stdout.trim())} (exit ${version.code}); expected "zombiecoder ${manifest.version}"\n${version.stderr}`);
    step(`zombiecoder --version: ${version.stdout.trim()}`);

    // The model comes from the installed package's own generator, so the build's copy of it is exercised too.
    const pkgDir = path.join(prefix, "node_modules", manifest.name);
    const {writeTestModel} = await import(pathToFileURL(path.join(pkgDir, "dist", "gguf", "test-model.js")).href);
    fs.mkdirSync(path.join(home, "models", MODEL), {recursive: true});
    await writeTestModel(path.join(home, "models", MODEL, `${MODEL}.gguf`), {});
    const port = await freePort();
    fs.mkdirSync(path.join(home, "config"), {recursive: true});
    fs.writeFileSync(path.join(home, "config", "provider_config.json"), JSON.stringify({server_port: port, context_size: 512, parallel: 1, threads: 1}, null, 2));
    const url = `http://127.0.0.1:${port}`;

    step(`zombiecoder serve --home ${home}`);
    const bin = path.join(prefix, "node_modules", ".bin", windows ? "zombiecoder.cmd" : "zombiecoder");
    const server = spawn(bin, ["serve", "--home", home], {cwd: work, shell: windows, env: cleanEnv({ZOMBIECODER_API_KEY: KEY}), stdio: ["ignore", "pipe", "pipe"]});
    children.add(server);
    let serverErr = "";
    server.stderr.on("data", (d) => (serverErr += d));
    server.stdout.resume();
    try {
        const health = await waitForHealth(url, server, 60_000);
        if (health.version !== manifest.version) fail(`/health reports version ${health.version}, expected ${manifest.version}`);

        const list = await zc(["list", "--home", home]);
        if (list.code !== 0 || !list.stdout.includes(MODEL)) fail(`zombiecoder list did not list ${MODEL} (exit ${list.code}):\n${list.stdout}${list.stderr}`);
        step(`zombiecoder list: ${MODEL} is installed`);

        const chat = await zc(["run", MODEL, "Say hello.", "--home", home], {timeoutMs: 120_000});
        // A generated model's words are noise and differ between CPUs: what counts is that an answer streamed.
        if (chat.code !== 0 || chat.stdout.trim() === "") fail(`zombiecoder run gave no answer (exit ${chat.code}):\n${chat.stdout}${chat.stderr}`);
        step(`zombiecoder run ${MODEL}: answered ${chat.stdout.trim().length} characters`);

        const ps = await zc(["ps", "--home", home]);
        if (ps.code !== 0 || !ps.stdout.includes(MODEL)) fail(`zombiecoder ps did not show ${MODEL} loaded (exit ${ps.code}):\n${ps.stdout}${ps.stderr}`);
        step(`zombiecoder ps: ${MODEL} is loaded`);

        const status = await (await fetch(`${url}/runtime/status`, {headers: {"x-api-key": KEY}})).json();
        const bundle = path.join(pkgDir, "dist", "bundle", "runner.js");
        if (status.runner?.script !== bundle) fail(`runners start from ${status.runner?.script}, not the bundle ${bundle} (scripts/bundle-engine.mjs)`);
        step("runners start from the installed package's bundle");
    } catch (err) {
        if (serverErr.trim() !== "") process.stderr.write(`provider stderr:\n${serverErr}\n`);
        throw err;
    } finally {
        await stop(server);
    }
    if (windows) return;
    if (server.exitCode !== 0) fail(`the provider exited with code ${server.exitCode} on SIGTERM, expected a clean 0\n${serverErr}`);
    step("the provider stopped cleanly on SIGTERM");
}

function stop(child) {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
        const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
        child.once("exit", () => {
            clearTimeout(timer);
            children.delete(child);
            resolve();
        });
        child.kill("SIGTERM");
    });
}

let code = 0;
try {
    await main();
    step("passed");
} catch (err) {
    process.stderr.write(`pack-check FAILED: ${err instanceof CheckFailed ? err.message : err?.stack ?? String(err)}\n`);
    code = 1;
} finally {
    for (const c of children) c.kill("SIGKILL");
    if (process.env.PACK_CHECK_KEEP === "1") step(`kept ${work}`);
    else fs.rmSync(work, {recursive: true, force: true});
}
process.exit(code);
