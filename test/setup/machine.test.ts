import fs from "node:fs";
import path from "node:path";
import {afterAll, describe, expect, test} from "vitest";
import {createActor} from "xstate";
import {projectRoot} from "../../src/config/load.js";
import {silentLogger} from "../../src/log/logger.js";
import type {ApprovalPolicy, PromptFns} from "../../src/setup/approvals.js";
import {simpleGit} from "simple-git";
import {ALLOWED_GIT_ENV, gitEnvironment, SetupGit} from "../../src/setup/git.js";
import {createSetupMachine, type MachineDeps} from "../../src/setup/machine.js";
import type {SetupContext} from "../../src/setup/records.js";
import type {SetupInput} from "../../src/setup/run-context.js";
import {STEP_IDS, type StepId} from "../../src/setup/step-ids.js";
import {outcome, StepError, type StepDefinition} from "../../src/setup/steps/contract.js";
import {STEP_IMPLEMENTATIONS} from "../../src/setup/steps/index.js";
import {loadTasklist, parseTasklist, TASKLIST_FILE} from "../../src/setup/tasklist.js";
import {makeHome, removeHome} from "../helpers/home.js";
import {testEnv} from "./helpers.js";

const homes: string[] = [];
afterAll(async () => {
    for (const h of homes) await removeHome(h);
});

describe("the machine and tasks/provider-setup.yaml agree", () => {
    const tasks = loadTasklist();

    test("the tasklist names the ten steps in order, each with an implementation", () => {
        expect(tasks.map((t) => t.id)).toEqual([...STEP_IDS]);
        for (const t of tasks) expect(STEP_IMPLEMENTATIONS[t.id]?.id).toBe(t.id);
        expect(tasks.filter((t) => t.required).map((t) => t.id)).toEqual(["repo", "models", "endpoints", "config", "reports"]);
    });

    test("every step is a state with its own actors, a gate exactly where the tasklist says, and the next step after it", () => {
        const deps = fakeDeps("/nonexistent-home", {});
        const machine = createSetupMachine(tasks, deps);
        const root = machine.root.states;
        expect(Object.keys(root)).toEqual([...tasks.map((t) => t.id), "finishing", "serving", "done", "aborted"]);
        tasks.forEach((t, i) => {
            const node = root[t.id]!;
            const sub = Object.keys(node.states);
            expect(sub).toEqual(t.gate ? ["check", "gate", "prepare", "approve", "apply", "failed"] : ["check", "prepare", "approve", "apply", "failed"]);
            expect(node.states.prepare!.invoke.map((d) => d.src)).toEqual([`${t.id}.prepare`]);
            expect(node.states.apply!.invoke.map((d) => d.src)).toEqual([`${t.id}.apply`]);
            expect(node.states.approve!.invoke.map((d) => d.src)).toEqual(["approve"]);
            if (t.gate) expect(node.states.gate!.invoke.map((d) => d.src)).toEqual(["gitGate"]);
            const next = i + 1 < tasks.length ? `setup.${tasks[i + 1]!.id}` : "setup.finishing";
            const done = [...node.states.apply!.transitions.entries()].find(([type]) => type.startsWith("xstate.done.actor"))![1];
            expect(done.flatMap((d) => (d.target ?? []).map((n) => n.id))).toEqual([next]);
        });
        expect(root.done!.type).toBe("final");
        expect(root.aborted!.type).toBe("final");
    });

    test("gates guard exactly the steps that change files (the repo step makes its own snapshot, after the .gitignore)", () => {
        for (const t of tasks) expect(t.gate).toBe(t.mutates && t.id !== "repo");
    });

    test("the approval ids in the tasklist are the documented ones, on the steps that ask them", () => {
        const byStep = Object.fromEntries(tasks.filter((t) => t.approvals.length > 0).map((t) => [t.id, t.approvals]));
        expect(byStep).toEqual({"repo": ["git:identity"], "config": ["config:overwrite"], "service": ["service:install"], "safety": ["delete:<path>", "delete:all"], "editors": ["editors:<name>"]});
        const doc = fs.readFileSync(path.join(projectRoot, "documentation", "setup.md"), "utf8");
        for (const id of Object.values(byStep).flat()) expect(doc).toContain(`\`${id}\``);
        for (const t of tasks) expect(doc).toContain(t.id);
    });

    test("a malformed tasklist is refused with the file and the step named", () => {
        const text = fs.readFileSync(TASKLIST_FILE, "utf8");
        expect(() => parseTasklist(text.replace("id: tests", "id: testz"), "x.yaml")).toThrow(/x\.yaml: steps\[6\]: "id" must be one of/);
        expect(() => parseTasklist(text.replace("id: tests", "id: models"), "x.yaml")).toThrow(/appears twice/);
        expect(() => parseTasklist("steps: []", "x.yaml")).toThrow(/"steps" list/);
    });
});

function fakeDeps(home: string, steps: Partial<Record<StepId, StepDefinition<unknown>>>, policy: Partial<ApprovalPolicy> = {}): MachineDeps {
    const shown: string[] = [];
    const prompts: PromptFns = {
        confirm: async () => {
            throw new Error("unexpected prompt");
        },
        select: async () => {
            throw new Error("unexpected prompt");
        }
    };
    return {
        home, env: testEnv(), configSource: {home, env: testEnv()}, logger: silentLogger, out: () => undefined,
        git: new SetupGit(home, testEnv()),
        policy: {interactive: false, yes: false, answers: null, prompts, show: (t) => shown.push(t), ...policy},
        steps
    };
}

/** Every step replaced by a no-op, so the wiring is tested without git, models or servers. */
function stubSteps(overrides: Partial<Record<StepId, StepDefinition<unknown>>> = {}): Partial<Record<StepId, StepDefinition<unknown>>> {
    const out: Partial<Record<StepId, StepDefinition<unknown>>> = {};
    for (const id of STEP_IDS) {
        out[id] = overrides[id] ?? {
            id,
            prepare: async () => ({summary: [`${id} would run`], approvals: [], data: {n: 1}}),
            apply: async (_ctx, data) => outcome("done", `${id} ran with ${JSON.stringify(data)}`)
        };
    }
    return out;
}

async function run(deps: MachineDeps, skip: StepId[] = []): Promise<SetupContext> {
    const tasks = loadTasklist();
    const machine = createSetupMachine(tasks, deps);
    const input: SetupInput = {runId: "t", startedAt: new Date().toISOString(), home: deps.home, tasks, options: {interactive: deps.policy.interactive, yes: false, answers_file: null, serve: false, skip, full_tests: false}};
    const actor = createActor(machine, {input});
    const done = new Promise<SetupContext>((resolve) => actor.subscribe((s) => {
        if (s.status === "done") resolve(s.context);
    }));
    actor.start();
    return done;
}

function failing(id: StepId, times: number): StepDefinition<unknown> & {calls: number} {
    const def = {
        id, calls: 0,
        prepare: async () => ({summary: [], approvals: [], data: null}),
        apply: async () => {
            def.calls++;
            if (def.calls <= times) throw new StepError(`${id} broke (call ${def.calls})`, {findings: ["measured something"]});
            return outcome("done", `${id} worked on call ${def.calls}`);
        }
    };
    return def;
}

describe("failure states", () => {
    test("non-interactive: an optional step that fails is skipped, a required one aborts", async () => {
        const h = await makeHome("zc-setup-fail-");
        homes.push(h);
        const tests = failing("tests", 99);
        const ctx = await run(fakeDeps(h, stubSteps({tests})));
        expect(ctx.status).toBe("completed");
        expect(ctx.steps.tests).toMatchObject({status: "failed", attempts: 1, findings: ["measured something"]});
        expect(ctx.failureActions).toEqual([expect.objectContaining({step: "tests", action: "skip", source: "default"})]);
        expect(ctx.steps.safety.status).toBe("done");

        const models = failing("models", 99);
        const aborted = await run(fakeDeps(h, stubSteps({models})));
        expect(aborted.status).toBe("aborted");
        expect(aborted.steps.models.status).toBe("failed");
        expect(aborted.steps.endpoints.status).toBe("pending");
        expect(aborted.errors[0]).toMatchObject({step: "models", phase: "apply", message: "models broke (call 1)"});
    });

    test("the answers file can ask for retries (bounded) or change the default", async () => {
        const h = await makeHome("zc-setup-retry-");
        homes.push(h);
        const tests = failing("tests", 99);
        const ctx = await run(fakeDeps(h, stubSteps({tests}), {answers: {path: "a.yaml", approvals: {}, failures: {tests: "retry"}}}));
        // the first attempt plus two unattended retries, then the default for an optional step
        expect(tests.calls).toBe(3);
        expect(ctx.steps.tests.attempts).toBe(3);
        expect(ctx.failureActions.map((f) => `${f.action}/${f.source}`)).toEqual(["retry/answers_file", "retry/answers_file", "skip/default"]);

        const flaky = failing("models", 1);
        const ok = await run(fakeDeps(h, stubSteps({models: flaky}), {answers: {path: "a.yaml", approvals: {}, failures: {models: "retry"}}}));
        expect(ok.status).toBe("completed");
        expect(ok.steps.models).toMatchObject({status: "done", attempts: 2, errors: ["models broke (call 1)"]});

        const abortOptional = await run(fakeDeps(h, stubSteps({tests: failing("tests", 99)}), {answers: {path: "a.yaml", approvals: {}, failures: {tests: "abort"}}}));
        expect(abortOptional.status).toBe("aborted");
    });

    test("interactive: the person chooses retry, and the step runs again", async () => {
        const h = await makeHome("zc-setup-ask-");
        homes.push(h);
        const tests = failing("tests", 1);
        const asked: string[] = [];
        const prompts: PromptFns = {
            confirm: async () => false,
            select: async (c) => {
                asked.push(c.message);
                return "retry";
            }
        };
        const ctx = await run(fakeDeps(h, stubSteps({tests}), {interactive: true, prompts}));
        expect(asked).toEqual([expect.stringContaining("Retry, skip or abort?")]);
        expect(ctx.steps.tests).toMatchObject({status: "done", attempts: 2});
        expect(ctx.failureActions).toEqual([expect.objectContaining({step: "tests", action: "retry", source: "prompt"})]);
    });

    test("--skip skips a step without running it; a prepare that finds nothing to do skips too", async () => {
        const h = await makeHome("zc-setup-skip-");
        homes.push(h);
        const endpoints = failing("endpoints", 99);
        const steps = stubSteps({
            endpoints,
            service: {id: "service", prepare: async () => ({summary: [], approvals: [], data: null, skip: "no service manager on this OS"}), apply: async () => outcome("done", "never")}
        });
        const ctx = await run(fakeDeps(h, steps), ["endpoints"]);
        expect(endpoints.calls).toBe(0);
        expect(ctx.steps.endpoints).toMatchObject({status: "skipped", reason: "skipped with --skip"});
        expect(ctx.steps.service).toMatchObject({status: "skipped", reason: "no service manager on this OS"});
        expect(ctx.status).toBe("completed");
    });

    test("approval states: the step's apply gets the answers, and unanswered approvals are denied", async () => {
        const h = await makeHome("zc-setup-approve-");
        homes.push(h);
        let got: Record<string, string> = {};
        const steps = stubSteps({
            safety: {
                id: "safety",
                prepare: async () => ({
                    summary: ["two candidates"], data: null,
                    approvals: [
                        {id: "delete:models/a.gguf", kind: "delete", title: "Delete a", details: "a", path: "models/a.gguf"},
                        {id: "delete:models/b.gguf", kind: "delete", title: "Delete b", details: "b", path: "models/b.gguf"}
                    ]
                }),
                apply: async (_c, _d, decisions) => {
                    got = {...decisions};
                    return outcome("done", "ok");
                }
            }
        });
        const ctx = await run(fakeDeps(h, steps, {yes: true, answers: {path: "a.yaml", approvals: {"delete:models/b.gguf": "approve"}, failures: {}}}));
        // --yes never approves a deletion: only the explicit answer counts.
        expect(got).toEqual({"delete:models/a.gguf": "deny", "delete:models/b.gguf": "approve"});
        expect(ctx.approvals.map((a) => [a.id, a.answer, a.source])).toEqual([
            ["delete:models/a.gguf", "deny", "default"], ["delete:models/b.gguf", "approve", "answers_file"]
        ]);
    });
});

describe("git gates", () => {
    test("a gate commits only when something is pending, with a message naming the step, and never a protected file", async () => {
        const h = await makeHome("zc-setup-gate-");
        homes.push(h);
        const g = simpleGit({baseDir: h, allowEnvironment: ALLOWED_GIT_ENV}).env(gitEnvironment(testEnv()));
        await g.init();
        fs.writeFileSync(path.join(h, ".gitignore"), "logs/\n");
        await g.add([".gitignore"]);
        await g.commit("user: start");
        const writes = (file: string, text: string): StepDefinition<unknown> => ({
            id: "models",
            prepare: async () => ({summary: [], approvals: [], data: null}),
            apply: async () => {
                fs.writeFileSync(path.join(h, file), text);
                // A stray weight: pending too, but never staged by any commit setup makes.
                fs.writeFileSync(path.join(h, "stray.gguf"), "GGUF weights");
                return outcome("done", `wrote ${file}`);
            }
        });
        const ctx = await run(fakeDeps(h, stubSteps({models: writes("models-output.txt", "from step 2\n")})));
        expect(ctx.status).toBe("completed");
        // Gates ran before models, config, service, safety and reports; only the one after the models step's write had work.
        expect(ctx.commits.map((c) => [c.step, c.message])).toEqual([["config", "setup: before step 4 (Model manager config)"]]);
        const log = await g.log();
        expect(log.all.map((c) => c.message)).toEqual(["setup: before step 4 (Model manager config)", "user: start"]);
        const files = (await g.raw(["show", "--name-only", "--format=", "HEAD"])).split("\n").filter(Boolean);
        expect(files).toEqual(["models-output.txt"]);
        expect(ctx.timeline.filter((e) => e.event === "gate").map((e) => e.step)).toEqual(["config"]);
    });
});

describe("resuming an aborted run", () => {
    test("settled steps pass straight through; the step that aborted, and those after it, run", async () => {
        const h = await makeHome("zc-setup-resume-machine-");
        homes.push(h);
        const calls: string[] = [];
        const counting = (overrides: Partial<Record<StepId, StepDefinition<unknown>>>) => {
            const steps = stubSteps(overrides);
            for (const id of STEP_IDS) {
                const inner = steps[id]!;
                steps[id] = {...inner, apply: async (...a) => {
                    calls.push(id);
                    return inner.apply(...a);
                }};
            }
            return steps;
        };
        const first = await run(fakeDeps(h, counting({config: failing("config", 99), tests: failing("tests", 99)})));
        expect(first.status).toBe("aborted");
        expect(calls).toEqual(["repo", "models", "endpoints", "config"]);
        calls.length = 0;

        const tasks = loadTasklist();
        const deps = fakeDeps(h, counting({}));
        const machine = createSetupMachine(tasks, deps);
        const input: SetupInput = {runId: "t", startedAt: new Date().toISOString(), home: h, tasks, resumeFrom: first, options: {...first.options}};
        const actor = createActor(machine, {input});
        const done = new Promise<SetupContext>((resolve) => actor.subscribe((s) => {
            if (s.status === "done") resolve(s.context);
        }));
        actor.start();
        const second = await done;
        expect(second.status).toBe("completed");
        expect(calls).toEqual(["config", "lazy-load", "service", "tests", "safety", "reports", "editors"]);
        expect(second.steps.config).toMatchObject({status: "done", attempts: 2});
        expect(second.timeline.filter((e) => e.event === "resumed")).toEqual([expect.objectContaining({step: "config", detail: "check"})]);
    });
});
