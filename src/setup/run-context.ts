/**
 * The setup machine's context and every change the machine makes to it, as plain functions: each takes the
 * context and what happened, and returns the fields that change. The machine only decides when each one runs.
 */
import type {
    ApprovalRecord, CommitRecord, ErrorRecord, FailureDecision, LaunchRecord, PreparedRecord, RunOptionsRecord, SetupContext, StepRecord, TimelineEvent
} from "./records.js";
import type {StepId} from "./step-ids.js";
import {StepError, type StepOutcome} from "./steps/contract.js";
import type {TaskDef} from "./tasklist.js";

/** The machine's input: a new run, or the context of a run to start over from. */
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

export type ContextChange = Partial<SetupContext>;

function now(): string {
    return new Date().toISOString();
}

export function timelineEvent(step: TimelineEvent["step"], ev: TimelineEvent["event"], detail?: string): TimelineEvent {
    return detail ? {step, event: ev, at: now(), pid: process.pid, detail} : {step, event: ev, at: now(), pid: process.pid};
}

export function errorMessage(err: unknown): string {
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

export function initialContext(input: SetupInput): SetupContext {
    if (input.resumeFrom) {
        const prev = input.resumeFrom;
        const first = prev.order.find((id) => !isSettled(prev, id));
        const resumed: TimelineEvent[] = first ? [timelineEvent(first, "resumed", "check")] : [];
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

function updateStep(ctx: SetupContext, id: StepId, fn: (r: StepRecord) => StepRecord): Record<StepId, StepRecord> {
    return {...ctx.steps, [id]: fn(ctx.steps[id])};
}

function finishRecord(r: StepRecord, patch: Partial<StepRecord>): StepRecord {
    const finished = now();
    return {...r, ...patch, finished_at: finished, duration_ms: r.started_at ? Math.max(0, Date.parse(finished) - Date.parse(r.started_at)) : null};
}

/** A step starts, or starts over after a retry: a new attempt, the first start time kept. */
export function stepStarted(ctx: SetupContext, step: StepId): ContextChange {
    return {
        steps: updateStep(ctx, step, (r) => ({...r, status: "running", attempts: r.attempts + 1, started_at: r.started_at ?? now(), finished_at: null, duration_ms: null})),
        current: null, decisions: {}
    };
}

export function skippedByFlag(ctx: SetupContext, step: StepId): ContextChange {
    return {
        steps: updateStep(ctx, step, (r) => ({...finishRecord(r, {status: "skipped", reason: "skipped with --skip", summary: "skipped with --skip"}), started_at: r.started_at ?? now()})),
        timeline: [...ctx.timeline, timelineEvent(step, "skipped", "--skip")]
    };
}

export function phaseEntered(ctx: SetupContext, step: StepId, phase: "prepare" | "approve" | "apply"): ContextChange {
    return {timeline: [...ctx.timeline, timelineEvent(step, phase)]};
}

export function gateCommitted(ctx: SetupContext, step: StepId, commit: CommitRecord | null): ContextChange {
    return commit ? {commits: [...ctx.commits, commit], timeline: [...ctx.timeline, timelineEvent(step, "gate", `${commit.hash.slice(0, 10)} ${commit.message}`)]} : {};
}

export function prepared(prep: PreparedRecord): ContextChange {
    return {current: prep, decisions: {}};
}

/** The prepare half found nothing to do (or no way to do it): the step ends as skipped, with that reason. */
export function skippedByPrepare(ctx: SetupContext, step: StepId, prep: PreparedRecord): ContextChange {
    return {
        steps: updateStep(ctx, step, (r) => finishRecord(r, {status: "skipped", reason: prep.skip, summary: `skipped: ${prep.skip ?? ""}`.split("\n")[0]!, findings: prep.summary})),
        timeline: [...ctx.timeline, timelineEvent(step, "skipped", prep.skip ?? undefined)],
        current: null
    };
}

export function approvalsAnswered(ctx: SetupContext, records: ApprovalRecord[]): ContextChange {
    const decisions: SetupContext["decisions"] = {};
    for (const r of records) decisions[r.id] = r.answer;
    return {approvals: [...ctx.approvals, ...records], decisions};
}

export function stepFinished(ctx: SetupContext, step: StepId, o: StepOutcome): ContextChange {
    return {
        steps: updateStep(ctx, step, (r) => finishRecord(r, {
            status: o.status, summary: o.summary, reason: o.reason ?? null, findings: o.findings, warnings: o.warnings, data: o.data
        })),
        commits: [...ctx.commits, ...o.commits],
        timeline: [...ctx.timeline, timelineEvent(step, o.status === "done" ? "done" : o.status === "denied" ? "denied" : "skipped")],
        current: null
    };
}

/** A phase of a step threw. A StepError's data and findings still reach the step's record. */
export function stepErred(ctx: SetupContext, step: StepId, phase: ErrorRecord["phase"], error: unknown): ContextChange {
    const message = errorMessage(error);
    const details = error instanceof StepError ? error.details : {};
    return {
        steps: updateStep(ctx, step, (r) => ({...r, errors: [...r.errors, message], data: details.data ?? r.data, findings: details.findings ?? r.findings})),
        errors: [...ctx.errors, {step, phase, message, at: now()}],
        timeline: [...ctx.timeline, timelineEvent(step, "failed", phase)],
        lastError: {step, message}
    };
}

export function failureDecided(ctx: SetupContext, step: StepId, d: FailureDecision): ContextChange {
    return {
        failureActions: [...ctx.failureActions, {step, action: d.action, source: d.source, at: now()}],
        timeline: [...ctx.timeline, timelineEvent(step, d.action === "retry" ? "retry" : d.action === "abort" ? "abort" : "skipped", `after failure (${d.source})`)]
    };
}

/** A failed step that is not retried: it ends as failed, summarised by its last error. */
export function stepClosedAsFailed(ctx: SetupContext, step: StepId): ContextChange {
    return {
        steps: updateStep(ctx, step, (r) => finishRecord(r, {status: "failed", summary: r.errors.at(-1)?.split("\n")[0] ?? "failed", reason: r.errors.at(-1) ?? null})),
        current: null
    };
}

export function launched(ctx: SetupContext, launch: LaunchRecord): ContextChange {
    return {launch, timeline: [...ctx.timeline, timelineEvent("serve", "launched", launch.url ?? undefined)]};
}

export function launchFailed(ctx: SetupContext, error: unknown): ContextChange {
    const message = errorMessage(error);
    return {
        launch: {mode: "none", url: null, detail: `could not launch the provider: ${message}`},
        errors: [...ctx.errors, {step: "serve", phase: "launch", message, at: now()}]
    };
}

export function ended(status: "completed" | "aborted"): ContextChange {
    return {status, finishedAt: now()};
}
