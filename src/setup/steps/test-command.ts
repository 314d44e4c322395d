/**
 * The development suite as the tests step runs it with --full-tests or setup.test_command: the command (default: the
 * project's `npm test`) in the project folder, its whole process tree stopped on a cancel, and its results in
 * logs/test_results_<timestamp>.json: vitest's JSON report when there is one, plus a summary.
 */
import fs from "node:fs";
import path from "node:path";
import {execa} from "execa";
import {projectRoot} from "../../config/load.js";
import {quotePosixArg} from "../../service/quote.js";
import {execaRunner} from "../../service/runner.js";
import {windowsKillTreeCommand} from "../../watchdog/process.js";
import {fileTimestamp, outcome, StepError, type StepContext, type StepOutcome} from "./contract.js";
import {writeTestResults, type TestResultsFile, type TestsData, type TestSummary} from "./test-results.js";

/**
 * `{results_json}` in setup.test_command stands for the path vitest should write its JSON report to. It becomes a
 * reference to RESULTS_ENV, never the path itself: a shell expands a variable inside double quotes as one word and
 * does not parse its value, so a home with quotes, `$` or backticks in its name cannot break or inject into it.
 */
export const RESULTS_PLACEHOLDER = "{results_json}";
/** Holds that path while the test command runs (a configured command may use it directly too). */
export const RESULTS_ENV = "ZOMBIECODER_TEST_RESULTS_JSON";
/** After a cancel, how long the test command's process gets to exit before its whole tree is killed. */
const CANCEL_GRACE_MS = 2000;

const DEFAULT_TIMEOUT_MS = 60 * 60_000;
const OUTPUT_TAIL = 8000;

/** The project's own suite, with vitest's JSON reporter added next to the default one: a program and its arguments, no shell. */
export function defaultTestCommand(jsonFile: string): {file: string; args: string[]} {
    return {file: "npm", args: ["test", "--", "--reporter=default", "--reporter=json", `--outputFile.json=${jsonFile}`]};
}

/** A configured command for the shell: `{results_json}` becomes a quoted reference to RESULTS_ENV (cmd.exe or sh syntax). */
export function configuredShellCommand(command: string, platform: NodeJS.Platform = process.platform): string {
    const ref = platform === "win32" ? `"%${RESULTS_ENV}%"` : `"$${RESULTS_ENV}"`;
    return command.split(RESULTS_PLACEHOLDER).join(ref);
}

/** Whether any process of the group led by `pgid` is left (EPERM: one is, owned by someone else). */
function groupAlive(pgid: number): boolean {
    try {
        process.kill(-pgid, 0);
        return true;
    } catch (err) {
        return (err as NodeJS.ErrnoException).code === "EPERM";
    }
}

/**
 * Ends the test command and everything it started. POSIX: SIGTERM to its process group (npm, vitest and its workers
 * can clean up), SIGKILL to what is left after the grace. Windows: `taskkill /T /F`, which follows the process tree.
 */
export async function killProcessTree(pid: number, graceMs = CANCEL_GRACE_MS, platform: NodeJS.Platform = process.platform): Promise<void> {
    if (platform === "win32") {
        const {file, args} = windowsKillTreeCommand(pid);
        await execaRunner(file, args, {timeoutMs: 30_000});
        return;
    }
    try {
        process.kill(-pid, "SIGTERM");
    } catch {
        return; // the group is gone already
    }
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && groupAlive(pid)) await new Promise((r) => setTimeout(r, 50));
    try {
        process.kill(-pid, "SIGKILL");
    } catch {
        // everyone left in time
    }
}

function display(file: string, args: readonly string[]): string {
    return [file, ...args].map(quotePosixArg).join(" ");
}

function obj(v: unknown): Record<string, unknown> {
    return v != null && typeof v === "object" && !Array.isArray(v) ? v as Record<string, unknown> : {};
}

function num(v: unknown): number {
    return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

export function summarizeVitest(report: unknown): {summary: TestSummary; failed: string[]} | null {
    const r = obj(report);
    if (typeof r.numTotalTests !== "number") return null;
    const failed: string[] = [];
    for (const file of Array.isArray(r.testResults) ? r.testResults : []) {
        const f = obj(file);
        for (const a of Array.isArray(f.assertionResults) ? f.assertionResults : []) {
            const t = obj(a);
            if (t.status === "failed") failed.push(`${path.basename(String(f.name ?? ""))}: ${String(t.fullName ?? t.title ?? "?")}`);
        }
    }
    return {
        summary: {
            total: num(r.numTotalTests), passed: num(r.numPassedTests), failed: num(r.numFailedTests),
            skipped: num(r.numPendingTests) + num(r.numTodoTests), suites_failed: num(r.numFailedTestSuites), success: r.success === true
        },
        failed
    };
}

/** Runs the development suite's command and writes its results file; a failing suite throws a StepError with the results. */
export async function runTestCommand(ctx: StepContext): Promise<StepOutcome> {
    const cfg = ctx.config();
    const started = new Date();
    const stamp = fileTimestamp(started);
    fs.mkdirSync(cfg.paths.logs, {recursive: true});
    const resultsFile = path.join(cfg.paths.logs, `test_results_${stamp}.json`);
    const vitestFile = path.join(cfg.paths.logs, `test_results_${stamp}.vitest.json`);
    const configured = cfg.setup.test_command;
    // The user's string needs a shell (it is a command line); the default needs none, so it gets none.
    const shell = configured != null && configured.trim() !== "";
    const def = defaultTestCommand(vitestFile);
    const command = shell ? configured : display(def.file, def.args);

    const t0 = performance.now();
    const options = {
        cwd: projectRoot, env: {...ctx.env, FORCE_COLOR: "0", [RESULTS_ENV]: vitestFile}, extendEnv: false, all: true, reject: false,
        stdin: "ignore", windowsHide: true,
        // Its own process group on POSIX, so that a cancel or a timeout can end the whole tree (npm, vitest, its
        // workers) and not only the shell; Windows kills trees with taskkill /T instead (detached opens a console there).
        detached: process.platform !== "win32"
    } as const;
    const sub = shell ? execa(configuredShellCommand(configured), {...options, shell: true}) : execa(def.file, def.args, options);
    let stopped: "cancelled" | "timed out" | null = null;
    let killed: Promise<void> | null = null;
    const stop = (why: "cancelled" | "timed out"): void => {
        if (stopped || sub.pid == null) return;
        stopped = why;
        killed = killProcessTree(sub.pid);
    };
    const onAbort = (): void => stop("cancelled");
    if (ctx.signal.aborted) onAbort();
    else ctx.signal.addEventListener("abort", onAbort, {once: true});
    const timer = setTimeout(() => stop("timed out"), DEFAULT_TIMEOUT_MS);
    let r: Awaited<typeof sub>;
    try {
        r = await sub;
    } finally {
        clearTimeout(timer);
        ctx.signal.removeEventListener("abort", onAbort);
    }
    // The shell may exit at once while what it started lives on in the group: wait until the group is gone too.
    if (killed) await killed;
    if (stopped === "cancelled") throw new StepError(`the test command was cancelled (${command}); its processes were stopped`);
    const duration = Math.round(performance.now() - t0);
    let vitest: unknown = null;
    try {
        vitest = JSON.parse(fs.readFileSync(vitestFile, "utf8"));
        fs.rmSync(vitestFile, {force: true});
    } catch {
        // the command wrote no vitest JSON report: the summary then rests on the exit code alone
    }
    const parsed = summarizeVitest(vitest);
    const exitCode = typeof r.exitCode === "number" ? r.exitCode : null;
    const passed = exitCode === 0 && (parsed ? parsed.summary.success !== false || parsed.summary.failed === 0 : true);
    const all = String(r.all ?? "");
    const file: TestResultsFile = {
        version: 1, command, cwd: projectRoot, started_at: started.toISOString(), finished_at: new Date().toISOString(), duration_ms: duration,
        exit_code: exitCode, timed_out: stopped === "timed out", passed, summary: parsed?.summary ?? null, failed_tests: parsed?.failed ?? [],
        output_tail: all.slice(-OUTPUT_TAIL), vitest, suite: "command", checks: null
    };
    writeTestResults(resultsFile, file);

    const data: TestsData = {results_file: resultsFile, command, exit_code: exitCode, passed, summary: file.summary, duration_ms: duration, suite: "command"};
    const counts = parsed ? `${parsed.summary.passed}/${parsed.summary.total} passed, ${parsed.summary.failed} failed, ${parsed.summary.skipped} skipped` : `exit code ${String(exitCode)}`;
    const findings = [`${counts}; results in ${path.relative(ctx.home, resultsFile) || resultsFile}`, ...file.failed_tests.slice(0, 20).map((t) => `failed: ${t}`)];
    if (!passed) {
        const why = stopped === "timed out" ? `timed out after ${DEFAULT_TIMEOUT_MS / 60_000} minutes` : counts;
        throw new StepError(`tests failed (${why}); see ${resultsFile}\n${all.slice(-1500)}`, {data: {...data}, findings});
    }
    return outcome("done", counts, {findings, data: {...data}});
}
