import {pathFor, type SystemProbe} from "./probe.js";
import {xmlEscape} from "./quote.js";
import {lowerSlug, type ServiceTarget} from "./target.js";
import type {RunStep, ServiceAction, ServicePlan} from "./types.js";
import {emptyPlan} from "./types.js";

/** launchd's minimum time between two starts of a KeepAlive job (its default is 10 s). */
export const THROTTLE_INTERVAL_SECONDS = 5;

const posix = pathFor("macos");
/** Next to the plist while an install runs; launchd only reads the plists it is given, so the copy is inert. */
export const BACKUP_SUFFIX = ".zc-backup";
const EARLIER_AGENT = "earlier_agent";

export function launchdLabel(target: ServiceTarget): string {
    const slug = lowerSlug(target.baseName);
    return target.component === "provider" ? `com.zombiecoder.${slug}` : `com.zombiecoder.${slug}-watchdog`;
}

export function launchAgentPath(target: ServiceTarget, probe: SystemProbe): string {
    return posix.join(probe.homeDir, "Library", "LaunchAgents", `${launchdLabel(target)}.plist`);
}

function str(value: string): string {
    return `<string>${xmlEscape(value)}</string>`;
}

export function renderLaunchdPlist(target: ServiceTarget): string {
    const label = launchdLabel(target);
    const args = [target.nodePath, ...target.args].map((a) => `        ${str(a)}`).join("\n");
    const env = Object.entries(target.env).map(([k, v]) => `        <key>${xmlEscape(k)}</key>\n        ${str(v)}`).join("\n");
    return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by npm run service -- install (ZombieCoder Provider). Remove with npm run service -- uninstall. -->
<plist version="1.0">
<dict>
    <key>Label</key>
    ${str(label)}
    <key>ProgramArguments</key>
    <array>
${args}
    </array>
    <key>WorkingDirectory</key>
    ${str(target.workingDirectory)}
    <key>EnvironmentVariables</key>
    <dict>
${env}
    </dict>
    <key>RunAtLoad</key>
    <true/>
    <key>KeepAlive</key>
    <true/>
    <key>ThrottleInterval</key>
    <integer>${THROTTLE_INTERVAL_SECONDS}</integer>
    <key>ExitTimeOut</key>
    <integer>${target.stopTimeoutSeconds}</integer>
    <key>ProcessType</key>
    <string>Interactive</string>
    <key>StandardOutPath</key>
    ${str(target.stdoutLog)}
    <key>StandardErrorPath</key>
    ${str(target.stderrLog)}
</dict>
</plist>
`;
}

function run(args: string[], description: string, onError: RunStep["onError"] = "abort"): RunStep {
    return {kind: "run", file: "launchctl", args, description, onError};
}

export function buildLaunchdPlan(action: ServiceAction, target: ServiceTarget, probe: SystemProbe): ServicePlan {
    const label = launchdLabel(target);
    const plistPath = launchAgentPath(target, probe);
    const domain = `gui/${probe.uid ?? 501}`;
    const service = `${domain}/${label}`;
    const plan = emptyPlan({os: "macos", manager: "launchd", action, component: target.component, serviceName: label, scope: "user", pathStyle: "posix"});
    switch (action) {
        case "install": {
            const backupPath = `${plistPath}${BACKUP_SUFFIX}`;
            plan.steps = [
                {kind: "mkdir", path: target.logsDir, description: "logs folder for the agent's output"},
                {kind: "backup", path: plistPath, backupPath, sets: EARLIER_AGENT, description: "keep the plist of an earlier install, to put it back if this one fails"},
                // A loaded older copy would keep running the old definition; bootout fails harmlessly when none is loaded.
                run(["bootout", service], "unload an earlier copy of the agent, if any", "ignore"),
                {kind: "write", path: plistPath, content: renderLaunchdPlist(target), mode: 0o644, description: "launchd agent"},
                run(["bootstrap", domain, plistPath], "load the agent (RunAtLoad starts it)"),
                run(["enable", service], "keep it enabled across logins"),
                {kind: "remove", path: backupPath, description: "the copy of the earlier plist, no longer needed"}
            ];
            plan.facts = {[EARLIER_AGENT]: `${label} was installed before`};
            // A failed re-install loads the earlier, working agent again instead of leaving none.
            plan.rollback = [
                run(["bootout", service], "unload the partly installed agent", "ignore"),
                {kind: "restore", path: plistPath, backupPath, fact: EARLIER_AGENT, description: "the earlier plist, or no plist when there was none"},
                {...run(["bootstrap", domain, plistPath], "load the earlier agent again", "ignore"), when: {fact: EARLIER_AGENT, is: true}},
                {...run(["enable", service], "keep the earlier agent enabled", "ignore"), when: {fact: EARLIER_AGENT, is: true}}
            ];
            plan.notes.push("A LaunchAgent runs while you are logged in, and starts again at each login.");
            break;
        }
        case "uninstall":
            plan.steps = [
                run(["bootout", service], `unload ${label}`, "ignore"),
                {kind: "remove", path: plistPath, description: "the plist"},
                {kind: "remove", path: `${plistPath}${BACKUP_SUFFIX}`, description: "a copy left by an interrupted install, if any"}
            ];
            break;
        case "start":
            plan.steps = [
                run(["bootstrap", domain, plistPath], "load the agent if it is not loaded", "ignore"),
                run(["kickstart", service], `start ${label}`)
            ];
            break;
        case "stop":
            // With KeepAlive, killing the job only makes launchd start it again: unloading is what stops it.
            plan.steps = [run(["bootout", service], `stop (unload) ${label}`)];
            break;
        case "restart":
            plan.steps = [run(["kickstart", "-k", service], `restart ${label}`)];
            break;
        case "status":
            plan.steps = [run(["print", service], `status of ${label}`, "ignore")];
            break;
    }
    return plan;
}
