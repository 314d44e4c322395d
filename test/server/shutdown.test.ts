import fs from "node:fs/promises";
import path from "node:path";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {checkKeySafety} from "../../src/server/serve.js";
import {silentLogger} from "../../src/log/logger.js";
import {startCli} from "../helpers/cli-process.js";
import {addModel, ENDLESS, makeHome, removeHome, testConfig, TEST_KEY} from "../helpers/home.js";


/** Polls /runtime/status until the one model has a request in its runner; returns the runner's PID. */
async function runningRunner(url: string): Promise<number | null> {
    for (let i = 0; i < 200; i++) {
        const s = await (await fetch(url + "/runtime/status", {headers: {"x-api-key": TEST_KEY}})).json() as {models: Array<{in_flight: number; runner_pid: number | null}>};
        if (s.models[0]!.in_flight === 1 && s.models[0]!.runner_pid) return s.models[0]!.runner_pid;
        await new Promise((r) => setTimeout(r, 50));
    }
    return null;
}

describe("graceful shutdown", () => {
    let home: string;
    beforeAll(async () => {
        home = await makeHome("zc-shutdown-");
        // scripted never to end by itself: the request below runs to its num_predict on any CPU
        await addModel(home, "m/m-q8_0.gguf", {contextLength: 8192, script: ENDLESS});
        await fs.mkdir(path.join(home, "config"), {recursive: true});
        await fs.writeFile(path.join(home, "config", "provider_config.json"), JSON.stringify({threads: 1, shutdown_grace_seconds: 30, models: {m: {context_size: 8192}}}));
    });
    afterAll(async () => removeHome(home));

    it("SIGTERM lets the in-flight request finish, ends the runner and exits 0", async () => {
        const {child, url, exit} = await startCli(home);
        const res = fetch(url + "/api/generate", {method: "POST", headers: {"x-api-key": TEST_KEY},
            body: JSON.stringify({model: "m", prompt: "go", stream: false, options: {temperature: 0, num_predict: 3000}})});
        // wait until the request is running in the runner
        const runnerPid = await runningRunner(url);
        expect(runnerPid).toBeGreaterThan(0);
        child.kill("SIGTERM");
        const body = await (await res).json() as {eval_count: number; done: boolean};
        expect(body.done).toBe(true);
        expect(body.eval_count).toBe(3000);
        expect(await exit).toBe(0);
        // the runner did not outlive the server
        await new Promise((r) => setTimeout(r, 300));
        expect(() => process.kill(runnerPid!, 0)).toThrow();
    });

    it("a second signal exits at once", async () => {
        const {child, url, exit} = await startCli(home);
        const res = fetch(url + "/api/generate", {method: "POST", headers: {"x-api-key": TEST_KEY},
            body: JSON.stringify({model: "m", prompt: "go", stream: false, options: {temperature: 0, num_predict: 8000}})}).catch(() => null);
        // the first signal must find a request in flight, or there would be nothing to wait for
        expect(await runningRunner(url)).toBeGreaterThan(0);
        child.kill("SIGTERM");
        await new Promise((r) => setTimeout(r, 100));
        child.kill("SIGTERM");
        expect(await exit).toBe(130);
        await res;
    });
});

describe("key safety", () => {
    it("warns about the seed's default key on loopback and refuses it on other hosts", async () => {
        const home = await makeHome("zc-key-");
        try {
            const seedKey = {enable_api_key: true, api_key: "zombie-local-please-change", api_key_file: null, allow_loopback_without_key: false, cors_origins: []};
            const warnings: string[] = [];
            const logger = {...silentLogger, warn: (msg: unknown) => warnings.push(String(msg))} as unknown as typeof silentLogger;
            checkKeySafety(testConfig(home, {auth: seedKey}), logger);
            expect(warnings.join(" ")).toMatch(/default API key/);
            expect(() => checkKeySafety(testConfig(home, {server_host: "0.0.0.0", auth: seedKey}), silentLogger)).toThrow(/refusing to listen on 0\.0\.0\.0 with the default API key.*set auth\.api_key/);
            expect(() => checkKeySafety(testConfig(home, {server_host: "0.0.0.0"}), silentLogger)).not.toThrow();
        } finally {
            await removeHome(home);
        }
    });
});
