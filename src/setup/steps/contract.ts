/**
 * The contract between the setup machine and its steps.
 *
 * A step has two halves, each run as an invoked actor: `prepare` only reads (it says what would change and which
 * approvals it needs; `--plan` prints it), and `apply` does the work with the answers the approval state collected.
 * Everything a step returns lands in the machine's context, which is persisted as JSON after every transition,
 * so both halves return plain data.
 */
import type {ProviderConfig} from "../../config/load.js";
import type {Logger} from "../../log/logger.js";
import type {CommitRecord, SetupGit} from "../git.js";
import type {SetupContext} from "../state.js";
import type {ConfigSource} from "./setup-config.js";

export const STEP_IDS = ["repo", "models", "endpoints", "config", "lazy-load", "service", "tests", "safety", "reports"] as const;
export type StepId = typeof STEP_IDS[number];

export function isStepId(v: string): v is StepId {
    return (STEP_IDS as readonly string[]).includes(v);
}

export type StepStatus = "pending" | "running" | "done" | "skipped" | "failed" | "denied";

export type Answer = "approve" | "deny";

/** Something destructive or system-wide the user must approve; `id` is the stable approval id. */
export interface ApprovalRequest {
    id: string;
    kind: "delete" | "service" | "config" | "git";
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
    source: "prompt" | "answers_file" | "yes_flag" | "default";
    at: string;
}

export interface Prepared<P = unknown> {
    /** Lines describing what the step would change (shown by --plan and before approval prompts). */
    summary: string[];
    approvals: ApprovalRequest[];
    data: P;
    /** Set when the step cannot or need not run; the step is recorded as skipped with this reason. */
    skip?: string;
}

export interface StepOutcome {
    status: "done" | "skipped" | "denied";
    /** One line for the progress output and the report. */
    summary: string;
    findings: string[];
    warnings: string[];
    /** Step-specific results for the reports (plain JSON). */
    data: Record<string, unknown>;
    /** Commits the step made itself (gate commits are recorded by the machine). */
    commits: CommitRecord[];
    reason?: string;
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

export interface StepContext {
    stepId: StepId;
    home: string;
    env: NodeJS.ProcessEnv;
    logger: Logger;
    /** Text for the person running setup (the CLI prints it; tests collect it). */
    out(text: string): void;
    /** The configuration as it is on disk now (steps change it, so it is read again each time). */
    config(): ProviderConfig;
    /** Where config() reads from (home, `--config`, environment, overrides). */
    configSource: ConfigSource;
    git: SetupGit;
    /** Records of every step so far (earlier steps' data, e.g. the scan or the service result). */
    steps: Readonly<Record<StepId, StepRecord>>;
    /** The whole run as the machine knows it (commits, approvals, errors): the reports step writes it out. */
    run: Readonly<SetupContext>;
    /** prepare() was called by --plan: nothing has run before it, and it must only read. */
    planOnly: boolean;
    signal: AbortSignal;
}

/** How the run was started; persisted with the state so --resume continues the same way. */
export interface RunOptionsRecord {
    interactive: boolean;
    yes: boolean;
    answers_file: string | null;
    serve: boolean;
    skip: StepId[];
}

export interface StepDefinition<P = unknown> {
    id: StepId;
    prepare(ctx: StepContext): Promise<Prepared<P>>;
    apply(ctx: StepContext, data: P, decisions: Readonly<Record<string, Answer>>): Promise<StepOutcome>;
}

/**
 * Erases a step's data type for the registry of steps. Sound because the machine hands `apply` exactly the data
 * that the same step's `prepare` returned (through the persisted context, as JSON).
 */
export function defineStep<P>(def: StepDefinition<P>): StepDefinition<unknown> {
    return def as unknown as StepDefinition<unknown>;
}

export function outcome(status: StepOutcome["status"], summary: string, extra: Partial<Omit<StepOutcome, "status" | "summary">> = {}): StepOutcome {
    return {status, summary, findings: [], warnings: [], data: {}, commits: [], ...extra};
}

/**
 * A thrown error whose message is meant for the user as is (no stack trace needed). `data` and `findings` still
 * reach the report, so a failed check keeps its measurements.
 */
export class StepError extends Error {
    constructor(message: string, readonly details: {data?: Record<string, unknown>; findings?: string[]} = {}) {
        super(message);
        this.name = "StepError";
    }
}

/** File names carry timestamps without `:` (Windows forbids it) or `.`: 2025-01-31T12-30-05Z. */
export function fileTimestamp(d: Date = new Date()): string {
    return d.toISOString().replace(/\.\d{3}Z$/, "Z").replace(/:/g, "-");
}
