import {findOnPath, type SystemProbe} from "./probe.js";
import {execaRunner, type CommandRunner} from "./runner.js";
import type {ServicePlan} from "./types.js";

/** sd_booted(3)'s test: this folder exists only when systemd is the init system. */
export const SYSTEMD_RUNTIME_DIR = "/run/systemd/system";

/**
 * Why the plan's service manager cannot be used on this machine, or null when it can. Only reads: a PATH lookup,
 * a folder check, and `systemctl --user show-environment` (which changes nothing) for a user unit.
 *
 * The plan builders assume the manager is there; without this check an approved install would fail half-way
 * (a unit written that nothing will ever load), where the honest answer is "this machine has no service manager".
 */
export async function serviceSupport(plan: ServicePlan, probe: SystemProbe, runner: CommandRunner = execaRunner): Promise<string | null> {
    switch (plan.manager) {
        case "systemd": {
            if (!findOnPath("systemctl", probe))
                return "systemctl was not found on PATH: this system does not use systemd, so there is no service manager to install into. " +
                    "Run the provider with npm start, and keep it alive with npm run watchdog.";
            if (!probe.exists(SYSTEMD_RUNTIME_DIR))
                return `systemd is not running as the init system here (${SYSTEMD_RUNTIME_DIR} does not exist: a container, or WSL without systemd). ` +
                    "Run the provider with npm start, and keep it alive with npm run watchdog.";
            if (plan.scope === "user") {
                const r = await runner("systemctl", ["--user", "show-environment"], {timeoutMs: 10_000, env: probe.env});
                if (r.failed || r.exitCode !== 0) {
                    const why = (r.stderr.trim() || r.message || `exit code ${String(r.exitCode)}`).split("\n")[0];
                    return `there is no systemd user manager for this session (\`systemctl --user show-environment\` failed: ${why}); this happens over su, sudo -u or ssh without a login session. ` +
                        "Log in directly as this user, or install a system-wide unit with: sudo npm run service -- install";
                }
            }
            return null;
        }
        case "launchd":
            return findOnPath("launchctl", probe) ? null : "launchctl was not found on PATH, so no LaunchAgent can be loaded here.";
        case "nssm":
            // A missing NSSM is the plan's own `blocked` case, with the ways to get it.
            return null;
    }
}
