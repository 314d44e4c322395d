/** Steps called directly, outside the machine: the tests step's command handling and the service step's support check. */
import fs from "node:fs";
import path from "node:path";
import {afterAll, describe, expect, test} from "vitest";
import {isProcessAlive} from "../../src/watchdog/process.js";
import {serviceStep} from "../../src/setup/steps/install-service.js";
import {configuredShellCommand, defaultTestCommand, RESULTS_ENV} from "../../src/setup/steps/test-command.js";
import type {TestResultsFile} from "../../src/setup/steps/test-results.js";
import {testsStep} from "../../src/setup/steps/tests.js";
import {makeHome, removeHome} from "../helpers/home.js";
import {stepContext, testEnv} from "./helpers.js";

const homes: string[] = [];
const pids: number[] = [];
afterAll(async () => {
    for (const pid of pids) if (isProcessAlive(pid)) process.kill(pid, "SIGKILL");
    for (const h of homes) await removeHome(h);
});

async function home(prefix: string): Promise<string> {
    const h = await makeHome(prefix);
    homes.push(h);
    return h;
}

/** Writes a one-test vitest JSON report to the path in argv[1]: what the real reporter does with {results_json}. */
const WRITE_REPORT = `node -e "require('fs').writeFileSync(process.argv[1], JSON.stringify({numTotalTests: 1, numPassedTests: 1, numFailedTests: 0, numPendingTests: 0, numTodoTests: 0, numFailedTestSuites: 0, success: true, testResults: []}))" {results_json}`;

describe("the tests step: the test command", () => {
    test("the default command is a program with an argument array: the results path is one argument, never parsed by a shell", () => {
        const file = "/tmp/we\"ird $(echo INJECTED) `x` 'home'/logs/test_results.vitest.json";
        expect(defaultTestCommand(file)).toEqual({file: "npm", args: ["test", "--", "--reporter=default", "--reporter=json", `--outputFile.json=${file}`]});
        // A configured command gets the path through the environment, quoted as one word for the shell.
        expect(configuredShellCommand("vitest --outputFile={results_json}", "linux")).toBe(`vitest --outputFile="$${RESULTS_ENV}"`);
        expect(configuredShellCommand("vitest --outputFile={results_json}", "win32")).toBe(`vitest --outputFile="%${RESULTS_ENV}%"`);
    });

    test("a home whose name has quotes, $() and backticks: the configured command still gets the exact results path", async () => {
        const parent = await home("zc-setup-quotes-");
        const h = path.join(parent, "we\"ird $(echo INJECTED) `echo TICK` 'home'");
        fs.mkdirSync(h);
        const out = await testsStep.apply(stepContext(h, "tests", {testCommand: WRITE_REPORT}), {command: WRITE_REPORT, configured: true}, {});
        expect(out.status).toBe("done");
        const data = out.data as {results_file: string};
        expect(path.dirname(data.results_file)).toBe(path.join(h, "logs"));
        const results = JSON.parse(fs.readFileSync(data.results_file, "utf8")) as TestResultsFile;
        expect(results.summary).toMatchObject({total: 1, passed: 1, success: true});
        expect(results.command).toBe(WRITE_REPORT);
        // Nothing but the results went into the logs folder, and nothing of the name was run as a command.
        expect(fs.readdirSync(path.join(h, "logs"))).toEqual([path.basename(data.results_file)]);
        expect(fs.readdirSync(parent)).toEqual([path.basename(h)]);
    });

    test.skipIf(process.platform === "win32")("a cancel stops the whole process tree, not only the shell", async () => {
        const h = await home("zc-setup-cancel-");
        const pidFile = path.join(h, "grandchild.pid");
        // sh -c → node (child) → node (grandchild), both sleeping for a minute.
        const grandchild = "require('child_process').spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], {stdio: 'ignore'})";
        const command = `node -e "const c = ${grandchild}; require('fs').writeFileSync(process.env.PIDFILE, String(c.pid)); setTimeout(() => {}, 60000)"`;
        const abort = new AbortController();
        const ctx = stepContext(h, "tests", {testCommand: command, signal: abort.signal, env: {...testEnv(), PIDFILE: pidFile}});
        const running = testsStep.apply(ctx, {command, configured: true}, {});
        const deadline = Date.now() + 15_000;
        while (!fs.existsSync(pidFile) || fs.readFileSync(pidFile, "utf8") === "") {
            if (Date.now() > deadline) throw new Error("the test command did not start");
            await new Promise((r) => setTimeout(r, 50));
        }
        const pid = Number(fs.readFileSync(pidFile, "utf8"));
        pids.push(pid);
        expect(isProcessAlive(pid)).toBe(true);
        abort.abort(new Error("interrupted"));
        await expect(running).rejects.toThrow(/cancelled/);
        const gone = Date.now() + 5_000;
        while (isProcessAlive(pid) && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
        expect(isProcessAlive(pid)).toBe(false);
    });
});

describe("the service step: service support", () => {
    test.skipIf(process.platform !== "linux")("without systemctl on PATH the step is skipped, with the reason, before any approval is asked", async () => {
        const h = await home("zc-setup-nosystemd-");
        const emptyBin = path.join(h, "bin");
        fs.mkdirSync(emptyBin);
        const ctx = stepContext(h, "service", {env: {...testEnv(), PATH: emptyBin}});
        const p = await serviceStep.prepare(ctx);
        expect(p.approvals).toEqual([]);
        expect(p.skip).toMatch(/systemctl was not found on PATH/);
    });

    test.skipIf(process.platform !== "linux" || !fs.existsSync("/run/systemd/system"))("a user unit without a user manager is skipped", async () => {
        const h = await home("zc-setup-nobus-");
        const bin = path.join(h, "bin");
        fs.mkdirSync(bin);
        fs.writeFileSync(path.join(bin, "systemctl"), "#!/bin/sh\necho 'Failed to connect to bus: No medium found' >&2\nexit 1\n", {mode: 0o755});
        const ctx = stepContext(h, "service", {env: {...testEnv(), PATH: `${bin}:/usr/bin:/bin`}, overrides: {service: {name: "ZombieCoderAI", nssm_path: null, scope: "user"}}});
        const p = await serviceStep.prepare(ctx);
        expect(p.skip).toMatch(/no systemd user manager .*Failed to connect to bus/);
    });
});
