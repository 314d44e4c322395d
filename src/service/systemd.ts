import type {ProviderConfig} from "../config/load.js";
import {findOnPath, pathFor, type SystemProbe} from "./probe.js";
import {escapeSystemdSpecifiers, quoteSystemdWord} from "./quote.js";
import {lowerSlug, type ServiceTarget} from "./target.js";
import type {PlanStep, RunStep, ServiceAction, ServicePlan, ServiceScope} from "./types.js";
import {emptyPlan} from "./types.js";

/** Restarts allowed inside the interval before systemd gives up on the unit (its own crash-loop guard). */
export const START_LIMIT_BURST = 10;
export const START_LIMIT_INTERVAL_SECONDS = 300;
export const RESTART_SEC = 5;
/** Next to the unit while an install runs; systemd loads only known suffixes, so it never reads the copy. */
export const BACKUP_SUFFIX = ".zc-backup";
const EARLIER_UNIT = "earlier_unit";

const posix = pathFor("linux");

export function systemdUnitName(target: ServiceTarget): string {
    const slug = lowerSlug(target.baseName);
    return target.component === "provider" ? `${slug}.service` : `${slug}-watchdog.service`;
}

export function systemdUnitDir(scope: ServiceScope, probe: SystemProbe): string {
    if (scope === "system") return "/etc/systemd/system";
    const xdg = probe.env.XDG_CONFIG_HOME;
    return posix.join(xdg && posix.isAbsolute(xdg) ? xdg : posix.join(probe.homeDir, ".config"), "systemd", "user");
}

/** "auto" means system-wide when running as root, the user's own manager otherwise. */
export function resolveScope(requested: ProviderConfig["service"]["scope"], probe: SystemProbe): ServiceScope {
    if (requested === "user" || requested === "system") return requested;
    return probe.uid === 0 ? "system" : "user";
}

export interface UnitOptions {
    scope: ServiceScope;
    /**
     * System units only: the account the service runs as (the sudo caller rather than root). Left out for the
     * system watchdog, which must run as root: only root may `systemctl restart` a system unit (polkit refuses
     * an ordinary user), and the watchdog's `systemctl` has no `--user` to fall back on for a system unit.
     */
    user?: string;
    /** Units to order after (the watchdog after the provider). */
    after?: string[];
}

export function renderSystemdUnit(target: ServiceTarget, opts: UnitOptions): string {
    const exec = [target.nodePath, ...target.args].map((a) => quoteSystemdWord(a, {commandLine: true})).join(" ");
    const env = Object.entries(target.env).map(([k, v]) => `Environment=${quoteSystemdWord(`${k}=${v}`, {commandLine: false})}`);
    // The user manager has no network targets; the server listens on loopback by default anyway.
    const after = [...(opts.scope === "system" ? ["network.target"] : []), ...(opts.after ?? [])];
    const lines = [
        "# Written by `npm run service -- install` (ZombieCoder Provider). Remove with `npm run service -- uninstall`.",
        "[Unit]",
        `Description=${escapeSystemdSpecifiers(target.displayName)}`,
        ...(after.length > 0 ? [`After=${after.join(" ")}`] : []),
        // Start limits live in [Unit]: more than BURST restarts in INTERVAL stops the restarts (a crash loop).
        `StartLimitIntervalSec=${START_LIMIT_INTERVAL_SECONDS}`,
        `StartLimitBurst=${START_LIMIT_BURST}`,
        "",
        "[Service]",
        "Type=simple",
        ...(opts.scope === "system" && opts.user ? [`User=${opts.user}`] : []),
        `WorkingDirectory=${escapeSystemdSpecifiers(target.workingDirectory)}`,
        ...env,
        `ExecStart=${exec}`,
        "Restart=always",
        `RestartSec=${RESTART_SEC}`,
        // SIGTERM to the server first (it drains), SIGKILL to whatever is left, runners included, after the timeout.
        "KillMode=mixed",
        "KillSignal=SIGTERM",
        `TimeoutStopSec=${target.stopTimeoutSeconds}`,
        `StandardOutput=append:${escapeSystemdSpecifiers(target.stdoutLog)}`,
        `StandardError=append:${escapeSystemdSpecifiers(target.stderrLog)}`,
        "",
        "[Install]",
        `WantedBy=${opts.scope === "system" ? "multi-user.target" : "default.target"}`,
        ""
    ];
    return lines.join("\n");
}

function run(file: string, args: string[], description: string, onError: RunStep["onError"] = "abort"): RunStep {
    return {kind: "run", file, args, description, onError};
}

export function buildSystemdPlan(config: ProviderConfig, action: ServiceAction, target: ServiceTarget, probe: SystemProbe, scopeOverride?: ServiceScope): ServicePlan {
    const scope = scopeOverride ?? resolveScope(config.service.scope, probe);
    const unit = systemdUnitName(target);
    const unitPath = posix.join(systemdUnitDir(scope, probe), unit);
    const ctl = (args: string[], description: string, onError: RunStep["onError"] = "abort"): RunStep =>
        run("systemctl", scope === "user" ? ["--user", ...args] : args, description, onError);
    const plan = emptyPlan({os: "linux", manager: "systemd", action, component: target.component, serviceName: unit, scope, pathStyle: "posix"});
    if (scope === "system" && probe.uid !== 0) plan.notes.push("A system-wide unit needs root: run it with sudo, or use service.scope \"user\".");

    switch (action) {
        case "install": {
            const sudoUser = probe.env.SUDO_USER;
            const systemWatchdog = scope === "system" && target.component === "watchdog";
            // A root watchdog must never start the provider itself (it would run as root): service mode only.
            const unitTarget = systemWatchdog ? {...target, args: [...target.args, "--mode", "service"]} : target;
            const content = renderSystemdUnit(unitTarget, {
                scope,
                user: scope === "system" && !systemWatchdog && sudoUser && sudoUser !== "root" ? sudoUser : undefined,
                after: target.component === "watchdog" ? [systemdUnitName({...target, component: "provider"})] : []
            });
            if (systemWatchdog)
                plan.notes.push("The system-wide watchdog runs as root (no User=), because only root may restart a system unit, and in service mode only: " +
                    `it restarts ${systemdUnitName({...target, component: "provider"})} and never starts the provider itself. Install the provider's system unit first.`);
            const backupPath = `${unitPath}${BACKUP_SUFFIX}`;
            const steps: PlanStep[] = [
                {kind: "mkdir", path: target.logsDir, description: "logs folder for the service's output"},
                {kind: "backup", path: unitPath, backupPath, sets: EARLIER_UNIT, description: "keep the unit of an earlier install, to put it back if this one fails"},
                {kind: "write", path: unitPath, content, mode: 0o644, description: `systemd ${scope} unit`}
            ];
            // Verification is offline (no --user: it needs a running user manager, which a login over ssh may lack).
            if (findOnPath("systemd-analyze", probe))
                steps.push(run("systemd-analyze", ["verify", unitPath], "check the unit file"));
            steps.push(
                ctl(["daemon-reload"], "make systemd read the unit"),
                ctl(["enable", unit], "start it at boot or login"),
                // restart rather than start, so that a re-install picks up a changed unit.
                ctl(["restart", unit], "start it now")
            );
            if (scope === "user" && probe.username)
                steps.push(run("loginctl", ["enable-linger", probe.username], "keep user services running after logout", "warn"));
            steps.push({kind: "remove", path: backupPath, description: "the copy of the earlier unit, no longer needed"});
            plan.steps = steps;
            plan.facts = {[EARLIER_UNIT]: `${unit} existed before this install`};
            // A failed re-install puts the earlier, working unit back and starts it again instead of leaving nothing.
            plan.rollback = [
                {...ctl(["disable", "--now", unit], "stop and disable the partly installed unit", "ignore"), when: {fact: EARLIER_UNIT, is: false}},
                {kind: "restore", path: unitPath, backupPath, fact: EARLIER_UNIT, description: "the earlier unit, or no unit when there was none"},
                ctl(["daemon-reload"], "make systemd read the restored unit (or forget the removed one)", "ignore"),
                {...ctl(["restart", unit], "run the earlier unit again", "ignore"), when: {fact: EARLIER_UNIT, is: true}}
            ];
            if (scope === "user")
                plan.notes.push("A user unit runs while you are logged in; `loginctl enable-linger` (run by the install) keeps it running after logout and starts it at boot.");
            break;
        }
        case "uninstall":
            plan.steps = [
                ctl(["disable", "--now", unit], `stop and disable ${unit}`, "ignore"),
                {kind: "remove", path: unitPath, description: "the unit file"},
                {kind: "remove", path: `${unitPath}${BACKUP_SUFFIX}`, description: "a copy left by an interrupted install, if any"},
                ctl(["daemon-reload"], "forget the unit", "warn"),
                ctl(["reset-failed", unit], "clear its failed state", "ignore")
            ];
            break;
        case "start":
            plan.steps = [ctl(["start", unit], `start ${unit}`)];
            break;
        case "stop":
            plan.steps = [ctl(["stop", unit], `stop ${unit}`)];
            break;
        case "restart":
            plan.steps = [ctl(["restart", unit], `restart ${unit}`)];
            break;
        case "status":
            plan.steps = [ctl(["status", "--no-pager", unit], `status of ${unit}`, "ignore")];
            break;
    }
    return plan;
}

/** Where the unit file of a component would be, for "is a service installed?" checks. */
export function systemdUnitPath(target: ServiceTarget, scope: ServiceScope, probe: SystemProbe): string {
    return posix.join(systemdUnitDir(scope, probe), systemdUnitName(target));
}
