/**
 * Data types shared by the per-OS service plan builders, the applier and the CLI.
 *
 * A plan is plain data (no closures) so that `--dry-run` can print exactly what `apply` would do,
 * and the setup orchestrator can show it for approval before anything happens.
 */

export type ServiceOS = "windows" | "linux" | "macos";
export type ServiceManager = "nssm" | "systemd" | "launchd";
/** The provider itself, or the health-checking watchdog installed as its own service. */
export type ServiceComponent = "provider" | "watchdog";
export type ServiceAction = "install" | "uninstall" | "start" | "stop" | "restart" | "status";
export type ServiceScope = "user" | "system";

/**
 * A condition on a fact that an earlier step of the same apply found out (was there an earlier install?).
 * A step whose fact was never recorded (the step that records it did not run) is left out either way.
 */
export interface StepCondition {
    fact: string;
    /** The step runs only when the fact has this value. */
    is: boolean;
}

interface StepCommon {
    description: string;
    when?: StepCondition;
}

export interface WriteStep extends StepCommon {
    kind: "write";
    path: string;
    content: string;
    /** POSIX permission bits; ignored on Windows. */
    mode?: number;
}

export interface RemoveStep extends StepCommon {
    kind: "remove";
    path: string;
}

export interface MkdirStep extends StepCommon {
    kind: "mkdir";
    path: string;
}

/**
 * Keeps a copy of a file before it is overwritten, so that a failed re-install can put the working one back.
 * Records `sets` = whether the file existed; when it did not, a stale copy from an earlier attempt is removed,
 * so that a later `restore` can never bring back a file that was not there.
 */
export interface BackupStep extends StepCommon {
    kind: "backup";
    path: string;
    backupPath: string;
    sets: string;
}

/**
 * Undoes a `write` that followed a `backup` (rollback only): the copy goes back in place, or the file is removed
 * when there was none before. Does nothing when the backup step never ran (`fact` unrecorded).
 */
export interface RestoreStep extends StepCommon {
    kind: "restore";
    path: string;
    backupPath: string;
    /** The fact the matching backup step recorded. */
    fact: string;
}

export interface RunStep extends StepCommon {
    kind: "run";
    /** The executable: an absolute path, a name looked up on PATH, or a placeholder from `plan.placeholders`. */
    file: string;
    args: string[];
    /**
     * What a non-zero exit means: "abort" stops and rolls back; "ignore" carries on silently
     * (stopping a service that is not running); "warn" carries on and reports it.
     */
    onError: "abort" | "ignore" | "warn";
    /** A question rather than an action: records whether the command exits 0 as this fact, and never fails. */
    sets?: string;
}

/**
 * Runs a read-only command every `intervalMs` until its output matches `until`, at most `timeoutMs`
 * (`sc stop` returns while the service is still STOP_PENDING, and `sc start` refuses it until it is STOPPED).
 * A non-zero exit ends the wait as a failure.
 */
export interface WaitStep extends StepCommon {
    kind: "wait";
    file: string;
    args: string[];
    /** A regular expression (source text) matched against the command's stdout. */
    until: string;
    /** The same condition in words, for the plan. */
    untilText: string;
    timeoutMs: number;
    intervalMs: number;
    onError: "abort" | "ignore" | "warn";
}

export type PlanStep = WriteStep | RemoveStep | MkdirStep | BackupStep | RestoreStep | RunStep | WaitStep;

/**
 * A program the plan needs but which only exists after a prerequisite runs (NSSM installed by winget):
 * `apply` looks for it at `candidates` once the prerequisites are done, and stops cleanly if it is still missing.
 */
export interface ProgramPlaceholder {
    placeholder: string;
    candidates: string[];
    missingSteps: string[];
}

export interface ServicePlan {
    os: ServiceOS;
    manager: ServiceManager;
    action: ServiceAction;
    component: ServiceComponent;
    /** NSSM service name, systemd unit file name, or launchd label. */
    serviceName: string;
    scope: ServiceScope;
    /** Steps that install a missing tool (NSSM); asked about separately because they install third-party software. */
    prerequisites: RunStep[];
    steps: PlanStep[];
    /** Undoes a partly applied install; run best-effort when a step aborts. */
    rollback: PlanStep[];
    placeholders: ProgramPlaceholder[];
    /** Set when the plan cannot run at all; `manualSteps` tells the user what to do instead. */
    blocked?: {reason: string; manualSteps: string[]};
    /** Changes the system (install, uninstall, start, stop) rather than only reading it (status). */
    changesSystem: boolean;
    notes: string[];
    /** The facts that steps record while applying (`when` conditions refer to them), in words for the plan. */
    facts?: Record<string, string>;
    /** Path and quoting style used to display the plan. */
    pathStyle: "win32" | "posix";
}

/** A plan with no steps yet: each OS's builder fills in what its service manager needs. */
export function emptyPlan(fields: Pick<ServicePlan, "os" | "manager" | "action" | "component" | "serviceName" | "scope" | "pathStyle">): ServicePlan {
    return {
        ...fields,
        prerequisites: [],
        steps: [],
        rollback: [],
        placeholders: [],
        changesSystem: fields.action !== "status",
        notes: []
    };
}
