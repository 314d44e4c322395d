/** Crash-loop guard, the single-instance lock, service mode, and the health check itself. */
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import {execa} from "execa";
import {afterAll, afterEach, describe, expect, it, vi} from "vitest";
import {loadConfig, projectRoot} from "../../src/config/load.js";
import type {SystemProbe} from "../../src/service/probe.js";
import type {CommandRunner} from "../../src/service/runner.js";
import {checkHealth, healthBaseUrl} from "../../src/watchdog/health.js";
import {acquireLock, LockHeldError} from "../../src/watchdog/lock.js";
import {defaultProviderCommand, watchdogOptionsFromConfig} from "../../src/watchdog/options.js";
import {terminateProcessTree, windowsKillTreeCommand} from "../../src/watchdog/process.js";
import {Watchdog, type RestartRecord, type WatchdogOptions, type WatchdogState} from "../../src/watchdog/watchdog.js";
import {freePort, killHard, readJsonLines, tempDir, waitFor} from "./helpers.js";

const spawned = new Set<number>();
const dirs: string[] = [];
const servers: http.Server[] = [];
const watchdogs: Watchdog[] = [];

afterEach(async () => {
    for (const wd of watchdogs.splice(0)) await wd.stop({stopProvider: true}).catch(() => undefined);
});

afterAll(async () => {
    for (const pid of spawned) killHard(pid);
    for (const s of servers) s.close();
    for (const d of dirs) fs.rmSync(d, {recursive: true, force: true});
});

/** The PID of a process that has run and exited. */
async function exitedPid(): Promise<number> {
    const sub = execa(process.execPath, ["-e", ""]);
    const pid = sub.pid;
    await sub;
    expect(typeof pid).toBe("number");
    return pid!;
}

function logsDir(): string {
    const d = tempDir("wd logs");
    dirs.push(d);
    return d;
}

type Mode = "ok" | "degraded" | "fail" | "hang";

/** A /health endpoint in this process whose answer the test switches. */
async function healthServer(): Promise<{url: string; set(m: Mode): void; hits(): number}> {
    let mode: Mode = "ok";
    let hits = 0;
    const srv = http.createServer((req, res) => {
        hits++;
        if (mode === "hang") return;
        if (mode === "fail") {
            res.writeHead(503);
            res.end();
            return;
        }
        res.writeHead(200, {"content-type": "application/json"});
        res.end(JSON.stringify({status: mode, reasons: mode === "degraded" ? ["runner x failing"] : []}));
    });
    servers.push(srv);
    const port = await freePort();
    await new Promise<void>((r) => srv.listen(port, "127.0.0.1", () => r()));
    return {url: `http://127.0.0.1:${port}`, set: (m) => (mode = m), hits: () => hits};
}

function baseOptions(dir: string, url: string): WatchdogOptions {
    return {
        baseUrl: url, intervalMs: 100, timeoutMs: 300, failuresBeforeRestart: 2, maxRestarts: 3, windowMs: 60_000,
        backoffInitialMs: 50, backoffMaxMs: 150, startupTimeoutMs: 2_000, stopTimeoutMs: 1_000, logsDir: dir, mode: "direct"
    };
}

describe("crash-loop guard", () => {
    it("stops after N restarts in the window, with exponential backoff capped, and writes the reason to watchdog_state.json", async () => {
        const dir = logsDir();
        const port = await freePort();
        const wd = new Watchdog({
            ...baseOptions(dir, `http://127.0.0.1:${port}`),
            maxRestarts: 4,
            provider: {file: process.execPath, args: ["-e", "process.exit(3)"], cwd: dir, env: {...process.env}}
        });
        watchdogs.push(wd);
        let spawns = 0;
        wd.on("spawned", (pid: number) => {
            spawns++;
            spawned.add(pid);
        });
        const gaveUp = new Promise<RestartRecord>((resolve) => wd.once("gave_up", resolve));
        await wd.start();
        const rec = await gaveUp;
        expect(rec.reason).toMatch(/crash loop: 4 restarts within 1 minutes/);
        expect(rec.reason).toMatch(/exit code 3/);
        expect(spawns).toBe(5);

        const state = JSON.parse(fs.readFileSync(path.join(dir, "watchdog_state.json"), "utf8")) as WatchdogState;
        expect(state.state).toBe("gave_up");
        expect(state.reason).toBe(rec.reason);
        expect(state.restarts_in_window).toHaveLength(4);

        const lines = readJsonLines(path.join(dir, "watchdog.log"));
        const restarts = lines.filter((l) => l.event === "restart");
        expect(restarts.map((l) => l.backoff_ms)).toEqual([50, 100, 150, 150]);
        expect(restarts.every((l) => typeof l.downtime_ms === "number" && /gone/.test(String(l.reason)))).toBe(true);
        expect(lines.at(-1)?.event).toBe("gave_up");

        // Given up means given up: no further starts.
        await new Promise((r) => setTimeout(r, 500));
        expect(spawns).toBe(5);
        expect(wd.state).toBe("gave_up");
    });
});

describe("single-instance lock", () => {
    it("refuses a second holder while the first is alive, and releases only its own lock", () => {
        const file = path.join(logsDir(), "watchdog.lock");
        const a = acquireLock(file);
        expect(() => acquireLock(file)).toThrow(LockHeldError);
        try {
            acquireLock(file);
        } catch (e) {
            expect((e as LockHeldError).holder.pid).toBe(process.pid);
        }
        a.release();
        expect(fs.existsSync(file)).toBe(false);
        const b = acquireLock(file);
        a.release();
        expect(b.owned()).toBe(true);
        b.release();
    });

    it("takes over a lock whose process is gone (a real dead PID)", async () => {
        const dir = logsDir();
        const file = path.join(dir, "watchdog.lock");
        const deadPid = await exitedPid();
        fs.writeFileSync(file, JSON.stringify({pid: deadPid, token: "old", hostname: "x", started_at: "2020-01-01T00:00:00Z"}));
        const h = await healthServer();
        const wd = new Watchdog({...baseOptions(dir, h.url), mode: "service", restartService: async () => undefined});
        watchdogs.push(wd);
        await wd.start();
        const info = JSON.parse(fs.readFileSync(file, "utf8")) as {pid: number; token: string};
        expect(info.pid).toBe(process.pid);
        expect(info.token).not.toBe("old");
        expect(fs.readdirSync(dir).filter((f) => f.includes(".stale-"))).toEqual([]);
    });

    it("takes over a lock left by an earlier process with our own PID (container restart), but not one of ours", () => {
        const file = path.join(logsDir(), "watchdog.lock");
        fs.writeFileSync(file, JSON.stringify({pid: process.pid, token: "previous-life", hostname: "x", started_at: ""}));
        const l = acquireLock(file);
        expect(l.owned()).toBe(true);
        l.release();
    });

    it("treats an unreadable lock as held while fresh (mid-write) and as stale once old", () => {
        const file = path.join(logsDir(), "watchdog.lock");
        fs.writeFileSync(file, "");
        expect(() => acquireLock(file)).toThrow(LockHeldError);
        const old = new Date(Date.now() - 60_000);
        fs.utimesSync(file, old, old);
        const l = acquireLock(file);
        expect(l.owned()).toBe(true);
        l.release();
    });

    it("uses the injected liveness check", () => {
        const file = path.join(logsDir(), "watchdog.lock");
        fs.writeFileSync(file, JSON.stringify({pid: 424242, token: "t", hostname: "x", started_at: ""}));
        expect(() => acquireLock(file, {isAlive: () => true})).toThrow(/pid 424242/);
        const l = acquireLock(file, {isAlive: () => false});
        expect(l.info.pid).toBe(process.pid);
        l.release();
    });
});

describe("service mode", () => {
    it("restarts through the service manager after K failures, and not for a degraded but alive server", async () => {
        const h = await healthServer();
        const restartService = vi.fn(async () => {
            h.set("ok");
        });
        const wd = new Watchdog({...baseOptions(logsDir(), h.url), mode: "service", restartService});
        watchdogs.push(wd);
        await wd.start();
        await waitFor("watching", () => wd.state === "watching", 3_000);

        h.set("degraded");
        const before = h.hits();
        await waitFor("a few degraded checks", () => h.hits() >= before + 4, 3_000);
        expect(restartService).not.toHaveBeenCalled();

        const recovered = new Promise<RestartRecord>((r) => wd.once("recovered", r));
        h.set("hang");
        await waitFor("a restart", () => restartService.mock.calls.length > 0, 5_000);
        await recovered;
        expect(restartService).toHaveBeenCalledTimes(1);
        const lines = readJsonLines(wd.files.log);
        expect(lines.find((l) => l.event === "restart")?.reason).toMatch(/failed 2 times in a row: .*300 ms/);
        expect(lines.find((l) => l.event === "restart")?.mode).toBe("service");
    });

    it("resolves auto mode to service when a systemd unit is installed, and restarts with systemctl", async () => {
        const home = tempDir("wd cfg");
        dirs.push(home);
        const config = loadConfig({home, env: {}, overrides: {server_host: "0.0.0.0", server_port: 8123}});
        const unit = path.join(home, "fakehome", ".config", "systemd", "user", "zombiecoderai.service");
        const probe: SystemProbe = {os: "linux", env: {PATH: "/nonexistent"}, exists: (f) => f === unit, uid: 1000, username: "u", homeDir: path.join(home, "fakehome")};
        const calls: string[][] = [];
        const runner: CommandRunner = async (file, args) => {
            calls.push([file, ...args]);
            return {exitCode: 0, stdout: "", stderr: "", failed: false};
        };
        const opts = await watchdogOptionsFromConfig(config, {probe, runner});
        expect(opts.mode).toBe("service");
        expect(opts.baseUrl).toBe("http://127.0.0.1:8123");
        expect(opts.intervalMs).toBe(5000);
        expect(opts.stopTimeoutMs).toBe((config.shutdown_grace_seconds + 5) * 1000);
        await opts.restartService!();
        expect(calls).toEqual([["systemctl", "--user", "restart", "zombiecoderai.service"]]);

        const direct = await watchdogOptionsFromConfig(config, {probe: {...probe, exists: () => false}, runner});
        expect(direct.mode).toBe("direct");
        // vitest runs the source, so the provider it starts is the source under tsx's loader...
        expect(direct.provider?.args[0]).toBe("--import");
        expect(direct.provider?.args[2]).toBe(path.join(projectRoot, "src", "cli", "start.ts"));
        // ...and a watchdog running from the build starts the build's JavaScript with nothing in between.
        expect(defaultProviderCommand(config, {layout: "build"}).args).toEqual([path.join(projectRoot, "dist", "cli", "start.js"), "--home", config.home, "--config", config.configPath]);
        expect(direct.provider?.env.ZOMBIECODER_HOME).toBe(config.home);
        expect(direct.provider?.env.ZOMBIECODER_CONFIG).toBe(config.configPath);
    });
});

describe("health check", () => {
    it("is bounded by the timeout when the server hangs, and falls back to /api/version on a 404", async () => {
        const h = await healthServer();
        h.set("hang");
        const t0 = Date.now();
        const r = await checkHealth(h.url, 250);
        expect(r.ok).toBe(false);
        expect(Date.now() - t0).toBeLessThan(1_000);

        const srv = http.createServer((req, res) => {
            res.writeHead(req.url === "/api/version" ? 200 : 404, {"content-type": "application/json"});
            res.end(req.url === "/api/version" ? "{\"version\":\"0.6.0\"}" : "");
        });
        servers.push(srv);
        const port = await freePort();
        await new Promise<void>((res) => srv.listen(port, "127.0.0.1", () => res()));
        expect((await checkHealth(`http://127.0.0.1:${port}`, 500)).ok).toBe(true);
        expect((await checkHealth(`http://127.0.0.1:${await freePort()}`, 500)).error).toMatch(/ECONNREFUSED/);
    });

    it("reaches wildcard listen addresses through loopback", () => {
        expect(healthBaseUrl("0.0.0.0", 8007)).toBe("http://127.0.0.1:8007");
        expect(healthBaseUrl("::", 8007)).toBe("http://[::1]:8007");
        expect(healthBaseUrl("::1", 8007)).toBe("http://[::1]:8007");
        expect(healthBaseUrl("localhost", 1)).toBe("http://localhost:1");
    });
});

describe("stopping a provider on Windows", () => {
    it("uses taskkill on the whole tree, through the command runner", async () => {
        expect(windowsKillTreeCommand(1234)).toEqual({file: "taskkill", args: ["/PID", "1234", "/T", "/F"]});
        const calls: string[][] = [];
        const runner: CommandRunner = async (file, args) => {
            calls.push([file, ...args]);
            return {exitCode: 0, stdout: "", stderr: "", failed: false};
        };
        const pid = await exitedPid();
        await terminateProcessTree(pid, {graceMs: 100, platform: "win32", runner});
        expect(calls).toEqual([["taskkill", "/PID", String(pid), "/T", "/F"]]);
    });
});
