/**
 * Step 7: run the configured test command (default: the project's `npm test`) and keep the results in
 * logs/test_results_<timestamp>.json: vitest's JSON report when there is one, plus a summary.
 */
import fs from "node:fs";
import path from "node:path";
import {execa} from "execa";
import {projectRoot} from "../../config/load.js";
import {validateReport} from "../reports.js";
import {defineStep, fileTimestamp, outcome, StepError} from "./types.js";

/** `{results_json}` in setup.test_command is replaced with the (quoted) path vitest should write its JSON report to. */
export const RESULTS_PLACEHOLDER = "{results_json}";

const DEFAULT_TIMEOUT_MS = 60 * 60_000;
const OUTPUT_TAIL = 8000;

interface TestsPrep {
    command: string;
    configured: boolean;
}

export interface TestSummary {
    total: number;
    passed: number;
    failed: number;
    skipped: number;
    suites_failed: number;
    success: boolean;
}

export interface TestResultsFile {
    version: 1;
    command: string;
    cwd: string;
    started_at: string;
    finished_at: string;
    duration_ms: number;
    exit_code: number | null;
    timed_out: boolean;
    passed: boolean;
    summary: TestSummary | null;
    failed_tests: string[];
    output_tail: string;
    vitest: unknown;
}

export interface TestsData {
    results_file: string;
    command: string;
    exit_code: number | null;
    passed: boolean;
    summary: TestSummary | null;
    duration_ms: number;
}

function quote(p: string): string {
    return `"${p}"`;
}

/** The project's own suite, with vitest's JSON reporter added next to the default one. */
export function defaultTestCommand(jsonFile: string): string {
    return `npm test -- --reporter=default --reporter=json --outputFile.json=${quote(jsonFile)}`;
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

export const testsStep = defineStep<TestsPrep>({
    id: "tests",

    async prepare(ctx) {
        const cfg = ctx.config();
        const configured = cfg.setup.test_command != null && cfg.setup.test_command.trim() !== "";
        const command = configured ? cfg.setup.test_command! : defaultTestCommand("<logs>/test_results_<timestamp>.vitest.json");
        return {
            summary: [`run \`${command}\` in ${projectRoot}`, `save ${path.join(path.relative(ctx.home, cfg.paths.logs) || cfg.paths.logs, "test_results_<timestamp>.json")}`],
            approvals: [],
            data: {command, configured}
        };
    },

    async apply(ctx) {
        const cfg = ctx.config();
        const started = new Date();
        const stamp = fileTimestamp(started);
        fs.mkdirSync(cfg.paths.logs, {recursive: true});
        const resultsFile = path.join(cfg.paths.logs, `test_results_${stamp}.json`);
        const vitestFile = path.join(cfg.paths.logs, `test_results_${stamp}.vitest.json`);
        const configured = cfg.setup.test_command;
        const command = configured != null && configured.trim() !== ""
            ? configured.split(RESULTS_PLACEHOLDER).join(quote(vitestFile))
            : defaultTestCommand(vitestFile);

        const t0 = performance.now();
        const r = await execa(command, {
            shell: true, cwd: projectRoot, env: {...ctx.env, FORCE_COLOR: "0"}, extendEnv: false, all: true, reject: false,
            timeout: DEFAULT_TIMEOUT_MS, cancelSignal: ctx.signal, stdin: "ignore"
        });
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
            exit_code: exitCode, timed_out: r.timedOut === true, passed, summary: parsed?.summary ?? null, failed_tests: parsed?.failed ?? [],
            output_tail: all.slice(-OUTPUT_TAIL), vitest
        };
        validateReport("setup_test_results.schema.json", file);
        fs.writeFileSync(resultsFile, `${JSON.stringify(file, null, 2)}\n`);

        const data: TestsData = {results_file: resultsFile, command, exit_code: exitCode, passed, summary: file.summary, duration_ms: duration};
        const counts = parsed ? `${parsed.summary.passed}/${parsed.summary.total} passed, ${parsed.summary.failed} failed, ${parsed.summary.skipped} skipped` : `exit code ${String(exitCode)}`;
        const findings = [`${counts}; results in ${path.relative(ctx.home, resultsFile) || resultsFile}`, ...file.failed_tests.slice(0, 20).map((t) => `failed: ${t}`)];
        if (!passed) {
            const why = r.timedOut ? `timed out after ${DEFAULT_TIMEOUT_MS / 60_000} minutes` : counts;
            throw new StepError(`tests failed (${why}); see ${resultsFile}\n${all.slice(-1500)}`, {data: {...data}, findings});
        }
        return outcome("done", counts, {findings, data: {...data}});
    }
});
