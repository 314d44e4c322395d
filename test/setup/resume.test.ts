import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {execa} from "execa";
import {afterAll, describe, expect, test} from "vitest";
import {projectRoot} from "../../src/config/load.js";
import type {LaunchRecord} from "../../src/setup/records.js";
import {validateReport} from "../../src/setup/schemas.js";
import {readStateFile} from "../../src/setup/state-file.js";
import {STEP_IDS, type StepId} from "../../src/setup/step-ids.js";
import {StepError, type StepDefinition} from "../../src/setup/steps/contract.js";
import {STEP_IMPLEMENTATIONS} from "../../src/setup/steps/index.js";
import {addModel, makeHome, removeHome} from "../helpers/home.js";
import {commitsOf, FIXTURES, readReport, runSetup, testEnv} from "./helpers.js";

const homes: string[] = [];
const releases: string[] = [];
afterAll(async () => {
    for (const r of releases) fs.writeFileSync(r, "");
    for (const h of homes) await removeHome(h);
});

async function waitFor(file: string, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!fs.existsSync(file)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${file}`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

test("a run killed in the middle of a step resumes with --resume, without repeating any completed step", async () => {
    const h = await makeHome("zc-setup-resume-");
    const markers = await makeHome("zc-setup-resume-markers-");
    homes.push(h, markers);
    releases.push(path.join(markers, "release"));
    await addModel(h, "tiny/tiny-q8_0.gguf");
    const testCommand = `node "${path.join(FIXTURES, "hang-once.mjs")}" "${markers}"`;
    fs.mkdirSync(path.join(h, "config"));
    fs.writeFileSync(path.join(h, "config", "provider_config.json"), JSON.stringify({
        threads: 1, log_level: "silent",
        import_sources: {ollama: false, lmstudio: false, huggingface: false},
        setup: {test_command: testCommand}
    }, null, 2));

    // The real CLI in its own process, killed with SIGKILL (a crash or a power cut: no chance to clean up)
    // while the tests step runs.
    const child = execa(process.execPath, ["--import", "tsx", path.join("src", "cli", "setup.ts"), "--home", h, "--non-interactive", "--no-serve", "--skip", "endpoints,lazy-load"], {
        cwd: projectRoot, env: testEnv(), extendEnv: false, reject: false, stdin: "ignore"
    });
    try {
        await waitFor(path.join(markers, "started"), 45_000);
    } catch (err) {
        child.kill("SIGKILL");
        const r = await child;
        throw new Error(`${(err as Error).message}\n${String(r.stdout)}\n${String(r.stderr)}`);
    }
    const state = readStateFile(path.join(h, "logs", "setup_state.json"))!;
    expect(state.status).toBe("running");
    expect(state.state).toEqual({tests: "apply"});
    child.kill("SIGKILL");
    await child;
    const childPid = child.pid!;
    const commitsBefore = await commitsOf(h);

    const r = await runSetup(h, ["--resume", "--non-interactive", "--no-serve"], {testCommand});
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("Resuming run");

    const report = readReport(h);
    validateReport("provider_setup_report.schema.json", report);
    expect(report.status).toBe("completed");
    expect(report.steps.map((s) => [s.id, s.status])).toEqual([
        ["repo", "done"], ["models", "done"], ["endpoints", "skipped"], ["config", "denied"], ["lazy-load", "skipped"],
        ["service", expect.stringMatching(/^(denied|skipped)$/)], ["tests", "done"], ["safety", "done"], ["reports", "done"], ["editors", "skipped"]
    ]);
    const events = (step: string) => report.timeline.filter((e) => e.step === step);
    // Every step that completed before the kill ran once, in the killed process, and never again.
    for (const step of ["repo", "models", "config", "service"]) {
        const applies = events(step).filter((e) => e.event === "apply");
        expect(applies.length, step).toBeLessThanOrEqual(1);
        expect(events(step).every((e) => e.pid === childPid), step).toBe(true);
        expect(events(step).filter((e) => ["done", "denied", "skipped"].includes(e.event)).length, step).toBe(1);
    }
    // The interrupted step started over in the new process; the rest ran there.
    expect(events("tests").filter((e) => e.event === "apply" || e.event === "resumed").map((e) => [e.event, e.pid, e.detail ?? null]))
        .toEqual([["apply", childPid, null], ["resumed", process.pid, "apply"]]);
    expect(events("tests").at(-1)).toMatchObject({event: "done", pid: process.pid});
    expect(events("reports").every((e) => e.pid === process.pid)).toBe(true);
    expect(fs.readFileSync(path.join(markers, "runs"), "utf8")).toBe("again\n");

    const commits = await commitsOf(h);
    expect(commits.filter((c) => c.message === "initial snapshot before provider changes")).toHaveLength(1);
    for (const c of commitsBefore) expect(commits.map((x) => x.hash)).toContain(c.hash);
    expect(fs.readdirSync(path.join(h, "logs")).filter((f) => /^test_results_.*\.json$/.test(f))).toHaveLength(1);

    // A finished run cannot be resumed again.
    const again = await runSetup(h, ["--resume", "--non-interactive", "--no-serve"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("already finished");
}, 90_000);

/** A required step that fails (and so aborts a non-interactive run) as long as `broken.on` is set. */
function breakable(id: StepId): {step: StepDefinition<unknown>; broken: {on: boolean}; calls: {n: number}} {
    const broken = {on: true};
    const calls = {n: 0};
    const real = STEP_IMPLEMENTATIONS[id];
    const step: StepDefinition<unknown> = {
        id,
        prepare: (ctx) => real.prepare(ctx),
        apply: async (ctx, data, decisions) => {
            calls.n++;
            if (broken.on) throw new StepError(`${id} is broken for this test`);
            return real.apply(ctx, data, decisions);
        }
    };
    return {step, broken, calls};
}

describe("resuming an aborted run", () => {
    test("Abort (run again with --resume later) can be resumed: it continues at the failed step and repeats no completed one", async () => {
        const h = await makeHome("zc-setup-resume-aborted-");
        homes.push(h);
        const config = breakable("config");
        const steps = {config: config.step} as Partial<Record<StepId, StepDefinition<unknown>>>;
        const first = await runSetup(h, ["--non-interactive", "--no-serve", "--skip", "endpoints,lazy-load"], {steps});
        expect(first.code).toBe(1);
        const aborted = readStateFile(path.join(h, "logs", "setup_state.json"))!;
        expect(aborted.status).toBe("aborted");
        const commitsBefore = await commitsOf(h);

        config.broken.on = false;
        const r = await runSetup(h, ["--resume", "--non-interactive"], {steps});
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain(`Resuming run ${aborted.run_id}, aborted at step "Model manager config"`);
        expect(config.calls.n).toBe(2);
        const report = readReport(h);
        validateReport("provider_setup_report.schema.json", report);
        expect(report.run_id).toBe(aborted.run_id);
        expect(report.status).toBe("completed");
        expect(report.steps.map((s) => [s.id, s.status])).toEqual([
            ["repo", "done"], ["models", "done"], ["endpoints", "skipped"], ["config", "done"], ["lazy-load", "skipped"],
            ["service", expect.stringMatching(/^(denied|skipped)$/)], ["tests", "done"], ["safety", "done"], ["reports", "done"], ["editors", "skipped"]
        ]);
        for (const step of ["repo", "models"])
            expect(report.timeline.filter((e) => e.step === step && e.event === "apply"), step).toHaveLength(1);
        expect(report.timeline.filter((e) => e.event === "resumed")).toEqual([expect.objectContaining({step: "config", detail: "check"})]);
        const commits = await commitsOf(h);
        expect(commits.filter((c) => c.message === "initial snapshot before provider changes")).toHaveLength(1);
        for (const c of commitsBefore) expect(commits.map((x) => x.hash)).toContain(c.hash);
    });

    test("flags given with --resume replace the recorded ones both ways; flags not given keep them", async () => {
        const h = await makeHome("zc-setup-resume-flags-");
        homes.push(h);
        const config = breakable("config");
        const steps = {config: config.step} as Partial<Record<StepId, StepDefinition<unknown>>>;
        const only = ["--skip", "models,endpoints,lazy-load,service,tests,safety"];
        const launched: string[] = [];
        const launch = async (): Promise<LaunchRecord> => {
            launched.push("launch");
            return {mode: "none", url: null, detail: "launched by the test"};
        };
        expect((await runSetup(h, ["--non-interactive", "--yes", "--no-serve", ...only], {steps, launch})).code).toBe(1);
        const options = () => readStateFile(path.join(h, "logs", "setup_state.json"))!.options;
        expect(options()).toMatchObject({yes: true, serve: false});

        // Nothing given: the recorded --yes and --no-serve stay.
        expect((await runSetup(h, ["--resume", "--non-interactive"], {steps, launch})).code).toBe(1);
        expect(options()).toMatchObject({yes: true, serve: false});

        // --no-yes and --serve undo them.
        config.broken.on = false;
        const r = await runSetup(h, ["--resume", "--non-interactive", "--no-yes", "--serve"], {steps, launch});
        expect(r.code, r.stderr).toBe(0);
        expect(options()).toMatchObject({yes: false, serve: true});
        expect(launched).toEqual(["launch"]);
        expect(readReport(h)).toMatchObject({options: {yes: false, serve: true}, launch: {detail: "launched by the test"}});
    });
});

describe("one setup run per home", () => {
    test("a second run exits with a clear message while the first holds the lock; a lock whose process died is taken over", async () => {
        const h = await makeHome("zc-setup-lock-");
        homes.push(h);
        const holder = execa(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], {reject: false});
        const lockFile = path.join(h, "logs", "setup.lock");
        fs.mkdirSync(path.dirname(lockFile), {recursive: true});
        fs.writeFileSync(lockFile, JSON.stringify({pid: holder.pid, token: "the-other-run", hostname: os.hostname(), started_at: "2025-01-01T00:00:00.000Z"}));
        const skipAll = ["--non-interactive", "--no-serve", "--skip", STEP_IDS.join(",")];
        try {
            const r = await runSetup(h, skipAll);
            expect(r.code).toBe(4);
            expect(r.stderr).toContain(`another setup run (pid ${holder.pid}, started 2025-01-01T00:00:00.000Z) is working on ${h}`);
            expect(fs.existsSync(path.join(h, "logs", "setup_state.json"))).toBe(false);
            expect(JSON.parse(fs.readFileSync(lockFile, "utf8"))).toMatchObject({token: "the-other-run"});
        } finally {
            holder.kill("SIGKILL");
            await holder;
        }
        // The holder is dead now: its lock is stale, taken over, and released at the end.
        const r = await runSetup(h, skipAll);
        expect(r.code, r.stderr).toBe(0);
        expect(readReport(h).status).toBe("completed");
        expect(fs.existsSync(lockFile)).toBe(false);
    });
});
