import {commandHint} from "../command-hint.js";
import type {ProviderConfig} from "../config/load.js";
import {envGet, findOnPath, pathFor, type SystemProbe} from "./probe.js";
import {joinWindowsArgs} from "./quote.js";
import type {ServiceTarget} from "./target.js";
import type {PlanStep, ProgramPlaceholder, RunStep, ServiceAction, ServicePlan} from "./types.js";
import {emptyPlan} from "./types.js";

/** Where the installation guide (documentation/operations.md) tells Windows users to put NSSM. */
export const SEED_NSSM_PATH = "C:\\tools\\nssm\\nssm.exe";
/** Stands for nssm.exe in a plan whose prerequisites install it. */
export const NSSM_PLACEHOLDER = "{nssm}";

/** Recovery actions applied by the Service Control Manager if nssm.exe itself dies. */
export const SC_FAILURE_ACTIONS = "restart/5000/restart/5000/restart/60000";
export const SC_FAILURE_RESET_SECONDS = "86400";
export const NSSM_RESTART_DELAY_MS = "5000";
export const NSSM_ROTATE_BYTES = "10485760";
/** How long a restart without NSSM waits for `sc stop` to finish before `sc start`, and how often it asks. */
export const SC_STOP_WAIT_MS = 30_000;
export const SC_STOP_POLL_MS = 500;
/** The fact an install records: the service was registered before it (a re-install updates it in place). */
export const EARLIER_SERVICE = "earlier_service";

const win = pathFor("windows");

export function windowsServiceName(target: ServiceTarget): string {
    return target.component === "provider" ? target.baseName : `${target.baseName}Watchdog`;
}

function scExe(probe: SystemProbe): string {
    return win.join(envGet(probe.env, "SystemRoot", "windows") ?? "C:\\Windows", "System32", "sc.exe");
}

/** Places a package manager leaves nssm.exe; PATH is not refreshed inside this process after an install. */
export function nssmKnownLocations(probe: SystemProbe): string[] {
    const e = (k: string): string | undefined => envGet(probe.env, k, "windows");
    const out = [SEED_NSSM_PATH];
    const localAppData = e("LOCALAPPDATA");
    if (localAppData) out.push(win.join(localAppData, "Microsoft", "WinGet", "Links", "nssm.exe"));
    out.push(win.join(e("ProgramFiles") ?? "C:\\Program Files", "WinGet", "Links", "nssm.exe"));
    const scoop = e("SCOOP") ?? (e("USERPROFILE") ? win.join(e("USERPROFILE")!, "scoop") : undefined);
    if (scoop) out.push(win.join(scoop, "shims", "nssm.exe"));
    const choco = e("ChocolateyInstall") ?? win.join(e("ProgramData") ?? "C:\\ProgramData", "chocolatey");
    out.push(win.join(choco, "bin", "nssm.exe"));
    return out;
}

/** NSSM from the config, then PATH, then the documented C:\tools\nssm location and the package managers' ones. */
export function findNssm(config: ProviderConfig, probe: SystemProbe): string | null {
    if (config.service.nssm_path && probe.exists(config.service.nssm_path)) return config.service.nssm_path;
    const onPath = findOnPath("nssm.exe", probe);
    if (onPath) return onPath;
    return nssmKnownLocations(probe).find((p) => probe.exists(p)) ?? null;
}

export interface NssmInstaller {
    manager: "winget" | "scoop" | "choco";
    file: string;
    args: string[];
}

/** The first of winget, scoop and choco found on PATH, with the command that installs NSSM through it. */
export function chooseNssmInstaller(probe: SystemProbe): NssmInstaller | null {
    const winget = findOnPath("winget", probe);
    if (winget) return {manager: "winget", file: winget, args: ["install", "--id", "NSSM.NSSM", "--exact", "--accept-package-agreements", "--accept-source-agreements"]};
    const scoop = findOnPath("scoop", probe);
    if (scoop) return {manager: "scoop", file: scoop, args: ["install", "nssm"]};
    const choco = findOnPath("choco", probe);
    if (choco) return {manager: "choco", file: choco, args: ["install", "nssm", "-y"]};
    return null;
}

export function nssmManualSteps(): string[] {
    return [
        "Download NSSM 2.24 from https://nssm.cc/download and extract the zip.",
        `Copy win64\\nssm.exe to ${SEED_NSSM_PATH} (or put it on PATH, or set "service.nssm_path" in the config file).`,
        // PowerShell drops the bare `--` of `npm run service -- install` (command-hint.ts); this form works in every shell
        `Open a new terminal as Administrator and run: ${commandHint("service", "install", "win32")}`,
        "Alternatively install one of winget (App Installer from the Microsoft Store), scoop or Chocolatey, then run the install again."
    ];
}

function run(file: string, args: string[], description: string, onError: RunStep["onError"] = "abort"): RunStep {
    return {kind: "run", file, args, description, onError};
}

const earlier = {fact: EARLIER_SERVICE, is: true};
const fresh = {fact: EARLIER_SERVICE, is: false};

/**
 * The `nssm install` / `nssm set` sequence; exactly what documentation/operations.md lists.
 *
 * An earlier install is updated in place rather than removed and registered again: removing it first would leave
 * no service at all if a later step failed. Its running process is untouched by `nssm set` (NSSM reads its settings
 * when it starts the program), and is only restarted by the last two steps.
 */
export function nssmInstallSteps(nssm: string, name: string, target: ServiceTarget, sc: string): PlanStep[] {
    const set = (key: string, ...values: string[]): RunStep =>
        run(nssm, ["set", name, key, ...values], `set ${key}`);
    return [
        {kind: "mkdir", path: target.logsDir, description: "logs folder for the service's output"},
        {...run(sc, ["query", name], `is ${name} installed already?`), sets: EARLIER_SERVICE},
        {...run(nssm, ["install", name, target.nodePath], `register the service ${name} running node`), when: fresh},
        {...set("Application", target.nodePath), description: "point the earlier service at this node", when: earlier},
        // One string: NSSM stores it verbatim and passes it to CreateProcess, so paths with spaces are quoted here.
        set("AppParameters", joinWindowsArgs(target.args)),
        set("AppDirectory", target.workingDirectory),
        set("AppEnvironmentExtra", ...Object.entries(target.env).map(([k, v]) => `${k}=${v}`)),
        set("DisplayName", target.displayName),
        set("Description", target.description),
        set("Start", "SERVICE_AUTO_START"),
        set("AppStdout", target.stdoutLog),
        set("AppStderr", target.stderrLog),
        set("AppRotateFiles", "1"),
        set("AppRotateOnline", "1"),
        set("AppRotateBytes", NSSM_ROTATE_BYTES),
        set("AppExit", "Default", "Restart"),
        set("AppRestartDelay", NSSM_RESTART_DELAY_MS),
        // NSSM sends Ctrl+C first and waits this long before harder methods, giving the server its drain time.
        set("AppStopMethodConsole", String(target.stopTimeoutSeconds * 1000)),
        set("AppKillProcessTree", "1"),
        run(sc, ["failure", name, "reset=", SC_FAILURE_RESET_SECONDS, "actions=", SC_FAILURE_ACTIONS], "recovery actions if nssm.exe itself fails"),
        run(sc, ["failureflag", name, "1"], "apply the recovery actions to non-crash failures too", "warn"),
        // NSSM's stop waits until the service has stopped, so the start that follows finds it STOPPED.
        {...run(nssm, ["stop", name], `stop the earlier ${name}, so that it starts with the new settings`, "ignore"), when: earlier},
        run(nssm, ["start", name], `start ${name}`)
    ];
}

export function buildWindowsPlan(config: ProviderConfig, action: ServiceAction, target: ServiceTarget, probe: SystemProbe): ServicePlan {
    const name = windowsServiceName(target);
    const sc = scExe(probe);
    const nssm = findNssm(config, probe);
    const plan = emptyPlan({os: "windows", manager: "nssm", action, component: target.component, serviceName: name, scope: "system", pathStyle: "win32"});
    if (config.service.nssm_path && !probe.exists(config.service.nssm_path))
        plan.notes.push(`service.nssm_path is ${config.service.nssm_path}, which does not exist; looked on PATH and in the usual places instead.`);

    if (action === "install") {
        plan.notes.push("Installing a Windows service needs an elevated (Administrator) terminal.");
        let nssmFile = nssm;
        if (!nssmFile) {
            const installer = chooseNssmInstaller(probe);
            if (!installer) {
                plan.blocked = {
                    reason: "NSSM is not installed, and none of winget, scoop or choco is available to install it. " +
                        "`sc.exe create` alone cannot run node as a service, so nothing was installed.",
                    manualSteps: nssmManualSteps()
                };
                return plan;
            }
            plan.prerequisites.push(run(installer.file, installer.args, `install NSSM with ${installer.manager}`));
            const placeholder: ProgramPlaceholder = {
                placeholder: NSSM_PLACEHOLDER,
                candidates: nssmKnownLocations(probe),
                missingSteps: [`NSSM was installed with ${installer.manager}, but nssm.exe is not in any known location yet.`, ...nssmManualSteps()]
            };
            plan.placeholders.push(placeholder);
            nssmFile = NSSM_PLACEHOLDER;
        }
        plan.steps = nssmInstallSteps(nssmFile, name, target, sc);
        plan.facts = {[EARLIER_SERVICE]: `${name} was installed before`};
        // Only a service this install registered is removed; an earlier one stays registered (and is started again).
        plan.rollback = [
            {...run(nssmFile, ["stop", name], "stop the partly installed service", "ignore"), when: fresh},
            {...run(nssmFile, ["remove", name, "confirm"], "remove the partly installed service", "ignore"), when: fresh},
            {...run(nssmFile, ["start", name], "start the earlier service again, if it is stopped", "ignore"), when: earlier}
        ];
        plan.notes.push(`An earlier install of ${name} is updated in place (never removed first); if a step fails, it stays registered and is started again.`);
        return plan;
    }

    // The other actions work on an existing service; without NSSM the Service Control Manager can still do them.
    switch (action) {
        case "uninstall":
            plan.steps = nssm
                ? [run(nssm, ["stop", name], `stop ${name}`, "ignore"), run(nssm, ["remove", name, "confirm"], `remove ${name}`)]
                : [run(sc, ["stop", name], `stop ${name}`, "ignore"), run(sc, ["delete", name], `remove ${name}`)];
            break;
        case "start":
            plan.steps = [nssm ? run(nssm, ["start", name], `start ${name}`) : run(sc, ["start", name], `start ${name}`)];
            break;
        case "stop":
            plan.steps = [nssm ? run(nssm, ["stop", name], `stop ${name}`) : run(sc, ["stop", name], `stop ${name}`)];
            break;
        case "restart":
            plan.steps = nssm
                ? [run(nssm, ["restart", name], `restart ${name}`)]
                : [
                    run(sc, ["stop", name], `stop ${name}`, "ignore"),
                    // `sc stop` returns while the service is STOP_PENDING, and `sc start` then fails (error 1056).
                    {
                        kind: "wait", file: sc, args: ["query", name], until: "STATE\\s*:\\s*\\d+\\s+STOPPED", untilText: "STOPPED",
                        timeoutMs: SC_STOP_WAIT_MS, intervalMs: SC_STOP_POLL_MS, onError: "abort", description: `wait for ${name} to stop`
                    },
                    run(sc, ["start", name], `start ${name}`)
                ];
            break;
        case "status":
            plan.steps = [nssm ? run(nssm, ["status", name], `status of ${name}`, "ignore") : run(sc, ["query", name], `status of ${name}`, "ignore")];
            break;
    }
    return plan;
}
