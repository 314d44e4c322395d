import {createHash} from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {fileURLToPath} from "node:url";
import {simpleGit} from "simple-git";
import {afterAll} from "vitest";
import {main, type SetupCliDeps} from "../../src/cli/setup.js";
import type {ProviderConfigFile} from "../../src/config/schema.js";
import {silentLogger} from "../../src/log/logger.js";
import {ALLOWED_GIT_ENV, gitEnvironment, SetupGit} from "../../src/setup/git.js";
import type {MachineDeps} from "../../src/setup/machine.js";
import {initialContext} from "../../src/setup/run-context.js";
import type {SetupReport} from "../../src/setup/run-report.js";
import {makeStepContext} from "../../src/setup/step-context.js";
import type {StepId} from "../../src/setup/step-ids.js";
import type {StepContext} from "../../src/setup/steps/contract.js";
import {loadTasklist} from "../../src/setup/tasklist.js";

export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures");

/** A fast tests step for runs that do not look at the tests step. */
export const PASSING_TEST_COMMAND = `node -e "process.exit(0)"`;

/** The tiny vitest fixture suite, with vitest's JSON report written where setup asks. */
export function fixtureSuiteCommand(): string {
    const suite = path.join(FIXTURES, "suite");
    return `node node_modules/vitest/vitest.mjs run --root "${suite}" --config "${path.join(suite, "vitest.config.mjs")}" --reporter=json --outputFile={results_json}`;
}

const IDENTITY = {
    GIT_AUTHOR_NAME: "Setup Test", GIT_AUTHOR_EMAIL: "setup-test@example.invalid",
    GIT_COMMITTER_NAME: "Setup Test", GIT_COMMITTER_EMAIL: "setup-test@example.invalid"
};

let isolatedHome: string | null = null;
afterAll(() => {
    if (isolatedHome) fs.rmSync(isolatedHome, {recursive: true, force: true});
    isolatedHome = null;
});

/**
 * The environment setup runs with in tests: git identity from GIT_* (CI has none configured) and a throwaway HOME,
 * so neither the developer's global git config (signing, hooks) nor their Ollama store leaks in.
 */
export function testEnv(opts: {identity?: boolean} = {}): NodeJS.ProcessEnv {
    isolatedHome ??= fs.mkdtempSync(path.join(os.tmpdir(), "zc-setup-userhome-"));
    const env: NodeJS.ProcessEnv = {...process.env, HOME: isolatedHome, USERPROFILE: isolatedHome, XDG_CONFIG_HOME: path.join(isolatedHome, ".config")};
    for (const k of Object.keys(env)) if (k.startsWith("GIT_") || k.startsWith("ZOMBIECODER_")) delete env[k];
    return opts.identity === false ? env : {...env, ...IDENTITY};
}

export function testOverrides(testCommand = PASSING_TEST_COMMAND): Partial<ProviderConfigFile> {
    return {
        threads: 1,
        log_level: "silent",
        import_sources: {ollama: false, ollama_dir: null, lmstudio: false, lmstudio_dir: null, huggingface: false, huggingface_dir: null},
        setup: {test_command: testCommand, branch: "feature/provider-setup"}
    };
}

export interface RunResult {
    code: number;
    stdout: string;
    stderr: string;
}

/** npm run setup in this process (tests call the CLI's main directly; only the resume test spawns a process). */
export async function runSetup(home: string, args: string[], deps: Partial<SetupCliDeps> & {testCommand?: string} = {}): Promise<RunResult> {
    let stdout = "";
    let stderr = "";
    const {testCommand, ...rest} = deps;
    const code = await main(["--home", home, ...args], {
        env: testEnv(),
        out: (t) => {
            stdout += t;
        },
        err: (t) => {
            stderr += t.endsWith("\n") ? t : `${t}\n`;
        },
        logger: silentLogger,
        configOverrides: testOverrides(testCommand),
        interactive: false,
        ...rest
    });
    return {code, stdout, stderr};
}

/** sha256 of every file under `dir` (relative, `/`-separated paths), optionally skipping top-level entries. */
export function hashTree(dir: string, skip: string[] = []): Map<string, string> {
    const out = new Map<string, string>();
    const walk = (d: string): void => {
        for (const e of fs.readdirSync(d, {withFileTypes: true})) {
            const full = path.join(d, e.name);
            const rel = path.relative(dir, full).split(path.sep).join("/");
            if (skip.some((s) => rel === s || rel.startsWith(`${s}/`))) continue;
            if (e.isDirectory()) walk(full);
            else if (e.isFile()) out.set(rel, createHash("sha256").update(fs.readFileSync(full)).digest("hex"));
        }
    };
    walk(dir);
    return out;
}

export function readReport(home: string): SetupReport {
    return JSON.parse(fs.readFileSync(path.join(home, "logs", "provider_setup_report.json"), "utf8")) as SetupReport;
}

export function git(home: string) {
    return simpleGit({baseDir: home, allowEnvironment: ALLOWED_GIT_ENV}).env(gitEnvironment(testEnv()));
}

/** Commits, newest first, with their files. */
export async function commitsOf(home: string): Promise<Array<{hash: string; message: string; body: string; files: string[]; parents: string[]}>> {
    const g = git(home);
    const raw = await g.raw(["log", "--all", "--format=%H%x1f%P%x1f%s%x1f%b%x1e"]);
    const out = [];
    for (const rec of raw.split("\x1e").map((r) => r.trim()).filter(Boolean)) {
        const [hash, parents, message, body] = rec.split("\x1f");
        const files = (await g.raw(["ls-tree", "-r", "--name-only", hash!])).split("\n").filter(Boolean);
        out.push({hash: hash!, message: message!, body: body ?? "", files, parents: (parents ?? "").split(" ").filter(Boolean)});
    }
    return out;
}

/** One step's context outside the machine, to call a step's prepare or apply directly. */
export function stepContext(home: string, step: StepId, opts: {testCommand?: string; env?: NodeJS.ProcessEnv; signal?: AbortSignal; overrides?: Partial<ProviderConfigFile>} = {}): StepContext {
    const env = opts.env ?? testEnv();
    const deps: MachineDeps = {
        home, env, configSource: {home, env, overrides: {...testOverrides(opts.testCommand), ...opts.overrides}}, logger: silentLogger, out: () => undefined,
        git: new SetupGit(home, env), signal: opts.signal,
        policy: {interactive: false, yes: false, answers: null, show: () => undefined, prompts: {
            confirm: async () => false, select: async () => {
                throw new Error("no prompts here");
            }
        }}
    };
    const tasks = loadTasklist();
    const run = initialContext({runId: "step-test", startedAt: new Date().toISOString(), home, tasks, options: {interactive: false, yes: false, answers_file: null, serve: false, skip: [], full_tests: false}});
    return makeStepContext(deps, run, step);
}
