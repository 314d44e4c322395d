import fs from "node:fs/promises";
import {spawnSync} from "node:child_process";
import path from "node:path";
import {pathToFileURL} from "node:url";
import {expect, it} from "vitest";
import {tsxExecArgv} from "../../src/build-layout.js";
import {createLogger} from "../../src/log/logger.js";
import {makeHome, removeHome} from "../helpers/home.js";

it("writes JSON lines to logs/ and redacts keys and tokens", async () => {
    const home = await makeHome("zc-log-");
    try {
        const logger = createLogger({level: "info", logsDir: path.join(home, "logs"), name: "t", quiet: true});
        logger.info({apiKey: "sk-secret-1", auth: {api_key: "sk-secret-2"}, headers: {authorization: "Bearer sk-secret-3", "x-api-key": "sk-secret-4"}, hf_token: "hf_secret5", model: "m"}, "hello");
        const file = path.join(home, "logs", "t.log");
        let text = "";
        for (let i = 0; i < 50 && !text.includes("hello"); i++) {
            await new Promise((r) => setTimeout(r, 100));
            text = await fs.readFile(file, "utf8").catch(() => "");
        }
        const line = JSON.parse(text.trim().split("\n").at(-1)!) as Record<string, unknown>;
        expect(line.msg).toBe("hello");
        expect(line.model).toBe("m");
        expect(text).not.toMatch(/sk-secret|hf_secret/);
        expect(text).toContain("[redacted]");
    } finally {
        await removeHome(home);
    }
});

it("keeps the lines logged just before process.exit, written without a worker thread", async () => {
    const home = await makeHome("zc-log-exit-");
    try {
        const logsDir = path.join(home, "logs");
        // a fresh process, so its exit is real: the lines must be flushed on the way out, not by a worker thread
        const script = `const {createLogger} = await import(${JSON.stringify(pathToFileURL(path.resolve("src/log/logger.ts")).href)});
const {isMainThread} = await import("node:worker_threads");
const logger = createLogger({level: "info", logsDir: ${JSON.stringify(logsDir)}, name: "x", pretty: false});
for (let i = 0; i < 200; i++) logger.info({i}, "line");
const workers = process.getActiveResourcesInfo().filter((r) => /worker/i.test(r)).length;
logger.info({workers, isMainThread}, "last");
process.exit(0);`;
        const r = spawnSync(process.execPath, [...tsxExecArgv(), "--input-type=module", "-e", script], {encoding: "utf8", timeout: 30_000});
        expect(r.status, r.stderr).toBe(0);
        const lines = (await fs.readFile(path.join(logsDir, "x.log"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
        expect(lines).toHaveLength(201);
        expect(lines.at(-1)).toMatchObject({msg: "last", workers: 0});
        // the same lines went to stdout, as JSON when stdout is not a terminal
        expect(r.stdout.trim().split("\n")).toHaveLength(201);
    } finally {
        await removeHome(home);
    }
});
