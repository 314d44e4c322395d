/**
 * The tests step. By default it runs the provider check suite (src/setup/checks/) against the provider as it was
 * just configured, started in this process on a free port: a minute on two cores, about this machine and these
 * models. With --full-tests, or a configured setup.test_command, it runs the project's development suite instead
 * (test-command.ts). Either way the results are kept in logs/test_results_<timestamp>.json.
 */
import fs from "node:fs";
import path from "node:path";
import type {ProviderConfig} from "../../config/load.js";
import {readIndex} from "../../registry/index-file.js";
import type {ModelEntry} from "../../registry/types.js";
import {modelsToCheck} from "../checks/models.js";
import {runProviderChecks} from "../checks/suite.js";
import {checkLine} from "../checks/types.js";
import {defineStep, fileTimestamp, outcome, StepError, type StepContext} from "./contract.js";
import {withCheckServer} from "./provider-check.js";
import {defaultTestCommand, runTestCommand} from "./test-command.js";
import {writeTestResults, type TestResultsFile, type TestsData} from "./test-results.js";

interface TestsPrep {
    command: string;
    configured: boolean;
}

/** What the results file names as the command of the provider checks. */
export const CHECKS_COMMAND = "provider checks (built in; npm run setup -- --full-tests runs the development suite)";

/** The development suite takes 3 to 4 minutes on two cores. */
const FULL_SUITE_SECONDS = 240;

/** Whether this run's tests step runs a command (the development suite) rather than the provider checks. */
export function runsCommand(ctx: Pick<StepContext, "config" | "run">): boolean {
    const configured = ctx.config().setup.test_command;
    return ctx.run.options.full_tests === true || (configured != null && configured.trim() !== "");
}

/**
 * Seconds the checks should take on two cores: a server start, the routes on the smallest model, and per model a
 * runner start, reading the file, and a short chat whose speed is bounded by how fast the weights stream from memory.
 */
export function estimateCheckSeconds(sizes: readonly number[]): number {
    const speed = (bytes: number): number => Math.min(100, Math.max(0.5, 5e9 / Math.max(1, bytes)));
    const perModel = (bytes: number): number => 5 + bytes / 150e6 + 10 / speed(bytes);
    const routes = sizes.length > 0 ? 30 / speed(Math.min(...sizes)) : 3;
    return 3 + 2 + routes + (sizes.length > 0 ? sizes.reduce((n, b) => n + perModel(b), 0) : perModel(200_000));
}

/** GGUF sizes under models_dir, for a plan made before any index exists (reads the folder only). */
function ggufSizes(dir: string): number[] {
    try {
        return (fs.readdirSync(dir, {recursive: true, withFileTypes: true}) as fs.Dirent[])
            .filter((e) => e.isFile() && /\.gguf$/i.test(e.name) && !/^mmproj/i.test(e.name))
            .map((e) => fs.statSync(path.join(e.parentPath ?? dir, e.name)).size);
    } catch {
        return [];
    }
}

async function planChecks(cfg: ProviderConfig): Promise<{summary: string[]; seconds: number}> {
    const index = await readIndex(cfg.paths.registry);
    const summary = [
        "start the provider as configured on a free 127.0.0.1 port",
        "check the API key (no key: 401, a wrong key: 401, the key: 200) and every route editors use, with the smallest chat model",
        "each model: it loads, answers a short chat (tokens per second from its own counts) and stays resident; then one fill-in-the-middle request, and each upstream"
    ];
    if (!index) {
        const sizes = ggufSizes(cfg.paths.models);
        summary.push(sizes.length > 0 ? `check the ${sizes.length} model file(s) in models_dir, and whatever else the models step finds` : "no model yet: a generated test model stands in");
        return {summary, seconds: estimateCheckSeconds(sizes)};
    }
    const pick = modelsToCheck(index.models, cfg);
    for (const m of pick.check) summary.push(`  check ${m.name} (${(m.size_bytes / 1e6).toFixed(m.size_bytes < 1e7 ? 1 : 0)} MB)`);
    for (const s of pick.skipped) summary.push(`  not loaded: ${s.model.name}: ${s.why}`);
    if (pick.check.length === 0) summary.push("no model to check: a generated test model stands in");
    return {summary, seconds: estimateCheckSeconds(pick.check.map((m: ModelEntry) => m.size_bytes))};
}

async function runChecks(ctx: StepContext) {
    const cfg = ctx.config();
    const started = new Date();
    const resultsFile = path.join(cfg.paths.logs, `test_results_${fileTimestamp(started)}.json`);
    const suite = await withCheckServer(ctx, (server) => runProviderChecks(server));
    const lines = suite.results.map(checkLine);
    const failed = suite.results.filter((r) => !r.ok && !r.skipped);
    const passed = failed.length === 0;
    const file: TestResultsFile = {
        version: 1, command: CHECKS_COMMAND, cwd: ctx.home, started_at: started.toISOString(), finished_at: new Date().toISOString(),
        duration_ms: suite.duration_ms, exit_code: null, timed_out: false, passed,
        summary: {...suite.summary, suites_failed: 0, success: passed}, failed_tests: failed.map((r) => r.title),
        output_tail: lines.join("\n"), vitest: null, suite: "provider_checks", checks: suite.results
    };
    writeTestResults(resultsFile, file);
    const speeds = suite.results.filter((r) => r.tokens_per_second != null).map((r) => `${r.model}: ${r.tokens_per_second} tokens/s`);
    const counts = `${suite.summary.passed}/${suite.summary.total} checks passed, ${suite.summary.failed} failed, ${suite.summary.skipped} skipped; ` +
        `${suite.models_checked.length} model(s) loaded${speeds.length > 0 ? ` (${speeds.join(", ")})` : ""}`;
    const data: TestsData & {models_checked: string[]; models_skipped: typeof suite.models_skipped; generated_only: boolean} = {
        results_file: resultsFile, command: CHECKS_COMMAND, exit_code: null, passed, summary: file.summary, duration_ms: suite.duration_ms,
        suite: "provider_checks", models_checked: suite.models_checked, models_skipped: suite.models_skipped, generated_only: suite.generated_only
    };
    const findings = [`${counts}; results in ${path.relative(ctx.home, resultsFile) || resultsFile}`, ...lines];
    const warnings = suite.generated_only ? ["only generated test models were checked: no model of yours is installed (npm run pull, or copy .gguf files into models_dir)"] : [];
    if (!passed) throw new StepError(`provider checks failed (${counts}); see ${resultsFile}\n${lines.filter((l) => l.startsWith("FAIL")).join("\n")}`, {data: {...data}, findings});
    return outcome("done", counts, {findings, warnings, data: {...data}});
}

export const testsStep = defineStep<TestsPrep>({
    id: "tests",

    async prepare(ctx) {
        const cfg = ctx.config();
        const logs = path.join(path.relative(ctx.home, cfg.paths.logs) || cfg.paths.logs, "test_results_<timestamp>.json");
        if (runsCommand(ctx)) {
            const configured = cfg.setup.test_command != null && cfg.setup.test_command.trim() !== "";
            const def = defaultTestCommand("<logs>/test_results_<timestamp>.vitest.json");
            const command = configured ? cfg.setup.test_command! : [def.file, ...def.args].join(" ");
            return {
                summary: [`run the development suite: \`${command}\`${configured ? " (setup.test_command)" : " (--full-tests)"}`, `save ${logs}`],
                approvals: [], data: {command, configured}, expectedSeconds: FULL_SUITE_SECONDS
            };
        }
        const plan = await planChecks(cfg);
        return {summary: [...plan.summary, `save ${logs}`], approvals: [], data: {command: CHECKS_COMMAND, configured: false}, expectedSeconds: plan.seconds};
    },

    async apply(ctx) {
        return runsCommand(ctx) ? runTestCommand(ctx) : runChecks(ctx);
    }
});
