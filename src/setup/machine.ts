/**
 * The setup orchestrator as an XState v5 machine, built from tasks/provider-setup.yaml.
 *
 * Each step is a compound state:
 *
 *   check ──▶ gate ──▶ prepare ──▶ approve ──▶ apply ──▶ (next step)
 *                 \         \           \          \
 *                  └─────────┴───────────┴──────────┴──▶ failed ──▶ retry (check) | skip (next step) | abort
 *
 * - gate: a git gate before every step that changes files: commits pending changes (only if there are any) with a
 *   message naming the step.
 * - prepare / apply: the step's own invoked actors (src/setup/steps/<step>.ts): prepare reads, apply changes.
 * - approve: the approval state; entered only when prepare asked for approvals (deleting files, installing a
 *   service, changing an existing config, setting a git identity).
 * - failed: retry, skip or abort, asked interactively, or from the answers file (default: abort when the step is
 *   required, skip when it is optional).
 *
 * After the last step, `serving` launches the provider (through the service when one was installed, otherwise in
 * the foreground) unless the run was started with --no-serve. This file only wires states; the work is in the steps.
 */
import fs from "node:fs";
import path from "node:path";
import {assign, fromPromise, setup, type AnyEventObject} from "xstate";
import YAML from "yaml";
import {projectRoot} from "../config/load.js";
import type {Logger} from "../log/logger.js";
import {startServer, type RunningServer} from "../server/serve.js";
import {startService} from "../service/index.js";
import {decideApprovals, decideFailure, type ApprovalPolicy, type FailureDecision} from "./approvals.js";
import type {CommitRecord, SetupGit} from "./git.js";
import type {ErrorRecord, LaunchRecord, PreparedRecord, SetupContext, TimelineEvent} from "./state.js";
import {STEP_IMPLEMENTATIONS} from "./steps/index.js";
import {DEFAULT_KEY_FILE} from "./steps/repo.js";
import {providerBaseUrl} from "./steps/reports.js";
import {loadSetupConfig, type ConfigSource} from "./steps/setup-config.js";
import type {ServiceData} from "./steps/service.js";
import {
    isStepId, STEP_IDS, StepError, type ApprovalRecord, type ApprovalRequest, type Answer, type RunOptionsRecord, type StepContext,
    type StepDefinition, type StepId, type StepOutcome, type StepRecord
} from "./steps/types.js";

export const TASKLIST_FILE = path.join(projectRoot, "tasks", "provider-setup.yaml");

/** One step of tasks/provider-setup.yaml. */
export interface TaskDef {
    id: StepId;
    title: string;
    description: string;
    mutates: boolean;
    gate: boolean;
    required: boolean;
    approvals: string[];
}

/** Reads and checks the tasklist: known ids, each once, every field typed. */
export function parseTasklist(text: string, file = TASKLIST_FILE): TaskDef[] {
    const doc = YAML.parse(text) as unknown;
    const steps = (doc as {steps?: unknown} | null)?.steps;
    if (!Array.isArray(steps) || steps.length === 0) throw new Error(`${file}: expected a "steps" list`);
    const seen = new Set<string>();
    return steps.map((raw: unknown, i: number) => {
        const s = (raw ?? {}) as Record<string, unknown>;
        const where = `${file}: steps[${i}]`;
        if (typeof s.id !== "string" || !isStepId(s.id)) throw new Error(`${where}: "id" must be one of ${STEP_IDS.join(", ")}`);
        if (seen.has(s.id)) throw new Error(`${where}: step "${s.id}" appears twice`);
        seen.add(s.id);
        for (const k of ["title", "description"]) if (typeof s[k] !== "string" || s[k] === "") throw new Error(`${where} (${s.id}): "${k}" must be a non-empty string`);
        for (const k of ["mutates", "required"]) if (typeof s[k] !== "boolean") throw new Error(`${where} (${s.id}): "${k}" must be true or false`);
        if (s.gate !== undefined && typeof s.gate !== "boolean") throw new Error(`${where} (${s.id}): "gate" must be true or false`);
        if (!Array.isArray(s.approvals) || !s.approvals.every((a) => typeof a === "string")) throw new Error(`${where} (${s.id}): "approvals" must be a list of approval ids`);
        return {
            id: s.id, title: s.title as string, description: (s.description as string).trim(), mutates: s.mutates as boolean,
            gate: (s.gate as boolean | undefined) ?? (s.mutates as boolean), required: s.required as boolean, approvals: s.approvals as string[]
        };
    });
}

export function loadTasklist(file = TASKLIST_FILE): TaskDef[] {
    return parseTasklist(fs.readFileSync(file, "utf8"), file);
}

/** Progress output; the CLI draws a spinner line per step, tests collect the calls. */
export interface ProgressSink {
    stepStarted(step: StepRecord): void;
    stepFinished(step: StepRecord): void;
    note(text: string): void;
    /** Stop drawing (a prompt is about to take the terminal). */
    pause(): void;
}

export interface MachineDeps {
    home: string;
    env: NodeJS.ProcessEnv;
    configSource: ConfigSource;
    logger: Logger;
    out(text: string): void;
    git: SetupGit;
    policy: ApprovalPolicy;
    /** Step implementations; tests may replace one (a step that hangs, a step that fails). */
    steps?: Partial<Record<StepId, StepDefinition<unknown>>>;
    progress?: ProgressSink;
    /** Launches the provider in the final state; defaults to `launchProvider`. */
    launch?: (ctx: SetupContext) => Promise<LaunchRecord>;
    /** The logger of the provider launched in the foreground (its own log file, as `npm start` has); default `logger`. */
    providerLogger?: () => Logger;
    signal?: AbortSignal;
}

export interface SetupInput {
    runId: string;
    startedAt: string;
    home: string;
    options: RunOptionsRecord;
    tasks: TaskDef[];
    /**
     * `--resume` of a run that ended (aborted) or whose snapshot cannot be restored: its context. The machine starts
     * from the first step again, and every step that run settled passes straight through (see `isSettled`).
     */
    resumeFrom?: SetupContext;
}

/**
 * A step an earlier run finished with: done, skipped or denied, or failed and then skipped by choice. It is never run
 * again by a resumed run. A step that failed and aborted the run, or was interrupted, is not settled: it starts over.
 */
export function isSettled(ctx: SetupContext, id: StepId): boolean {
    const status = ctx.steps[id]?.status;
    if (status === "done" || status === "skipped" || status === "denied") return true;
    if (status !== "failed") return false;
    return [...ctx.failureActions].reverse().find((f) => f.step === id)?.action === "skip";
}

/** The provider started in the foreground by the final state; the CLI keeps the process alive and closes it on Ctrl+C. */
export const foreground: {server: RunningServer | null} = {server: null};

function now(): string {
    return new Date().toISOString();
}

function event(step: TimelineEvent["step"], ev: TimelineEvent["event"], detail?: string): TimelineEvent {
    return detail ? {step, event: ev, at: now(), pid: process.pid, detail} : {step, event: ev, at: now(), pid: process.pid};
}

function errorMessage(err: unknown): string {
    if (err instanceof Error) return err.message;
    return typeof err === "string" ? err : JSON.stringify(err);
}

export function initialStepRecords(tasks: TaskDef[]): Record<StepId, StepRecord> {
    const out = {} as Record<StepId, StepRecord>;
    tasks.forEach((t, i) => {
        out[t.id] = {
            id: t.id, index: i + 1, title: t.title, required: t.required, mutates: t.mutates, status: "pending", attempts: 0,
            started_at: null, finished_at: null, duration_ms: null, summary: null, reason: null, findings: [], warnings: [], errors: [], data: null
        };
    });
    return out;
}

function finishRecord(r: StepRecord, patch: Partial<StepRecord>): StepRecord {
    const finished = now();
    return {...r, ...patch, finished_at: finished, duration_ms: r.started_at ? Math.max(0, Date.parse(finished) - Date.parse(r.started_at)) : null};
}

export function makeStepContext(deps: MachineDeps, run: SetupContext, stepId: StepId, planOnly = false): StepContext {
    return {
        stepId, home: deps.home, env: deps.env, logger: deps.logger, out: (t) => deps.out(t),
        config: () => loadSetupConfig(deps.configSource).config, configSource: deps.configSource, git: deps.git,
        steps: run.steps, run, planOnly, signal: deps.signal ?? new AbortController().signal
    };
}

/** The key file path relative to the home, so gate commits never stage it even if .gitignore was edited by hand. */
function keyFileRel(deps: MachineDeps): string {
    try {
        const cfg = loadSetupConfig(deps.configSource).config;
        const abs = path.resolve(deps.home, cfg.auth.api_key_file ?? DEFAULT_KEY_FILE);
        return path.relative(deps.home, abs).split(path.sep).join("/");
    } catch {
        return DEFAULT_KEY_FILE.split(path.sep).join("/");
    }
}

/** Final state: the provider through its service when step 6 installed one, else in this process. */
export async function launchProvider(deps: MachineDeps, ctx: SetupContext): Promise<LaunchRecord> {
    const config = loadSetupConfig(deps.configSource).config;
    const url = providerBaseUrl(config.server_host, config.server_port);
    const service = ctx.steps.service.data as ServiceData | null;
    // `installed` also holds when the step failed later on (the watchdog), and a second provider would find the port taken.
    if (service?.installed) {
        const r = await startService(config, {approve: true, logger: deps.logger});
        if (r.status !== "done") throw new Error(`could not start the installed service: ${r.message}`);
        const deadline = Date.now() + config.watchdog.startup_timeout_seconds * 1000;
        while (Date.now() < deadline) {
            try {
                const res = await fetch(`${url}/health`, {signal: AbortSignal.timeout(2000)});
                if (res.ok) return {mode: "service", url, detail: `service ${service.service_name} is running and healthy`};
            } catch {
                // not up yet
            }
            await new Promise((r2) => setTimeout(r2, 500));
        }
        throw new Error(`the service ${service.service_name} started but ${url}/health did not answer within ${config.watchdog.startup_timeout_seconds} s`);
    }
    foreground.server = await startServer(config, {logger: deps.providerLogger?.() ?? deps.logger});
    return {mode: "foreground", url: foreground.server.url, detail: "running in this terminal; Ctrl+C stops it"};
}

type Ev = AnyEventObject & {output?: unknown; error?: unknown};
type StepParams = {step: StepId};

/** Builds the machine for a tasklist; `deps` carries everything that is not plain, persistable data. */
export function createSetupMachine(tasks: TaskDef[], deps: MachineDeps) {
    const impl = (id: StepId): StepDefinition<unknown> => deps.steps?.[id] ?? STEP_IMPLEMENTATIONS[id];
    for (const t of tasks) if (!impl(t.id)) throw new Error(`tasklist step "${t.id}" has no implementation in src/setup/steps`);

    const prepareActors: Record<string, ReturnType<typeof fromPromise<PreparedRecord, {run: SetupContext; step: StepId}>>> = {};
    const applyActors: Record<string, ReturnType<typeof fromPromise<StepOutcome, {run: SetupContext; step: StepId; data: unknown; decisions: Record<string, Answer>}>>> = {};
    for (const t of tasks) {
        prepareActors[`${t.id}.prepare`] = fromPromise(async ({input}) => {
            const p = await impl(t.id).prepare(makeStepContext(deps, input.run, t.id));
            return {step: t.id, summary: p.summary, approvals: p.approvals, data: p.data, skip: p.skip ?? null};
        });
        applyActors[`${t.id}.apply`] = fromPromise(async ({input}) => impl(t.id).apply(makeStepContext(deps, input.run, t.id), input.data, input.decisions));
    }

    const updateStep = (context: SetupContext, id: StepId, fn: (r: StepRecord) => StepRecord): Record<StepId, StepRecord> =>
        ({...context.steps, [id]: fn(context.steps[id])});

    const machineSetup = setup({
        types: {} as {context: SetupContext; events: Ev; input: SetupInput},
        actors: {
            ...prepareActors,
            ...applyActors,
            gitGate: fromPromise<CommitRecord | null, {step: StepId; index: number; title: string}>(async ({input}) => {
                if (!deps.git.hasRepo() || !(await deps.git.isDirty())) return null;
                return deps.git.commitAll(`setup: before step ${input.index} (${input.title})`, {step: input.step, protectedExtra: [keyFileRel(deps)]});
            }),
            approve: fromPromise<ApprovalRecord[], {step: StepId; title: string; summary: string[]; requests: ApprovalRequest[]}>(async ({input}) => {
                if (deps.policy.interactive) {
                    deps.progress?.pause();
                    deps.policy.show(`\n${input.title}: what will change\n${input.summary.map((l) => `  ${l}`).join("\n")}`);
                }
                return decideApprovals(input.requests, input.step, {...deps.policy, beforePrompt: () => deps.progress?.pause()});
            }),
            decideFailure: fromPromise<FailureDecision, {step: StepId; title: string; required: boolean; error: string; attempts: number}>(async ({input}) => {
                deps.progress?.pause();
                return decideFailure(input.step, input.title, input.required, input.error, input.attempts, deps.policy);
            }),
            launch: fromPromise<LaunchRecord, {run: SetupContext}>(async ({input}) => (deps.launch ?? ((c) => launchProvider(deps, c)))(input.run))
        },
        guards: {
            settled: ({context}, p: StepParams) => isSettled(context, p.step),
            skippedByFlag: ({context}, p: StepParams) => context.options.skip.includes(p.step),
            prepareSkips: ({event}) => (event.output as PreparedRecord).skip != null,
            needsApproval: ({event}) => (event.output as PreparedRecord).approvals.length > 0,
            failureIs: ({event}, p: {action: FailureDecision["action"]}) => (event.output as FailureDecision).action === p.action,
            serve: ({context}) => context.options.serve
        },
        actions: {
            markStart: assign(({context}, p: StepParams) => ({
                steps: updateStep(context, p.step, (r) => ({...r, status: "running", attempts: r.attempts + 1, started_at: r.started_at ?? now(), finished_at: null, duration_ms: null})),
                current: null, decisions: {}
            })),
            notifyStart: ({context}, p: StepParams) => deps.progress?.stepStarted(context.steps[p.step]),
            notifyFinish: ({context}, p: StepParams) => deps.progress?.stepFinished(context.steps[p.step]),
            skipByFlag: assign(({context}, p: StepParams) => ({
                steps: updateStep(context, p.step, (r) => ({...finishRecord(r, {status: "skipped", reason: "skipped with --skip", summary: "skipped with --skip"}), started_at: r.started_at ?? now()})),
                timeline: [...context.timeline, event(p.step, "skipped", "--skip")]
            })),
            timeline: assign(({context}, p: {step: StepId; event: TimelineEvent["event"]}) => ({timeline: [...context.timeline, event(p.step, p.event)]})),
            storePrepared: assign(({event: ev}) => ({current: ev.output as PreparedRecord, decisions: {}})),
            skipPrepared: assign(({context, event: ev}, p: StepParams) => {
                const prep = ev.output as PreparedRecord;
                return {
                    steps: updateStep(context, p.step, (r) => finishRecord(r, {status: "skipped", reason: prep.skip, summary: `skipped: ${prep.skip ?? ""}`.split("\n")[0]!, findings: prep.summary})),
                    timeline: [...context.timeline, event(p.step, "skipped", prep.skip ?? undefined)],
                    current: null
                };
            }),
            recordApprovals: assign(({context, event: ev}) => {
                const records = ev.output as ApprovalRecord[];
                const decisions: Record<string, Answer> = {};
                for (const r of records) decisions[r.id] = r.answer;
                return {approvals: [...context.approvals, ...records], decisions};
            }),
            recordGate: assign(({context, event: ev}, p: StepParams) => {
                const c = ev.output as CommitRecord | null;
                return c ? {commits: [...context.commits, c], timeline: [...context.timeline, event(p.step, "gate", `${c.hash.slice(0, 10)} ${c.message}`)]} : {};
            }),
            recordOutcome: assign(({context, event: ev}, p: StepParams) => {
                const o = ev.output as StepOutcome;
                return {
                    steps: updateStep(context, p.step, (r) => finishRecord(r, {
                        status: o.status, summary: o.summary, reason: o.reason ?? null, findings: o.findings, warnings: o.warnings, data: o.data
                    })),
                    commits: [...context.commits, ...o.commits],
                    timeline: [...context.timeline, event(p.step, o.status === "done" ? "done" : o.status === "denied" ? "denied" : "skipped")],
                    current: null
                };
            }),
            recordError: assign(({context, event: ev}, p: {step: StepId; phase: ErrorRecord["phase"]}) => {
                const message = errorMessage(ev.error);
                const details = ev.error instanceof StepError ? ev.error.details : {};
                // A StepError is a finding for the user; anything else is a bug, and its stack goes to logs/setup.log.
                deps.logger.warn({step: p.step, phase: p.phase, err: message, stack: ev.error instanceof StepError ? undefined : (ev.error as Error | undefined)?.stack}, "setup step failed");
                return {
                    steps: updateStep(context, p.step, (r) => ({
                        ...r, errors: [...r.errors, message], data: details.data ?? r.data, findings: details.findings ?? r.findings
                    })),
                    errors: [...context.errors, {step: p.step, phase: p.phase, message, at: now()}],
                    timeline: [...context.timeline, event(p.step, "failed", p.phase)],
                    lastError: {step: p.step, message}
                };
            }),
            recordFailureAction: assign(({context, event: ev}, p: StepParams) => {
                const d = ev.output as FailureDecision;
                return {
                    failureActions: [...context.failureActions, {step: p.step, action: d.action, source: d.source, at: now()}],
                    timeline: [...context.timeline, event(p.step, d.action === "retry" ? "retry" : d.action === "abort" ? "abort" : "skipped", `after failure (${d.source})`)]
                };
            }),
            finishFailed: assign(({context}, p: StepParams) => ({
                steps: updateStep(context, p.step, (r) => finishRecord(r, {status: "failed", summary: r.errors.at(-1)?.split("\n")[0] ?? "failed", reason: r.errors.at(-1) ?? null})),
                current: null
            })),
            recordLaunch: assign(({context, event: ev}) => ({launch: ev.output as LaunchRecord, timeline: [...context.timeline, event("serve", "launched", (ev.output as LaunchRecord).url ?? undefined)]})),
            recordLaunchError: assign(({context, event: ev}) => ({
                launch: {mode: "none", url: null, detail: `could not launch the provider: ${errorMessage(ev.error)}`} satisfies LaunchRecord,
                errors: [...context.errors, {step: "serve", phase: "launch", message: errorMessage(ev.error), at: now()} satisfies ErrorRecord]
            })),
            complete: assign({status: "completed" as const, finishedAt: () => now()}),
            abort: assign({status: "aborted" as const, finishedAt: () => now()})
        }
    });

    const states: Record<string, unknown> = {};
    tasks.forEach((t, i) => {
        const next = i + 1 < tasks.length ? `#setup.${tasks[i + 1]!.id}` : "#setup.finishing";
        const step = {step: t.id};
        const runInput = ({context}: {context: SetupContext}) => ({run: context, step: t.id});
        const gateState = {
            invoke: {
                src: "gitGate",
                input: () => ({step: t.id, index: i + 1, title: t.title}),
                onDone: {target: "prepare", actions: {type: "recordGate", params: step}},
                onError: {target: "failed", actions: {type: "recordError", params: {step: t.id, phase: "gate"}}}
            }
        };
        states[t.id] = {
            initial: "check",
            states: {
                check: {
                    always: [
                        // Only a resumed run gets here with a settled step (a retry re-enters with the step running).
                        {guard: {type: "settled", params: step}, target: next},
                        {guard: {type: "skippedByFlag", params: step}, target: next, actions: [{type: "skipByFlag", params: step}, {type: "notifyFinish", params: step}]},
                        {target: t.gate ? "gate" : "prepare", actions: [{type: "markStart", params: step}, {type: "notifyStart", params: step}]}
                    ]
                },
                ...(t.gate ? {gate: gateState} : {}),
                prepare: {
                    entry: {type: "timeline", params: {step: t.id, event: "prepare"}},
                    invoke: {
                        src: `${t.id}.prepare`,
                        input: runInput,
                        onDone: [
                            {guard: "prepareSkips", target: next, actions: [{type: "skipPrepared", params: step}, {type: "notifyFinish", params: step}]},
                            {guard: "needsApproval", target: "approve", actions: "storePrepared"},
                            {target: "apply", actions: "storePrepared"}
                        ],
                        onError: {target: "failed", actions: {type: "recordError", params: {step: t.id, phase: "prepare"}}}
                    }
                },
                approve: {
                    entry: {type: "timeline", params: {step: t.id, event: "approve"}},
                    invoke: {
                        src: "approve",
                        input: ({context}: {context: SetupContext}) => ({step: t.id, title: t.title, summary: context.current?.summary ?? [], requests: context.current?.approvals ?? []}),
                        onDone: {target: "apply", actions: "recordApprovals"},
                        onError: {target: "failed", actions: {type: "recordError", params: {step: t.id, phase: "approve"}}}
                    }
                },
                apply: {
                    entry: {type: "timeline", params: {step: t.id, event: "apply"}},
                    invoke: {
                        src: `${t.id}.apply`,
                        input: ({context}: {context: SetupContext}) => ({...runInput({context}), data: context.current?.data ?? null, decisions: context.decisions}),
                        onDone: {target: next, actions: [{type: "recordOutcome", params: step}, {type: "notifyFinish", params: step}]},
                        onError: {target: "failed", actions: {type: "recordError", params: {step: t.id, phase: "apply"}}}
                    }
                },
                failed: {
                    invoke: {
                        src: "decideFailure",
                        input: ({context}: {context: SetupContext}) => ({
                            step: t.id, title: t.title, required: t.required, error: context.lastError?.message ?? "unknown error", attempts: context.steps[t.id].attempts
                        }),
                        onDone: [
                            {guard: {type: "failureIs", params: {action: "retry"}}, target: "check", actions: {type: "recordFailureAction", params: step}},
                            {guard: {type: "failureIs", params: {action: "skip"}}, target: next, actions: [{type: "recordFailureAction", params: step}, {type: "finishFailed", params: step}, {type: "notifyFinish", params: step}]},
                            {target: "#setup.aborted", actions: [{type: "recordFailureAction", params: step}, {type: "finishFailed", params: step}, {type: "notifyFinish", params: step}]}
                        ],
                        onError: {target: "#setup.aborted", actions: [{type: "recordError", params: {step: t.id, phase: "failure"}}, {type: "finishFailed", params: step}]}
                    }
                }
            }
        };
    });
    states.finishing = {always: [{guard: "serve", target: "serving"}, {target: "done"}]};
    states.serving = {
        invoke: {
            src: "launch",
            input: ({context}: {context: SetupContext}) => ({run: context}),
            onDone: {target: "done", actions: "recordLaunch"},
            onError: {target: "done", actions: "recordLaunchError"}
        }
    };
    states.done = {type: "final", entry: "complete"};
    states.aborted = {type: "final", entry: "abort"};

    const config = {
        id: "setup",
        initial: tasks[0]!.id,
        context: ({input}: {input: SetupInput}): SetupContext => initialContext(input),
        states
    };
    // The states are generated from the tasklist, which TypeScript cannot follow through the literal types XState
    // infers for a hand-written config; every action, guard and actor they name is typed in `machineSetup` above.
    return machineSetup.createMachine(config as unknown as Parameters<typeof machineSetup.createMachine>[0]);
}

export type SetupMachine = ReturnType<typeof createSetupMachine>;

/** What `npm run setup -- --plan` prints for one step (prepare only: nothing is changed). */
export interface PlannedStep {
    task: TaskDef;
    summary: string[];
    approvals: string[];
    skip: string | null;
    error: string | null;
}

export async function planSetup(tasks: TaskDef[], deps: MachineDeps, run: SetupContext): Promise<PlannedStep[]> {
    const out: PlannedStep[] = [];
    for (const t of tasks) {
        const impl = deps.steps?.[t.id] ?? STEP_IMPLEMENTATIONS[t.id];
        if (run.options.skip.includes(t.id)) {
            out.push({task: t, summary: [], approvals: [], skip: "skipped with --skip", error: null});
            continue;
        }
        try {
            const p = await impl.prepare(makeStepContext(deps, run, t.id, true));
            out.push({task: t, summary: p.summary, approvals: p.approvals.length > 0 ? p.approvals.map((a) => a.id) : [], skip: p.skip ?? null, error: null});
        } catch (err) {
            out.push({task: t, summary: [], approvals: [], skip: null, error: errorMessage(err)});
        }
    }
    return out;
}

export function initialContext(input: SetupInput): SetupContext {
    if (input.resumeFrom) {
        const prev = input.resumeFrom;
        const first = prev.order.find((id) => !isSettled(prev, id));
        const resumed: TimelineEvent[] = first ? [event(first, "resumed", "check")] : [];
        // The run goes on under its own id, with its history; only what described the end of the last attempt is reset.
        return {
            ...prev, options: input.options, status: "running", finishedAt: null, current: null, decisions: {}, lastError: null, launch: null,
            timeline: [...prev.timeline, ...resumed]
        };
    }
    return {
        runId: input.runId, startedAt: input.startedAt, finishedAt: null, home: input.home, options: input.options,
        order: input.tasks.map((t) => t.id), steps: initialStepRecords(input.tasks), current: null, decisions: {}, approvals: [],
        commits: [], errors: [], timeline: [], lastError: null, failureActions: [], status: "running", launch: null
    };
}
