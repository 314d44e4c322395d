/**
 * The setup run's context and its persistence in logs/setup_state.json.
 *
 * The machine's persisted snapshot (XState's own, context included) is written after every transition,
 * synchronously and atomically (temp file + rename), so a crash or a power cut leaves either the previous or the
 * next state, never half a file. `--resume` restores it: completed steps lie behind the restored state and are never
 * run again; the step that was interrupted starts over (steps are written to be safe to re-run).
 */
import fs from "node:fs";
import path from "node:path";
import type {FailureAction} from "./approvals.js";
import type {CommitRecord} from "./git.js";
import type {Answer, ApprovalRecord, ApprovalRequest, RunOptionsRecord, StepId, StepRecord} from "./steps/types.js";

export const STATE_FILE_NAME = "setup_state.json";

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
    failureActions: Array<{step: StepId; action: FailureAction; source: ApprovalRecord["source"]; at: string}>;
    status: "running" | "completed" | "aborted";
    launch: LaunchRecord | null;
}

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

export function stateFilePath(logsDir: string): string {
    return path.join(logsDir, STATE_FILE_NAME);
}

/** Synchronous on purpose: it runs inside the machine's transition listener, before the next step can start. */
export function writeStateFile(file: string, state: PersistedState): void {
    fs.mkdirSync(path.dirname(file), {recursive: true});
    const tmp = `${file}.${process.pid}.tmp`;
    const text = `${JSON.stringify(state, null, 1)}\n`;
    fs.writeFileSync(tmp, text);
    try {
        fs.renameSync(tmp, file);
    } catch {
        // Windows refuses the rename while another process (an editor, a virus scanner) holds the file open;
        // a direct write still records the state, only without the crash atomicity.
        fs.writeFileSync(file, text);
        fs.rmSync(tmp, {force: true});
    }
}

export function readStateFile(file: string): PersistedState | null {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch {
        return null;
    }
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch (err) {
        throw new Error(`${file}: not valid JSON (${(err as Error).message}); delete it to start setup afresh`);
    }
    const s = parsed as Partial<PersistedState>;
    if (s == null || s.version !== 1 || typeof s.run_id !== "string" || s.machine == null || typeof s.machine !== "object")
        throw new Error(`${file}: not a setup state file of this version; delete it to start setup afresh`);
    return s as PersistedState;
}
