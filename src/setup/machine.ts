/**
 * The setup orchestrator as an XState v5 machine, built from the tasklist (tasks/provider-setup.yaml).
 *
 * Each step is a compound state:
 *
 *   check ──▶ gate ──▶ prepare ──▶ approve ──▶ apply ──▶ (next step)
 *                 \         \           \          \
 *                  └─────────┴───────────┴──────────┴──▶ failed ──▶ retry (check) | skip (next step) | abort
 *
 * - gate: a git gate before every step that changes files: commits pending changes (only if there are any) with a
 *   message naming the step.
 * - prepare / apply: the step's own invoked actors (src/setup/steps/): prepare reads, apply changes.
 * - approve: the approval state; entered only when prepare asked for approvals (deleting files, installing a
 *   service, changing an existing config, setting a git identity).
 * - failed: retry, skip or abort, asked interactively, or from the answers file (default: abort when the step is
 *   required, skip when it is optional).
 *
 * After the last step, `serving` launches the provider (through the service when one was installed, otherwise in
 * the foreground) unless the run was started with --no-serve. This file only wires states to the actors, guards and
 * context changes that live elsewhere: the steps, approvals.ts, git-gate.ts, launch.ts and run-context.ts.
 */
import {assign, fromPromise, setup, type PromiseActorLogic} from "xstate";
import {decideApprovals, decideFailure, type ApprovalPolicy} from "./approvals.js";
import {commitBeforeStep, type GateInput} from "./git-gate.js";
import {launchProvider, type LaunchDeps} from "./launch.js";
import type {ProgressSink} from "./progress.js";
import type {
    Answer, ApprovalRecord, ApprovalRequest, CommitRecord, ErrorRecord, FailureDecision, LaunchRecord, PreparedRecord, SetupContext
} from "./records.js";
import {
    approvalsAnswered, ended, errorMessage, failureDecided, gateCommitted, initialContext, isSettled, launched, launchFailed, phaseEntered, prepared, skippedByFlag,
    skippedByPrepare, stepClosedAsFailed, stepErred, stepFinished, stepStarted, type SetupInput
} from "./run-context.js";
import {makeStepContext, type StepDeps} from "./step-context.js";
import {STEP_IDS, type StepId} from "./step-ids.js";
import {StepError, type StepDefinition, type StepOutcome} from "./steps/contract.js";
import {STEP_IMPLEMENTATIONS} from "./steps/index.js";
import type {TaskDef} from "./tasklist.js";

export interface MachineDeps extends StepDeps, LaunchDeps {
    policy: ApprovalPolicy;
    /** Step implementations; tests may replace one (a step that hangs, a step that fails). */
    steps?: Partial<Record<StepId, StepDefinition<unknown>>>;
    progress?: ProgressSink;
    /** Launches the provider in the final state; defaults to `launchProvider`. */
    launch?: (ctx: SetupContext) => Promise<LaunchRecord>;
}

interface PrepareInput {
    run: SetupContext;
    step: StepId;
}

interface ApplyInput extends PrepareInput {
    data: unknown;
    decisions: Record<string, Answer>;
}

interface ApproveInput {
    step: StepId;
    title: string;
    summary: string[];
    requests: ApprovalRequest[];
}

interface FailureInput {
    step: StepId;
    title: string;
    required: boolean;
    error: string;
    attempts: number;
}

type PrepareActors = Record<`${StepId}.prepare`, PromiseActorLogic<PreparedRecord, PrepareInput>>;
type ApplyActors = Record<`${StepId}.apply`, PromiseActorLogic<StepOutcome, ApplyInput>>;

interface StepParams {
    step: StepId;
}

interface ErrorParams extends StepParams {
    phase: ErrorRecord["phase"];
    error: unknown;
}

/** Builds the machine for a tasklist; `deps` carries everything that is not plain, persistable data. */
export function createSetupMachine(tasks: TaskDef[], deps: MachineDeps) {
    const impl = (id: StepId): StepDefinition<unknown> => deps.steps?.[id] ?? STEP_IMPLEMENTATIONS[id];
    for (const t of tasks) if (!impl(t.id)) throw new Error(`tasklist step "${t.id}" has no implementation in src/setup/steps`);

    // Every step's halves share one logic each (the input names the step); each step still invokes its own actor
    // names, `<id>.prepare` and `<id>.apply`, so a snapshot and the state file say which step was running.
    const prepare = fromPromise<PreparedRecord, PrepareInput>(async ({input}) => {
        const p = await impl(input.step).prepare(makeStepContext(deps, input.run, input.step));
        return {step: input.step, summary: p.summary, approvals: p.approvals, data: p.data, skip: p.skip ?? null};
    });
    const apply = fromPromise<StepOutcome, ApplyInput>(async ({input}) =>
        impl(input.step).apply(makeStepContext(deps, input.run, input.step), input.data, input.decisions));
    // Object.fromEntries cannot carry template-literal keys; both maps are built from STEP_IDS, so every key is there.
    const prepareActors = Object.fromEntries(STEP_IDS.map((id) => [`${id}.prepare`, prepare])) as PrepareActors;
    const applyActors = Object.fromEntries(STEP_IDS.map((id) => [`${id}.apply`, apply])) as ApplyActors;

    const machineSetup = setup({
        types: {} as {context: SetupContext; input: SetupInput},
        actors: {
            ...prepareActors,
            ...applyActors,
            gitGate: fromPromise<CommitRecord | null, GateInput>(async ({input}) => commitBeforeStep(deps, input)),
            approve: fromPromise<ApprovalRecord[], ApproveInput>(async ({input}) => {
                if (deps.policy.interactive) {
                    deps.progress?.pause();
                    deps.policy.show(`\n${input.title}: what will change\n${input.summary.map((l) => `  ${l}`).join("\n")}`);
                }
                return decideApprovals(input.requests, input.step, {...deps.policy, beforePrompt: () => deps.progress?.pause()});
            }),
            decideFailure: fromPromise<FailureDecision, FailureInput>(async ({input}) => {
                deps.progress?.pause();
                return decideFailure(input.step, input.title, input.required, input.error, input.attempts, deps.policy);
            }),
            launch: fromPromise<LaunchRecord, {run: SetupContext}>(async ({input}) => (deps.launch ?? ((c) => launchProvider(deps, c)))(input.run))
        },
        guards: {
            settled: ({context}, p: StepParams) => isSettled(context, p.step),
            skippedByFlag: ({context}, p: StepParams) => context.options.skip.includes(p.step),
            prepareSkips: (_, p: {prepared: PreparedRecord}) => p.prepared.skip != null,
            needsApproval: (_, p: {prepared: PreparedRecord}) => p.prepared.approvals.length > 0,
            failureIs: (_, p: {decision: FailureDecision; action: FailureDecision["action"]}) => p.decision.action === p.action,
            serve: ({context}) => context.options.serve
        },
        actions: {
            markStart: assign(({context}, p: StepParams) => stepStarted(context, p.step)),
            notifyStart: ({context}, p: StepParams) => deps.progress?.stepStarted(context.steps[p.step]),
            notifyFinish: ({context}, p: StepParams) => deps.progress?.stepFinished(context.steps[p.step]),
            skipByFlag: assign(({context}, p: StepParams) => skippedByFlag(context, p.step)),
            timeline: assign(({context}, p: {step: StepId; phase: "prepare" | "approve" | "apply"}) => phaseEntered(context, p.step, p.phase)),
            storePrepared: assign((_, p: {prepared: PreparedRecord}) => prepared(p.prepared)),
            skipPrepared: assign(({context}, p: {step: StepId; prepared: PreparedRecord}) => skippedByPrepare(context, p.step, p.prepared)),
            recordApprovals: assign(({context}, p: {records: ApprovalRecord[]}) => approvalsAnswered(context, p.records)),
            recordGate: assign(({context}, p: {step: StepId; commit: CommitRecord | null}) => gateCommitted(context, p.step, p.commit)),
            recordOutcome: assign(({context}, p: {step: StepId; outcome: StepOutcome}) => stepFinished(context, p.step, p.outcome)),
            // A StepError is a finding for the user; anything else is a bug, and its stack goes to logs/setup.log.
            logError: (_, p: ErrorParams) => deps.logger.warn({
                step: p.step, phase: p.phase, err: errorMessage(p.error),
                stack: p.error instanceof StepError || !(p.error instanceof Error) ? undefined : p.error.stack
            }, "setup step failed"),
            recordError: assign(({context}, p: ErrorParams) => stepErred(context, p.step, p.phase, p.error)),
            recordFailureAction: assign(({context}, p: {step: StepId; decision: FailureDecision}) => failureDecided(context, p.step, p.decision)),
            finishFailed: assign(({context}, p: StepParams) => stepClosedAsFailed(context, p.step)),
            recordLaunch: assign(({context}, p: {launch: LaunchRecord}) => launched(context, p.launch)),
            recordLaunchError: assign(({context}, p: {error: unknown}) => launchFailed(context, p.error)),
            complete: assign(() => ended("completed")),
            abort: assign(() => ended("aborted"))
        }
    });

    const stepState = (t: TaskDef, i: number) => {
        const next = i + 1 < tasks.length ? `#setup.${tasks[i + 1]!.id}` : "#setup.finishing";
        const step = {step: t.id};
        const prepareSrc = `${t.id}.prepare` as const;
        const applySrc = `${t.id}.apply` as const;
        const failed = (phase: ErrorRecord["phase"]) => ({
            target: "failed",
            actions: [
                {type: "logError", params: ({event}: {event: {error: unknown}}) => ({step: t.id, phase, error: event.error})},
                {type: "recordError", params: ({event}: {event: {error: unknown}}) => ({step: t.id, phase, error: event.error})}
            ]
        }) as const;
        const gate = machineSetup.createStateConfig({
            invoke: {
                src: "gitGate",
                input: {step: t.id, index: i + 1, title: t.title},
                onDone: {target: "prepare", actions: {type: "recordGate", params: ({event}) => ({step: t.id, commit: event.output})}},
                onError: failed("gate")
            }
        });
        return machineSetup.createStateConfig({
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
                ...(t.gate ? {gate} : {}),
                prepare: {
                    entry: {type: "timeline", params: {step: t.id, phase: "prepare"}},
                    invoke: {
                        src: prepareSrc,
                        input: ({context}) => ({run: context, step: t.id}),
                        onDone: [
                            {
                                guard: {type: "prepareSkips", params: ({event}) => ({prepared: event.output})}, target: next,
                                actions: [{type: "skipPrepared", params: ({event}) => ({step: t.id, prepared: event.output})}, {type: "notifyFinish", params: step}]
                            },
                            {
                                guard: {type: "needsApproval", params: ({event}) => ({prepared: event.output})}, target: "approve",
                                actions: {type: "storePrepared", params: ({event}) => ({prepared: event.output})}
                            },
                            {target: "apply", actions: {type: "storePrepared", params: ({event}) => ({prepared: event.output})}}
                        ],
                        onError: failed("prepare")
                    }
                },
                approve: {
                    entry: {type: "timeline", params: {step: t.id, phase: "approve"}},
                    invoke: {
                        src: "approve",
                        input: ({context}) => ({step: t.id, title: t.title, summary: context.current?.summary ?? [], requests: context.current?.approvals ?? []}),
                        onDone: {target: "apply", actions: {type: "recordApprovals", params: ({event}) => ({records: event.output})}},
                        onError: failed("approve")
                    }
                },
                apply: {
                    entry: {type: "timeline", params: {step: t.id, phase: "apply"}},
                    invoke: {
                        src: applySrc,
                        input: ({context}) => ({run: context, step: t.id, data: context.current?.data ?? null, decisions: context.decisions}),
                        onDone: {target: next, actions: [{type: "recordOutcome", params: ({event}) => ({step: t.id, outcome: event.output})}, {type: "notifyFinish", params: step}]},
                        onError: failed("apply")
                    }
                },
                failed: {
                    invoke: {
                        src: "decideFailure",
                        input: ({context}) => ({
                            step: t.id, title: t.title, required: t.required, error: context.lastError?.message ?? "unknown error", attempts: context.steps[t.id].attempts
                        }),
                        onDone: [
                            {
                                guard: {type: "failureIs", params: ({event}) => ({decision: event.output, action: "retry" as const})}, target: "check",
                                actions: {type: "recordFailureAction", params: ({event}) => ({step: t.id, decision: event.output})}
                            },
                            {
                                guard: {type: "failureIs", params: ({event}) => ({decision: event.output, action: "skip" as const})}, target: next,
                                actions: [{type: "recordFailureAction", params: ({event}) => ({step: t.id, decision: event.output})}, {type: "finishFailed", params: step}, {type: "notifyFinish", params: step}]
                            },
                            {
                                target: "#setup.aborted",
                                actions: [{type: "recordFailureAction", params: ({event}) => ({step: t.id, decision: event.output})}, {type: "finishFailed", params: step}, {type: "notifyFinish", params: step}]
                            }
                        ],
                        onError: {
                            target: "#setup.aborted",
                            actions: [...failed("failure").actions, {type: "finishFailed", params: step}]
                        }
                    }
                }
            }
        });
    };

    return machineSetup.createMachine({
        id: "setup",
        initial: tasks[0]!.id,
        context: ({input}) => initialContext(input),
        states: {
            ...Object.fromEntries(tasks.map((t, i) => [t.id, stepState(t, i)])),
            finishing: {always: [{guard: "serve", target: "serving"}, {target: "done"}]},
            serving: {
                invoke: {
                    src: "launch",
                    input: ({context}) => ({run: context}),
                    onDone: {target: "done", actions: {type: "recordLaunch", params: ({event}) => ({launch: event.output})}},
                    onError: {target: "done", actions: {type: "recordLaunchError", params: ({event}) => ({error: event.error})}}
                }
            },
            done: {type: "final", entry: "complete"},
            aborted: {type: "final", entry: "abort"}
        }
    });
}

export type SetupMachine = ReturnType<typeof createSetupMachine>;
