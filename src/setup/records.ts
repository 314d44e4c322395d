/**
 * The plain data a setup run records: step records, approvals, failures, commits, the run's context and the state
 * file around it. Types only: the machine persists all of it as JSON after every transition, and the reports are
 * built from it.
 */
import type {StepId} from "./step-ids.js";

export type StepStatus = "pending" | "running" | "done" | "skipped" | "failed" | "denied";

export type Answer = "approve" | "deny";

/** Who answered a question: a person, the answers file, `--yes`, or nobody (the safe default). */
export type AnswerSource = "prompt" | "answers_file" | "yes_flag" | "default";

/** Something destructive or system-wide the user must approve; `id` is the stable approval id. */
export interface ApprovalRequest {
    id: string;
    /** `delete` and `editor` are never approved by `--yes`: one removes a file, the other changes files outside the home. */
    kind: "delete" | "service" | "config" | "git" | "editor";
    /** One line: what approving does. */
    title: string;
    /** What will change, shown before the question (a diff, a service plan, a file with its reason and size). */
    details: string;
    /** Deletion candidates: answered per file, or all at once with `delete:all`. */
    path?: string;
    size_bytes?: number;
    reason?: string;
}

export interface ApprovalRecord {
    id: string;
    step: StepId;
    what: string;
    answer: Answer;
    source: AnswerSource;
    at: string;
}

export type FailureAction = "retry" | "skip" | "abort";

export interface FailureDecision {
    action: FailureAction;
    source: AnswerSource;
}

export interface CommitRecord {
    hash: string;
    message: string;
    /** The step whose gate (or own work) made the commit. */
    step: string;
    at: string;
    files: number;
}

/** How the run was started; persisted with the state so --resume continues the same way. */
export interface RunOptionsRecord {
    interactive: boolean;
    yes: boolean;
    answers_file: string | null;
    serve: boolean;
    skip: StepId[];
    /** `--full-tests`: the tests step runs the development suite instead of the provider checks. */
    full_tests: boolean;
}

/** One step's record in the machine's context and in the report. */
export interface StepRecord {
    id: StepId;
    index: number;
    title: string;
    required: boolean;
    mutates: boolean;
    status: StepStatus;
    attempts: number;
    started_at: string | null;
    finished_at: string | null;
    duration_ms: number | null;
    summary: string | null;
    reason: string | null;
    findings: string[];
    warnings: string[];
    errors: string[];
    data: Record<string, unknown> | null;
}

export interface TimelineEvent {
    step: StepId | "serve";
    /** `resumed`: a --resume run restored the machine in this step (its `detail` is the phase that starts over). */
    event: "gate" | "prepare" | "approve" | "apply" | "done" | "skipped" | "denied" | "failed" | "retry" | "abort" | "launched" | "resumed";
    at: string;
    /** The process that recorded it: a resumed run shows a second pid. */
    pid: number;
    detail?: string;
}

export interface ErrorRecord {
    step: StepId | "serve";
    phase: "gate" | "prepare" | "approve" | "apply" | "failure" | "launch";
    message: string;
    at: string;
}

/** What a step's prepare half found, kept while the step's approval and apply halves run. */
export interface PreparedRecord {
    step: StepId;
    summary: string[];
    approvals: ApprovalRequest[];
    data: unknown;
    skip: string | null;
}

export interface LaunchRecord {
    mode: "service" | "foreground" | "none";
    url: string | null;
    detail: string;
}

export interface FailureActionRecord {
    step: StepId;
    action: FailureAction;
    source: AnswerSource;
    at: string;
}

/** The machine's context: the whole run. */
export interface SetupContext {
    runId: string;
    startedAt: string;
    finishedAt: string | null;
    home: string;
    options: RunOptionsRecord;
    order: StepId[];
    steps: Record<StepId, StepRecord>;
    /** The step in progress: what its prepare half found. */
    current: PreparedRecord | null;
    /** Answers for the step in progress, by approval id. */
    decisions: Record<string, Answer>;
    approvals: ApprovalRecord[];
    commits: CommitRecord[];
    errors: ErrorRecord[];
    timeline: TimelineEvent[];
    /** The last failure, for the failure state's question. */
    lastError: {step: StepId; message: string} | null;
    /** How each failed step was resolved. */
    failureActions: FailureActionRecord[];
    status: "running" | "completed" | "aborted";
    launch: LaunchRecord | null;
}

/** logs/setup_state.json. */
export interface PersistedState {
    version: 1;
    run_id: string;
    home: string;
    updated_at: string;
    status: SetupContext["status"];
    /** The state the machine is in, for people reading the file (`{"safety":"approve"}`). */
    state: unknown;
    options: RunOptionsRecord;
    /** XState's persisted snapshot; restored by --resume. */
    machine: unknown;
}
