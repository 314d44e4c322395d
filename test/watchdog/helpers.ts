import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import {fileURLToPath} from "node:url";
import {loadConfig, projectRoot, type ProviderConfig} from "../../src/config/load.js";
import {isProcessAlive} from "../../src/watchdog/process.js";
import type {ProviderCommand} from "../../src/watchdog/process.js";
import {defaultProviderCommand} from "../../src/watchdog/options.js";

export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures");
export const STANDIN = path.join(FIXTURES, "standin-server.mjs");
export const REAL_SERVER = path.join(projectRoot, "src", "cli", "start.ts");

/** The real server when it is in the tree, unless a run asks for the stand-in explicitly. */
export const useRealServer = fs.existsSync(REAL_SERVER) && process.env.ZOMBIECODER_WATCHDOG_STANDIN !== "1";

export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const addr = srv.address();
            const port = typeof addr === "object" && addr ? addr.port : 0;
            srv.close(() => resolve(port));
        });
    });
}

export function tempDir(prefix: string): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), `zc-${prefix}-`));
}

/** A provider home in a temp folder: no API key, the given port, a short drain grace and no models. */
export function makeHome(port: number, extra: Record<string, unknown> = {}): ProviderConfig {
    const home = tempDir("wd home");
    fs.mkdirSync(path.join(home, "config"), {recursive: true});
    fs.mkdirSync(path.join(home, "models"), {recursive: true});
    fs.writeFileSync(path.join(home, "config", "provider_config.json"), JSON.stringify({
        auth: {enable_api_key: false},
        server_port: port,
        server_host: "127.0.0.1",
        shutdown_grace_seconds: 1,
        log_level: "warn",
        ...extra
    }));
    return loadConfig({home, env: {}});
}

export function providerCommand(config: ProviderConfig): ProviderCommand {
    const env = {...process.env, ZOMBIECODER_TEST_HOOKS: "1", ZOMBIECODER_PORT: String(config.server_port)};
    if (useRealServer) return defaultProviderCommand(config, {env});
    const base = defaultProviderCommand(config, {env});
    return {...base, args: [STANDIN, "--home", config.home, "--config", config.configPath]};
}

export async function waitFor<T>(what: string, fn: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs: number, stepMs = 50): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, stepMs));
    }
}

/** Kills a process still alive, and its group; used in afterAll. A PID already gone is left alone (it could be reused). */
export function killHard(pid: number): void {
    if (!isProcessAlive(pid)) return;
    for (const target of [-pid, pid]) {
        try {
            process.kill(target, "SIGKILL");
        } catch {
            // already gone
        }
    }
}

export async function waitDead(pid: number, ms = 5000): Promise<void> {
    await waitFor(`pid ${pid} to exit`, () => !isProcessAlive(pid), ms);
}

export function readJsonLines(file: string): Array<Record<string, unknown>> {
    if (!fs.existsSync(file)) return [];
    return fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}
