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
import type {SetupGit} from "../git.js";
import type {Answer, ApprovalRequest, CommitRecord, SetupContext, StepRecord} from "../records.js";
import type {StepId} from "../step-ids.js";
import type {CheckServerPool} from "./provider-check.js";
import type {ConfigSource} from "./setup-config.js";

export interface Prepared<P = unknown> {
    /** Lines describing what the step would change (shown by --plan and before approval prompts). */
    summary: string[];
    approvals: ApprovalRequest[];
    data: P;
    /** Set when the step cannot or need not run; the step is recorded as skipped with this reason. */
    skip?: string;
    /** How long the step will take here, in seconds, when it knows better than the tasklist (it depends on the models). */
    expectedSeconds?: number;
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
    /** The run's shared check servers; without one, each check starts and closes its own. */
    checkServers?: CheckServerPool;
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
