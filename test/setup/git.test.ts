/** The repo step's branch handling, a home inside another repository, and the key file in every commit setup makes. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {afterAll, describe, expect, test} from "vitest";
import {STEP_IDS, type StepId} from "../../src/setup/step-ids.js";
import {outcome, type StepDefinition} from "../../src/setup/steps/contract.js";
import {addModel, makeHome, removeHome} from "../helpers/home.js";
import {commitsOf, git, readReport, runSetup} from "./helpers.js";

const homes: string[] = [];
afterAll(async () => {
    for (const h of homes) await removeHome(h);
});

async function home(prefix: string): Promise<string> {
    const h = await makeHome(prefix);
    homes.push(h);
    return h;
}

/** Only the repo step runs: what these tests look at happens there. */
const ONLY_REPO = ["--non-interactive", "--no-serve", "--skip", STEP_IDS.filter((s) => s !== "repo").join(",")];

async function commit(h: string, file: string, text: string, message: string): Promise<string> {
    fs.writeFileSync(path.join(h, file), text);
    const g = git(h);
    await g.add([file]);
    await g.commit(message);
    return (await g.revparse(["HEAD"])).trim();
}

describe("an existing feature/provider-setup branch", () => {
    test("behind HEAD: fast-forwarded to the snapshot, then checked out (not its stale tree)", async () => {
        const h = await home("zc-setup-stale-");
        const g = git(h);
        await g.init();
        await g.raw(["checkout", "-q", "-b", "main"]);
        const a = await commit(h, "README.md", "version A\n", "user: A");
        await g.raw(["branch", "feature/provider-setup"]);
        await commit(h, "README.md", "version B\n", "user: B");
        fs.writeFileSync(path.join(h, "notes.txt"), "uncommitted\n");

        const r = await runSetup(h, ONLY_REPO);
        expect(r.code, r.stderr).toBe(0);
        expect((await g.raw(["symbolic-ref", "--short", "HEAD"])).trim()).toBe("feature/provider-setup");
        const snapshot = (await commitsOf(h)).find((c) => c.message === "setup: snapshot of uncommitted changes before provider setup")!;
        expect((await g.revparse(["feature/provider-setup"])).trim()).toBe(snapshot.hash);
        expect((await g.revparse(["main"])).trim()).toBe(snapshot.hash);
        // The working tree is the newest one, not the branch's old A.
        expect(fs.readFileSync(path.join(h, "README.md"), "utf8")).toBe("version B\n");
        expect(fs.readFileSync(path.join(h, "notes.txt"), "utf8")).toBe("uncommitted\n");
        const repo = readReport(h).steps.find((s) => s.id === "repo")!;
        expect(repo.data).toMatchObject({branch: "feature/provider-setup", branch_status: "fast-forwarded", branch_created: false, previous_branch: "main"});
        expect(repo.findings.join("\n")).toContain(`fast-forwarded branch feature/provider-setup from ${a.slice(0, 10)}`);
    });

    test("diverged from HEAD: setup stays on the current branch and says so in the report", async () => {
        const h = await home("zc-setup-diverged-");
        const g = git(h);
        await g.init();
        await g.raw(["checkout", "-q", "-b", "main"]);
        await commit(h, "README.md", "version A\n", "user: A");
        await g.raw(["checkout", "-q", "-b", "feature/provider-setup"]);
        const c = await commit(h, "other.txt", "work on the branch\n", "user: C");
        await g.raw(["checkout", "-q", "main"]);
        const b = await commit(h, "README.md", "version B\n", "user: B");

        const r = await runSetup(h, ONLY_REPO);
        expect(r.code, r.stderr).toBe(0);
        expect((await g.raw(["symbolic-ref", "--short", "HEAD"])).trim()).toBe("main");
        expect((await g.revparse(["feature/provider-setup"])).trim()).toBe(c);
        expect(fs.existsSync(path.join(h, "other.txt"))).toBe(false);
        // The repo step's own commits (none were pending here but the .gitignore) went onto main.
        await g.raw(["merge-base", "--is-ancestor", b, "main"]);
        const report = readReport(h);
        expect(report.branch).toBe("main");
        const repo = report.steps.find((s) => s.id === "repo")!;
        expect(repo.data).toMatchObject({branch: "main", setup_branch: "feature/provider-setup", branch_status: "diverged"});
        expect(repo.warnings.join("\n")).toMatch(/feature\/provider-setup exists and has diverged from main .*stayed on main/);
    });
});

describe("a home inside another git repository", () => {
    test("the repo step fails with a clear message; no repository is nested, the outer one gets no commit and keeps its branch", async () => {
        const outer = await home("zc-setup-outer-");
        const g = git(outer);
        await g.init();
        await g.raw(["checkout", "-q", "-b", "trunk"]);
        const first = await commit(outer, "README.md", "the user's project\n", "user: first");
        const h = path.join(outer, "tools", "provider home");

        const plan = await runSetup(h, ["--plan"]);
        expect(plan.stdout).toContain(`is inside the git repository ${fs.realpathSync(outer)}`);

        const r = await runSetup(h, ["--non-interactive", "--no-serve"]);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(`${h} is inside the git repository ${fs.realpathSync(outer)}`);
        expect(r.stderr).toContain("--home");
        expect(fs.existsSync(path.join(h, ".git"))).toBe(false);
        expect(fs.existsSync(path.join(h, ".gitignore"))).toBe(false);
        expect(fs.existsSync(path.join(h, "models"))).toBe(false);
        expect((await g.revparse(["HEAD"])).trim()).toBe(first);
        expect((await g.raw(["symbolic-ref", "--short", "HEAD"])).trim()).toBe("trunk");
        expect((await g.raw(["branch", "--list"])).trim()).toBe("* trunk");
        const report = readReport(h);
        expect(report.steps[0]).toMatchObject({id: "repo", status: "failed"});
    });

    test("the repository's own top folder as the home is fine", async () => {
        const h = await home("zc-setup-top-");
        await git(h).init();
        const r = await runSetup(h, ONLY_REPO);
        expect(r.code, r.stderr).toBe(0);
    });
});

describe("the API key file", () => {
    test("not covered by .gitignore any more, it still never lands in a commit (gates, safety's commit, the reports' commit)", async () => {
        const h = await home("zc-setup-key-");
        await addModel(h, "alpha/alpha-q8_0.gguf", {seed: 1});
        fs.mkdirSync(path.join(h, "models", "copies"), {recursive: true});
        fs.copyFileSync(path.join(h, "models", "alpha", "alpha-q8_0.gguf"), path.join(h, "models", "copies", "alpha-copy-q8_0.gguf"));
        const answersDir = fs.mkdtempSync(path.join(os.tmpdir(), "zc-answers-"));
        homes.push(answersDir);
        const answers = path.join(answersDir, "answers.yaml");
        fs.writeFileSync(answers, "delete:all: approve\n");
        // After the config step wrote the key, someone edits the .gitignore and drops the key's line (the tests step stands in for them).
        const dropKeyRule: StepDefinition<unknown> = {
            id: "tests",
            prepare: async () => ({summary: [], approvals: [], data: null}),
            apply: async () => {
                const file = path.join(h, ".gitignore");
                fs.writeFileSync(file, fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "config/api_key.txt").join("\n"));
                return outcome("done", "dropped the key's .gitignore line", {data: {results_file: null, command: "stand-in", exit_code: 0, passed: true, summary: null, duration_ms: 0}});
            }
        };
        const r = await runSetup(h, ["--non-interactive", "--no-serve", "--answers", answers, "--skip", "endpoints,lazy-load,service"], {
            steps: {tests: dropKeyRule} as Partial<Record<StepId, StepDefinition<unknown>>>
        });
        expect(r.code, r.stderr).toBe(0);
        expect(fs.existsSync(path.join(h, "config", "api_key.txt"))).toBe(true);
        // check-ignore prints the paths it ignores: none.
        expect((await git(h).raw(["check-ignore", "--no-index", "config/api_key.txt"]).catch(() => "")).trim()).toBe("");

        const report = readReport(h);
        const safety = report.steps.find((s) => s.id === "safety")!;
        expect(safety.status).toBe("done");
        const steps = new Set(report.commits.map((c) => c.step));
        for (const s of ["safety", "reports"]) expect(steps.has(s), s).toBe(true);
        for (const c of await commitsOf(h)) expect(c.files, c.message).not.toContain("config/api_key.txt");
        expect((await git(h).raw(["ls-files", "--", "config/api_key.txt"])).trim()).toBe("");
    });
});
