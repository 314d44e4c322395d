import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {afterAll, describe, expect, test} from "vitest";
import {validateReport} from "../../src/setup/schemas.js";
import type {EndpointsData} from "../../src/setup/steps/endpoints.js";
import type {SafetyData} from "../../src/setup/steps/safety.js";
import type {TestResultsFile} from "../../src/setup/steps/test-results.js";
import {addModel, makeHome, removeHome} from "../helpers/home.js";
import {commitsOf, fixtureSuiteCommand, git, hashTree, readReport, runSetup, testEnv, testOverrides} from "./helpers.js";

const homes: string[] = [];
async function home(prefix: string): Promise<string> {
    const h = await makeHome(prefix);
    homes.push(h);
    return h;
}
afterAll(async () => {
    for (const h of homes) await removeHome(h);
});

function writeAnswers(text: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zc-answers-"));
    homes.push(dir);
    const file = path.join(dir, "answers.yaml");
    fs.writeFileSync(file, text);
    return file;
}

const REQUIRED_IGNORES = ["models/", "*.gguf", "*.part", "*.ipull", "logs/", "config/api_key.txt", "registry/models_index.json"];

describe("an empty directory without git", () => {
    test("folders, .gitignore before the first commit, branch, index, endpoints with a generated model, tests, reports", async () => {
        const h = await home("zc-setup-empty-");
        // Strays at the home's root, outside models/: the .gitignore must keep them out of the very first commit.
        fs.writeFileSync(path.join(h, "x.gguf"), "GGUF stray weights at the root");
        fs.writeFileSync(path.join(h, "y.part"), "a partial download at the root");
        const r = await runSetup(h, ["--non-interactive", "--no-serve"], {testCommand: fixtureSuiteCommand()});
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);

        for (const f of ["test", "documentation", "models", "scripts", "logs", "config", "registry"]) expect(fs.statSync(path.join(h, f)).isDirectory()).toBe(true);
        const ignore = fs.readFileSync(path.join(h, ".gitignore"), "utf8");
        for (const p of REQUIRED_IGNORES) expect(ignore.split("\n")).toContain(p);

        const commits = await commitsOf(h);
        const root = commits.find((c) => c.parents.length === 0)!;
        expect(root.message).toBe("initial snapshot before provider changes");
        expect(root.files).toContain(".gitignore");
        expect(root.files.filter((f) => f.endsWith(".gguf"))).toEqual([]);
        const rootIgnore = await git(h).raw(["show", `${root.hash}:.gitignore`]);
        for (const p of REQUIRED_IGNORES) expect(rootIgnore.split("\n")).toContain(p);
        for (const c of commits) expect(c.files.some((f) => f.endsWith(".gguf") || f.endsWith(".part") || f.startsWith("logs/") || f === "config/api_key.txt")).toBe(false);
        for (const c of commits) expect(c.files, c.message).not.toEqual(expect.arrayContaining(["x.gguf"]));
        for (const c of commits) expect(c.files, c.message).not.toEqual(expect.arrayContaining(["y.part"]));
        // Still there, untouched, and ignored.
        expect(fs.readFileSync(path.join(h, "x.gguf"), "utf8")).toBe("GGUF stray weights at the root");
        expect((await git(h).raw(["check-ignore", "x.gguf", "y.part"])).trim().split("\n")).toEqual(["x.gguf", "y.part"]);
        expect((await git(h).raw(["symbolic-ref", "--short", "HEAD"])).trim()).toBe("feature/provider-setup");
        expect(fs.existsSync(path.join(h, "registry", "models_index.json"))).toBe(true);

        const report = readReport(h);
        validateReport("provider_setup_report.schema.json", report);
        expect(report.status).toBe("completed");
        expect(report.steps.map((s) => [s.id, s.status])).toEqual([
            ["repo", "done"], ["models", "done"], ["endpoints", "done"], ["config", "done"], ["lazy-load", "done"],
            ["service", expect.stringMatching(/^(denied|skipped)$/)], ["tests", "done"], ["safety", "done"], ["reports", "done"], ["editors", "skipped"]
        ]);
        for (const c of report.commits) expect(commits.map((x) => x.hash)).toContain(c.hash);

        // The endpoints step against the real server: no model was installed, so the generated test model served every route.
        const ep = report.steps.find((s) => s.id === "endpoints")!.data as unknown as EndpointsData;
        expect(ep.generated_test_model).toBe(true);
        expect(ep.results.map((x) => x.endpoint)).toEqual(["/api/tags", "/api/generate", "/api/chat", `/runtime/load/${ep.model}`, `/runtime/unload/${ep.model}`, "/models/installed", "/download/start"]);
        for (const x of ep.results) expect(x.ok, `${x.endpoint}: ${x.detail}`).toBe(true);
        expect(ep.results.at(-1)!.status).toBe(400);
        expect(report.lazy_load?.status_after).toBe("loaded");
        // The check servers kept their index out of the home: no model of theirs is listed.
        expect(fs.readFileSync(path.join(h, "registry", "models_index.json"), "utf8")).not.toContain("zombiecoder-setup-test");

        // The tests step: the fixture suite's vitest JSON, in a file whose name has no ':'.
        const resultsFile = report.tests.results_file!;
        expect(path.basename(resultsFile)).toMatch(/^test_results_\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.json$/);
        const results = JSON.parse(fs.readFileSync(resultsFile, "utf8")) as TestResultsFile;
        validateReport("setup_test_results.schema.json", results);
        expect(results.summary).toMatchObject({total: 2, passed: 2, failed: 0, success: true});
        expect(results.vitest).not.toBeNull();

        // The config step: config written with relative paths, the key generated into the git-ignored file and printed once.
        const config = JSON.parse(fs.readFileSync(path.join(h, "config", "provider_config.json"), "utf8")) as Record<string, unknown>;
        expect(config.models_dir).toBe("models");
        expect(config.auth).toMatchObject({api_key: null, api_key_file: "config/api_key.txt"});
        const key = fs.readFileSync(path.join(h, "config", "api_key.txt"), "utf8").trim();
        expect(key).toMatch(/^zc-[A-Za-z0-9_-]{40,}$/);
        // Printed once: one block with the key and the editor snippets that use it.
        expect(r.stdout.split("Your API key (shown once").length - 1).toBe(1);
        const block = r.stdout.slice(r.stdout.indexOf("Your API key (shown once"));
        expect(block.slice(0, block.indexOf("/api/tags") + 20)).toContain(`x-api-key: ${key}`);
        expect(r.stdout.slice(0, r.stdout.indexOf("Your API key"))).not.toContain(key);
        expect((await git(h).raw(["check-ignore", "config/api_key.txt"])).trim()).toBe("config/api_key.txt");
        for (const f of [path.join(h, "MODEL_MIGRATION_SUMMARY.md"), path.join(h, "logs", "provider_setup_report.json"), path.join(h, "logs", "setup_state.json")])
            expect(fs.readFileSync(f, "utf8")).not.toContain(key);
        expect(report.api_key).toMatchObject({location: path.join(h, "config", "api_key.txt"), generated: true, source: "file"});

        const summary = fs.readFileSync(path.join(h, "MODEL_MIGRATION_SUMMARY.md"), "utf8");
        for (const heading of ["## Models", "## Duplicates", "## Deleted and kept", "## Service", "## API key", "## Editor setup", "## Next steps"]) expect(summary).toContain(heading);

        // Setup's last commit is the reports': the index (a cache) and the logs are ignored, so nothing is left over.
        expect((await git(h).raw(["status", "--porcelain", "--untracked-files=all"])).trim()).toBe("");
        expect(commits[0]!.message).toBe("setup: provider setup reports (MODEL_MIGRATION_SUMMARY.md)");
        expect(commits.flatMap((c) => c.files)).not.toContain("registry/models_index.json");
        // No model was installed: the run ends saying so, and how to add one; the key's place, never the key.
        const tail = r.stdout.trimEnd().split("\n").slice(-12).join("\n");
        expect(tail).toContain("No model is installed yet");
        expect(tail).toContain("npm run pull");
        expect(tail).toContain(`API key: in ${path.join(h, "config", "api_key.txt")}`);
        expect(tail).not.toContain(key);
    }, 300_000);
});

describe("a home with generated models, one duplicate and one invalid file", () => {
    let h: string;
    let duplicateId: string;

    test("with no answers nothing is deleted and the report lists the candidates as denied", async () => {
        h = await home("zc-setup-models-");
        await addModel(h, "alpha/alpha-q8_0.gguf", {seed: 1});
        await addModel(h, "beta/beta-q8_0.gguf", {seed: 2, name: "Beta"});
        fs.mkdirSync(path.join(h, "models", "copies"), {recursive: true});
        fs.copyFileSync(path.join(h, "models", "alpha", "alpha-q8_0.gguf"), path.join(h, "models", "copies", "alpha-copy-q8_0.gguf"));
        fs.mkdirSync(path.join(h, "models", "broken"), {recursive: true});
        fs.writeFileSync(path.join(h, "models", "broken", "broken.gguf"), "this is not a GGUF file at all\n".repeat(100));
        const before = hashTree(h);

        const r = await runSetup(h, ["--non-interactive", "--no-serve", "--skip", "endpoints,lazy-load"]);
        expect(r.code, r.stderr).toBe(0);

        const after = hashTree(h, [".git"]);
        for (const [file, hash] of before) expect(after.get(file), file).toBe(hash);

        const report = readReport(h);
        validateReport("provider_setup_report.schema.json", report);
        const safety = report.steps.find((s) => s.id === "safety")!;
        expect(safety.status).toBe("denied");
        expect(report.deleted).toEqual([]);
        const rows = report.safe_to_delete.map((c) => [c.path, c.reason, c.answer, c.deleted]);
        rows.sort((a, b) => String(a[1]).localeCompare(String(b[1])));
        expect(rows).toEqual([
            [expect.stringMatching(/^models\/(alpha\/alpha|copies\/alpha-copy)-q8_0\.gguf$/), "duplicate", "deny", false],
            ["models/broken/broken.gguf", "invalid_gguf", "deny", false]
        ]);
        for (const c of report.safe_to_delete) {
            const a = report.approvals.find((x) => x.id === c.approval_id)!;
            expect(a).toMatchObject({answer: "deny", source: "default", step: "safety"});
        }
        duplicateId = report.safe_to_delete.find((c) => c.reason === "duplicate")!.approval_id;

        const commits = await commitsOf(h);
        for (const c of commits) expect(c.files.filter((f) => f.endsWith(".gguf"))).toEqual([]);
        const summary = fs.readFileSync(path.join(h, "MODEL_MIGRATION_SUMMARY.md"), "utf8");
        expect(summary).toContain("| Name | Size | Quantization | Parameters | Source | Path | Status |");
        for (const m of report.models.entries) expect(summary).toContain(`| ${m.name} |`);
        expect(report.models.entries.some((m) => m.status === "invalid")).toBe(true);
    });

    test("the same home with an answers file approving one duplicate: exactly that file goes, after a commit", async () => {
        expect(duplicateId).toBeDefined();
        const target = duplicateId.slice("delete:".length);
        const answers = writeAnswers(`# approve one file only\n${duplicateId}: approve\nservice:install: deny\n`);
        const before = hashTree(h, [".git"]);

        const r = await runSetup(h, ["--non-interactive", "--no-serve", "--answers", answers, "--skip", "endpoints,lazy-load"]);
        expect(r.code, r.stderr).toBe(0);

        const after = hashTree(h, [".git"]);
        const gone = [...before.keys()].filter((f) => !after.has(f));
        expect(gone).toEqual([target]);
        for (const [file, hash] of before) {
            if (file === target || file.startsWith("logs/") || file.startsWith("registry/") || file === "MODEL_MIGRATION_SUMMARY.md") continue;
            expect(after.get(file), file).toBe(hash);
        }

        const report = readReport(h);
        validateReport("provider_setup_report.schema.json", report);
        expect(report.deleted.map((d) => d.path)).toEqual([target]);
        expect(report.approvals.find((a) => a.id === duplicateId)).toMatchObject({answer: "approve", source: "answers_file"});
        const invalid = report.safe_to_delete.find((c) => c.reason === "invalid_gguf")!;
        expect(invalid).toMatchObject({answer: "deny", deleted: false});
        const safety = report.steps.find((s) => s.id === "safety")!.data as unknown as SafetyData;
        const commits = await commitsOf(h);
        const before1 = commits.find((c) => c.hash === safety.commit_before_delete);
        expect(before1?.message).toBe("setup: before deleting 1 approved file(s)");
        expect(before1?.body).toContain(target);
        expect(report.commits.map((c) => c.hash)).toContain(safety.commit_before_delete);
        await git(h).raw(["merge-base", "--is-ancestor", safety.commit_before_delete!, "HEAD"]);
    });
});

describe("the final state", () => {
    test("without --no-serve, the provider is launched in the foreground and serves until stopped", async () => {
        const h = await home("zc-setup-serve-");
        let stop!: () => void;
        const stopped = new Promise<void>((resolve) => {
            stop = resolve;
        });
        let health: number | null = null;
        let stdout = "";
        const r = await runSetup(h, ["--non-interactive", "--skip", "endpoints,lazy-load,tests"], {
            configOverrides: {...testOverrides(), server_port: 0},
            stopSignal: stopped,
            out: (t) => {
                stdout += t;
                const m = /Provider: (http:\/\/\S+)/.exec(t);
                if (m) void fetch(`${m[1]}/health`).then((res) => {
                    health = res.status;
                }, () => undefined).finally(stop);
            }
        });
        expect(r.code, r.stderr).toBe(0);
        expect(health).toBe(200);
        expect(stdout).toContain("running in this terminal; Ctrl+C stops it");
        expect(readReport(h).launch).toMatchObject({mode: "foreground", url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/)});
        // The provider ran (its start rescanned and rewrote the index) and stopped: the tree is still clean.
        expect((await git(h).raw(["status", "--porcelain", "--untracked-files=all"])).trim()).toBe("");
        // The last lines say where the key is and how to read it.
        expect(stdout).toMatch(/API key: in .*api_key\.txt.*\n  bash: +KEY=\$\(cat .*\n  PowerShell: +\$KEY = \(Get-Content/);
    });

    test("a failing test command: the results are saved, the optional step is skipped by default, and the exit status says so", async () => {
        const h = await home("zc-setup-redtests-");
        const r = await runSetup(h, ["--non-interactive", "--no-serve", "--skip", "endpoints,lazy-load"], {testCommand: `node -e "console.log('1 test failed'); process.exit(1)"`});
        expect(r.code).toBe(3);
        const report = readReport(h);
        const tests = report.steps.find((s) => s.id === "tests")!;
        expect(tests).toMatchObject({status: "failed", failure_action: {action: "skip", source: "default"}});
        expect(tests.errors[0]).toContain("tests failed (exit code 1)");
        const results = JSON.parse(fs.readFileSync(report.tests.results_file!, "utf8")) as TestResultsFile;
        validateReport("setup_test_results.schema.json", results);
        expect(results).toMatchObject({exit_code: 1, passed: false, summary: null});
        expect(results.output_tail).toContain("1 test failed");
        expect(report.steps.find((s) => s.id === "reports")!.status).toBe("done");
        expect(report.next_steps.join("\n")).toContain(`Step "Tests" failed`);
    });

    test("usage errors exit 2 with the usage text", async () => {
        const h = await home("zc-setup-usage-");
        const r = await runSetup(h, ["--skip", "nonsense"]);
        expect(r.code).toBe(2);
        expect(r.stderr).toContain(`--skip: unknown step "nonsense"`);
        const r2 = await runSetup(h, ["--frobnicate"]);
        expect(r2.code).toBe(2);
        expect(r2.stderr).toContain("usage: npm run setup");
        expect(fs.readdirSync(h)).toEqual([]);
    });
});

describe("an existing git repository", () => {
    test("an index an earlier setup committed stops being tracked in the snapshot; the file stays", async () => {
        const h = await home("zc-setup-tracked-index-");
        const g = git(h);
        await g.init();
        await g.raw(["checkout", "-q", "-b", "main"]);
        fs.mkdirSync(path.join(h, "registry"));
        fs.writeFileSync(path.join(h, "registry", "models_index.json"), "{\"version\": 1, \"models\": []}\n");
        await g.add(["registry/models_index.json"]);
        await g.commit("an earlier setup's reports");

        const r = await runSetup(h, ["--non-interactive", "--no-serve", "--skip", "endpoints,lazy-load"]);
        expect(r.code, r.stderr).toBe(0);
        expect((await g.raw(["ls-files", "--", "registry/models_index.json"])).trim()).toBe("");
        expect(fs.existsSync(path.join(h, "registry", "models_index.json"))).toBe(true);
        const snapshot = (await commitsOf(h)).find((c) => c.message === "setup: snapshot of uncommitted changes before provider setup")!;
        expect(snapshot.body).toContain("Stops tracking registry/models_index.json");
        expect((await g.raw(["status", "--porcelain", "--untracked-files=all"])).trim()).toBe("");
        expect(readReport(h).steps[0]!.findings.join("\n")).toContain("stopped tracking registry/models_index.json");
    });

    test("a dirty tree gets a snapshot commit first, without the weights, then the setup branch", async () => {
        const h = await home("zc-setup-dirty-");
        const g = git(h);
        await g.init();
        await g.raw(["checkout", "-q", "-b", "main"]);
        fs.writeFileSync(path.join(h, "README.md"), "# my provider\n");
        await g.add(["README.md"]);
        await g.commit("user: first commit");
        const original = (await g.revparse(["HEAD"])).trim();
        fs.writeFileSync(path.join(h, "README.md"), "# my provider\n\nedited, not committed\n");
        fs.writeFileSync(path.join(h, "notes.txt"), "untracked notes\n");
        await addModel(h, "tiny/tiny-q8_0.gguf");
        fs.writeFileSync(path.join(h, "models", "tiny", "download.gguf.part"), "partial");

        const r = await runSetup(h, ["--non-interactive", "--no-serve", "--skip", "endpoints,lazy-load"]);
        expect(r.code, r.stderr).toBe(0);

        const commits = await commitsOf(h);
        const snapshot = commits.find((c) => c.message === "setup: snapshot of uncommitted changes before provider setup")!;
        expect(snapshot).toBeDefined();
        expect(snapshot.parents).toEqual([original]);
        expect(snapshot.files).toEqual(expect.arrayContaining(["README.md", "notes.txt", ".gitignore"]));
        expect(snapshot.files.filter((f) => f.startsWith("models/") || f.endsWith(".gguf") || f.endsWith(".part"))).toEqual([]);
        expect(await g.raw(["show", `${snapshot.hash}:README.md`])).toContain("edited, not committed");
        // The snapshot was made on the user's branch, before switching.
        expect((await g.revparse(["main"])).trim()).toBe(snapshot.hash);
        expect((await g.raw(["symbolic-ref", "--short", "HEAD"])).trim()).toBe("feature/provider-setup");
        await g.raw(["merge-base", "--is-ancestor", snapshot.hash, "feature/provider-setup"]);
        const report = readReport(h);
        expect(report.commits[0]).toMatchObject({hash: snapshot.hash, step: "repo"});
    });

    test("with no git identity and no approval, the repo step fails and says how to fix it; git:identity sets a repo-local one", async () => {
        const h = await home("zc-setup-identity-");
        const env = testEnv({identity: false});
        const denied = await runSetup(h, ["--non-interactive", "--no-serve", "--skip", "endpoints,lazy-load"], {env});
        expect(denied.code).toBe(1);
        expect(denied.stderr).toContain("git config --global user.name");
        expect(denied.stderr).toContain("GIT_AUTHOR_NAME");
        expect(denied.stderr).toContain("git:identity");
        const report = readReport(h);
        validateReport("provider_setup_report.schema.json", report);
        expect(report.status).toBe("aborted");
        expect(report.steps[0]).toMatchObject({id: "repo", status: "failed", failure_action: {action: "abort", source: "default"}});
        expect(report.approvals).toEqual([expect.objectContaining({id: "git:identity", answer: "deny", source: "default"})]);
        expect(report.steps.slice(1).every((s) => s.status === "pending")).toBe(true);

        const answers = writeAnswers("git:identity: approve\n");
        const ok = await runSetup(h, ["--non-interactive", "--no-serve", "--answers", answers, "--skip", "endpoints,lazy-load"], {env});
        expect(ok.code, ok.stderr).toBe(0);
        expect((await git(h).raw(["config", "--local", "user.name"])).trim()).toBe("ZombieCoder Provider Setup");
        expect(readReport(h).steps[0]!.findings.join("\n")).toContain("repo-local git identity");
    });
});
