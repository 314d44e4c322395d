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

export interface WriteStep {
    kind: "write";
    path: string;
    content: string;
    /** POSIX permission bits; ignored on Windows. */
    mode?: number;
    description: string;
}

export interface RemoveStep {
    kind: "remove";
    path: string;
    description: string;
}

export interface MkdirStep {
    kind: "mkdir";
    path: string;
    description: string;
}

export interface RunStep {
    kind: "run";
    /** The executable: an absolute path, a name looked up on PATH, or a placeholder from `plan.placeholders`. */
    file: string;
    args: string[];
    description: string;
    /**
     * What a non-zero exit means: "abort" stops and rolls back; "ignore" carries on silently
     * (stopping a service that is not running); "warn" carries on and reports it.
     */
    onError: "abort" | "ignore" | "warn";
}

export type PlanStep = WriteStep | RemoveStep | MkdirStep | RunStep;

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
    /** Path and quoting style used to display the plan. */
    pathStyle: "win32" | "posix";
}
