/**
 * The watchdog for real, in direct mode, on this machine: it starts the provider (the real src/cli/start.ts
 * when present, otherwise the stand-in fixture), and must bring it back after kill -9 and after a hang.
 */
import fs from "node:fs";
import path from "node:path";
import {execa} from "execa";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {projectRoot, type ProviderConfig} from "../../src/config/load.js";
import {checkHealth} from "../../src/watchdog/health.js";
import {LockHeldError} from "../../src/watchdog/lock.js";
import {watchdogOptionsFromConfig} from "../../src/watchdog/options.js";
import {isProcessAlive} from "../../src/watchdog/process.js";
import {Watchdog, type RestartRecord, type WatchdogOptions, type WatchdogState} from "../../src/watchdog/watchdog.js";
import {addModel} from "../helpers/home.js";
import {freePort, killHard, makeHome, providerCommand, readJsonLines, useRealServer, waitDead, waitFor} from "./helpers.js";

const spawned = new Set<number>();
const watchdogs: Watchdog[] = [];
const homes: string[] = [];

const FAST: Partial<WatchdogOptions> = {
    intervalMs: 200,
    timeoutMs: 600,
    failuresBeforeRestart: 2,
    maxRestarts: 5,
    windowMs: 60_000,
    backoffInitialMs: 100,
    backoffMaxMs: 400,
    // The real server compiles TypeScript on start.
    startupTimeoutMs: 20_000,
    stopTimeoutMs: 4_000
};

async function makeWatchdog(config: ProviderConfig, overrides: Partial<WatchdogOptions> = {}): Promise<Watchdog> {
    const opts = await watchdogOptionsFromConfig(config, {mode: "direct", provider: providerCommand(config), overrides: {...FAST, ...overrides}});
    const wd = new Watchdog(opts);
    wd.on("spawned", (pid: number) => spawned.add(pid));
    watchdogs.push(wd);
    return wd;
}

function nextEvent<T>(wd: Watchdog, name: string, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "${name}" event within ${timeoutMs} ms`)), timeoutMs);
        wd.once(name, (v: T) => {
            clearTimeout(timer);
            resolve(v);
        });
    });
}

/** This process's environment without provider variables that would point the CLI elsewhere. */
function cleanEnv(): NodeJS.ProcessEnv {
    const env = {...process.env};
    for (const k of Object.keys(env)) if (k.startsWith("ZOMBIECODER_")) delete env[k];
    return env;
}

afterAll(async () => {
    for (const wd of watchdogs) await wd.stop({stopProvider: true}).catch(() => undefined);
    for (const pid of spawned) killHard(pid);
    for (const h of homes) fs.rmSync(h, {recursive: true, force: true});
});

describe(`watchdog in direct mode (${useRealServer ? "real src/cli/start.ts" : "stand-in server"})`, () => {
    let config: ProviderConfig;
    let wd: Watchdog;
    let url: string;

    beforeAll(async () => {
        config = makeHome(await freePort());
        homes.push(config.home);
        url = `http://127.0.0.1:${config.server_port}`;
        wd = await makeWatchdog(config);
        await wd.start();
        await waitFor("the provider to answer /health", async () => (await checkHealth(url, 1000)).ok, 25_000, 100);
        await waitFor("the watchdog to see it healthy", () => wd.state === "watching", 5_000);
    });

    it("starts the provider, records its PID and takes the lock", () => {
        const pid = wd.providerPid!;
        expect(isProcessAlive(pid)).toBe(true);
        expect(JSON.parse(fs.readFileSync(wd.files.pid, "utf8")).pid).toBe(pid);
        expect(JSON.parse(fs.readFileSync(wd.files.lock, "utf8")).pid).toBe(process.pid);
    });

    it("restarts the provider after kill -9, within the interval plus backoff and startup", async () => {
        const oldPid = wd.providerPid!;
        const restarted = nextEvent<RestartRecord>(wd, "restart", 5_000);
        const recovered = nextEvent<RestartRecord>(wd, "recovered", 25_000);
        const t0 = Date.now();
        process.kill(oldPid, "SIGKILL");
        const rec = await restarted;
        // Exit is noticed at once (not on the next interval), then one backoff step.
        expect(Date.now() - t0).toBeLessThan(FAST.intervalMs! + FAST.backoffInitialMs! + 3000);
        expect(rec.reason).toMatch(/gone.*SIGKILL/);
        expect(rec.old_pid).toBe(oldPid);
        expect(rec.new_pid).not.toBe(oldPid);
        const rec2 = await recovered;
        expect(rec2.downtime_ms).toBeGreaterThan(0);
        expect((await checkHealth(url, 1000)).ok).toBe(true);
        expect(isProcessAlive(rec.new_pid!)).toBe(true);
        const lines = readJsonLines(wd.files.log);
        expect(lines.some((l) => l.event === "restart" && l.old_pid === oldPid && typeof l.downtime_ms === "number" && typeof l.time === "string")).toBe(true);
        expect(lines.some((l) => l.event === "recovered" && typeof l.downtime_ms === "number")).toBe(true);
    });

    it("restarts a provider whose /health hangs, after K consecutive failed checks", async () => {
        const oldPid = wd.providerPid!;
        let failedChecks = 0;
        const onCheck = (h: {ok: boolean}): void => {
            if (!h.ok) failedChecks++;
        };
        wd.on("check", onCheck);
        const restarted = nextEvent<RestartRecord>(wd, "restart", 10_000);
        const res = await fetch(`${url}/__test/hang-health`, {method: "POST"});
        expect(res.status).toBe(200);
        const rec = await restarted;
        wd.off("check", onCheck);
        expect(failedChecks).toBe(FAST.failuresBeforeRestart);
        expect(rec.reason).toMatch(/failed 2 times in a row/);
        // The hung server was asked to stop and is gone, its replacement answers.
        await waitDead(oldPid, 8_000);
        await nextEvent(wd, "recovered", 25_000);
        expect((await checkHealth(url, 1000)).ok).toBe(true);
    });

    it("refuses a second watchdog in the same process", async () => {
        const second = new Watchdog({...(await watchdogOptionsFromConfig(config, {mode: "direct", provider: providerCommand(config), overrides: FAST}))});
        await expect(second.start()).rejects.toBeInstanceOf(LockHeldError);
    });

    it("refuses a second watchdog started from the CLI (exit code 3)", async () => {
        const r = await execa(process.execPath, ["--import", "tsx", path.join(projectRoot, "src", "cli", "watchdog.ts"), "--home", config.home, "--mode", "direct"], {
            cwd: projectRoot, reject: false, timeout: 20_000, env: cleanEnv(), extendEnv: false
        });
        expect(r.exitCode).toBe(3);
        expect(r.stderr).toMatch(/another watchdog \(pid \d+/);
    });

    it("leaves the provider running when stopped without stopProvider, and a new watchdog adopts it", async () => {
        const pid = wd.providerPid!;
        await wd.stop();
        expect(fs.existsSync(wd.files.lock)).toBe(false);
        expect(isProcessAlive(pid)).toBe(true);
        const state = JSON.parse(fs.readFileSync(wd.files.state, "utf8")) as WatchdogState;
        expect(state.state).toBe("stopped");

        const next = await makeWatchdog(config);
        let spawnedAgain = false;
        next.on("spawned", () => {
            spawnedAgain = true;
        });
        await next.start();
        expect(next.providerPid).toBe(pid);
        await waitFor("the adopted provider to be seen healthy", () => next.state === "watching", 5_000);
        expect(spawnedAgain).toBe(false);
        await next.stop({stopProvider: true});
        await waitDead(pid, 8_000);
    });
});

describe("npm run watchdog (the CLI, direct mode, settings from the config file)", () => {
    // The CLI always starts src/cli/start.ts, so this needs the real server.
    it.skipIf(!useRealServer)("keeps the provider alive through kill -9, and Ctrl+C stops both and frees the lock", async () => {
        const config = makeHome(await freePort(), {
            watchdog: {interval_seconds: 0.2, timeout_ms: 600, failures_before_restart: 2, backoff_initial_ms: 100, backoff_max_ms: 400, startup_timeout_seconds: 20, mode: "direct"}
        });
        homes.push(config.home);
        const url = `http://127.0.0.1:${config.server_port}`;
        const pidFile = path.join(config.paths.logs, "provider.pid");
        const readPid = (): number | null => {
            try {
                return (JSON.parse(fs.readFileSync(pidFile, "utf8")) as {pid: number}).pid;
            } catch {
                return null;
            }
        };
        const env = cleanEnv();
        const cli = execa(process.execPath, ["--import", "tsx", path.join(projectRoot, "src", "cli", "watchdog.ts"), "--home", config.home], {
            cwd: projectRoot, reject: false, env, extendEnv: false, timeout: 40_000, stdin: "ignore"
        });
        if (cli.pid) spawned.add(cli.pid);
        try {
            const first = await waitFor("the provider PID file", readPid, 20_000);
            spawned.add(first);
            await waitFor("the provider to answer", async () => (await checkHealth(url, 1000)).ok, 25_000, 100);
            process.kill(first, "SIGKILL");
            const second = await waitFor("a new provider PID", () => {
                const p = readPid();
                return p != null && p !== first ? p : null;
            }, 10_000);
            spawned.add(second);
            await waitFor("the new provider to answer", async () => (await checkHealth(url, 1000)).ok, 25_000, 100);
            expect(readJsonLines(path.join(config.paths.logs, "watchdog.log")).filter((l) => l.event === "restart")).toHaveLength(1);

            cli.kill("SIGINT");
            const r = await cli;
            expect(r.exitCode).toBe(0);
            expect(r.stderr).toMatch(/restarted the provider \(provider process \d+ is gone \(signal SIGKILL\)\)/);
            await waitDead(second, 8_000);
            expect(fs.existsSync(path.join(config.paths.logs, "watchdog.lock"))).toBe(false);
            expect((JSON.parse(fs.readFileSync(path.join(config.paths.logs, "watchdog_state.json"), "utf8")) as WatchdogState).state).toBe("stopped");
        } finally {
            cli.kill("SIGKILL");
            await cli;
        }
    });
});

describe("kill -9 of a server with a loaded model (real server only)", () => {
    it.skipIf(!useRealServer)("leaves no runner process behind, and the watchdog brings the server back", async () => {
        const config = makeHome(await freePort(), {
            threads: 1,
            import_sources: {ollama: false, ollama_dir: null, lmstudio: false, lmstudio_dir: null, huggingface: false, huggingface_dir: null}
        });
        homes.push(config.home);
        await addModel(config.home, "tiny/tiny.gguf");
        const url = `http://127.0.0.1:${config.server_port}`;
        const wd = await makeWatchdog(config);
        await wd.start();
        await waitFor("the provider to answer", async () => (await checkHealth(url, 1000)).ok, 25_000, 100);
        const serverPid = wd.providerPid!;

        const installed = await (await fetch(`${url}/runtime/status`)).json() as {models: Array<{name: string}>};
        expect(installed.models.length).toBe(1);
        const name = installed.models[0]!.name;
        const load = await fetch(`${url}/runtime/load/${encodeURIComponent(name)}`, {method: "POST"});
        expect(load.status).toBe(200);
        const status = await (await fetch(`${url}/runtime/status`)).json() as {models: Array<{name: string; runner_pid: number | null}>};
        const runnerPid = status.models.find((m) => m.name === name)?.runner_pid;
        expect(typeof runnerPid).toBe("number");
        spawned.add(runnerPid!);
        expect(isProcessAlive(runnerPid!)).toBe(true);

        const recovered = nextEvent<RestartRecord>(wd, "recovered", 30_000);
        process.kill(serverPid, "SIGKILL");
        // The runner notices its IPC channel closing at once, and checks its parent every 2 s as a fallback.
        await waitDead(runnerPid!, 6_000);
        await recovered;
        expect(wd.providerPid).not.toBe(serverPid);
        expect((await checkHealth(url, 1000)).ok).toBe(true);
    });
});
