import fs from "node:fs";
import path from "node:path";
import {execa} from "execa";
import {afterAll, expect, test} from "vitest";
import {projectRoot} from "../../src/config/load.js";
import {validateReport} from "../../src/setup/reports.js";
import {readStateFile} from "../../src/setup/state.js";
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
    // while step 7 runs.
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
        ["service", expect.stringMatching(/^(denied|skipped)$/)], ["tests", "done"], ["safety", "done"], ["reports", "done"]
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
