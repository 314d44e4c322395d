/**
 * The service step: the exact service plans (what `npm run service -- install --dry-run` and `... --watchdog` print), applied
 * only on approval: the provider as an OS service, and the watchdog as its own service next to it (the service
 * manager restarts a provider that exits, the watchdog one that hangs).
 */
import {applyServicePlan, buildServicePlan, defaultProbe, describePlan, serviceSupport, type ServicePlan, type SystemProbe} from "../../service/index.js";
import {execaRunner, type CommandRunner} from "../../service/runner.js";
import {notElevatedMessage, windowsElevation} from "../windows-admin.js";
import {defineStep, outcome, StepError, type StepContext} from "./contract.js";
import {commandHint} from "../../command-hint.js";

/** This machine, seen through the run's environment (PATH, XDG_CONFIG_HOME, SUDO_USER), which tests isolate. */
function probeFor(ctx: StepContext): SystemProbe {
    return {...defaultProbe(), env: ctx.env};
}

/** The machine as the step sees it; tests describe another OS (a Windows probe, a runner that answers whoami). */
export interface ServiceStepSystem {
    probe(ctx: StepContext): SystemProbe;
    runner: CommandRunner;
}

interface ServicePrep {
    plan: ServicePlan | null;
    watchdog: ServicePlan | null;
    text: string;
    /** Why the watchdog is left out (its plan is blocked here), when it is. */
    watchdogNote: string | null;
}

export interface ServiceData {
    installed: boolean;
    watchdog_installed: boolean;
    manager: string | null;
    service_name: string | null;
    watchdog_name: string | null;
    os: string | null;
    scope: string | null;
    plan_text: string;
    result: string;
    warnings: string[];
}

export function createServiceStep(system: ServiceStepSystem = {probe: probeFor, runner: execaRunner}) {
    return defineStep<ServicePrep>({
        id: "service",

        async prepare(ctx) {
            const config = ctx.config();
            const probe = system.probe(ctx);
            let plan: ServicePlan;
            try {
                plan = buildServicePlan(config, {action: "install", probe});
            } catch (err) {
                const why = `no service plan for this OS: ${(err as Error).message}`;
                return {summary: [why], approvals: [], data: {plan: null, watchdog: null, text: "", watchdogNote: null}, skip: why};
            }
            const text = describePlan(plan);
            if (plan.blocked) {
                const manual = plan.blocked.manualSteps.map((s, i) => `  ${i + 1}. ${s}`).join("\n");
                return {summary: [`cannot install: ${plan.blocked.reason}`], approvals: [], data: {plan, watchdog: null, text, watchdogNote: null}, skip: `${plan.blocked.reason}${manual ? `\nManual steps:\n${manual}` : ""}`};
            }
            // Checked before asking, so that nobody approves an install this machine cannot carry out.
            const unsupported = await serviceSupport(plan, probe, system.runner);
            if (unsupported)
                return {summary: [`cannot install a ${plan.manager} service here: ${unsupported}`], approvals: [], data: {plan, watchdog: null, text, watchdogNote: null}, skip: unsupported};
            if (plan.os === "windows") {
                const elevation = await windowsElevation(probe, system.runner);
                if (!elevation.elevated) {
                    const why = notElevatedMessage(ctx.home, elevation);
                    return {summary: ["cannot install the Windows service: this terminal is not running as Administrator"], approvals: [], data: {plan, watchdog: null, text, watchdogNote: null}, skip: why};
                }
            }
            let watchdog: ServicePlan | null = null;
            let watchdogNote: string | null = null;
            try {
                watchdog = buildServicePlan(config, {action: "install", component: "watchdog", probe});
                if (watchdog.blocked) {
                    watchdogNote = `the watchdog service cannot be installed here: ${watchdog.blocked.reason}`;
                    watchdog = null;
                }
            } catch (err) {
                watchdogNote = `no watchdog service plan: ${(err as Error).message}`;
            }
            const fullText = watchdog ? `${text}\n\n${describePlan(watchdog)}` : `${text}${watchdogNote ? `\n\nNote: ${watchdogNote}` : ""}`;
            const what = `the provider as the ${plan.manager} service "${plan.serviceName}"${watchdog ? ` and its watchdog as "${watchdog.serviceName}"` : ""}`;
            return {
                summary: [`install ${what} on ${plan.os} (asks service:install)`, ...fullText.split("\n").map((l) => `  ${l}`)],
                approvals: [{id: "service:install", kind: "service", title: `Install ${what}`, details: fullText}],
                data: {plan, watchdog, text: fullText, watchdogNote}
            };
        },

        async apply(ctx, prep, decisions) {
            const {plan, watchdog} = prep;
            if (!plan) return outcome("skipped", "no service plan", {reason: "no service plan"});
            const data: ServiceData = {
                installed: false, watchdog_installed: false, manager: plan.manager, service_name: plan.serviceName, watchdog_name: watchdog?.serviceName ?? null,
                os: plan.os, scope: plan.scope, plan_text: prep.text, result: "", warnings: []
            };
            if (decisions["service:install"] !== "approve") {
                data.result = "not installed: service:install denied";
                return outcome("denied", "service not installed (service:install denied)", {
                    reason: "service:install denied", data: {...data},
                    findings: [`the provider runs in the foreground (npm start); install the service later with ${commandHint("service", "install")}`]
                });
            }
            // The whole plan, prerequisites included, was shown with the approval question, so it applies without asking again.
            const result = await applyServicePlan(plan, {approve: true, logger: ctx.logger});
            data.installed = result.status === "done";
            data.result = result.message;
            data.warnings.push(...result.warnings);
            if (result.status !== "done") {
                const manual = result.manualSteps?.length ? `\nManual steps:\n${result.manualSteps.map((s, i) => `  ${i + 1}. ${s}`).join("\n")}` : "";
                throw new StepError(`service install ${result.status}: ${result.message}${manual}`, {data: {...data}});
            }
            const findings = [result.message];
            if (prep.watchdogNote) data.warnings.push(prep.watchdogNote);
            if (watchdog) {
                // The provider's service already restarts it when it exits; a watchdog that fails to install is a warning.
                const w = await applyServicePlan(watchdog, {approve: true, logger: ctx.logger});
                data.watchdog_installed = w.status === "done";
                if (w.status === "done") findings.push(w.message);
                else data.warnings.push(`the watchdog service was not installed (${w.status}): ${w.message}; install it later with ${commandHint("service", "install --watchdog")}`);
                data.warnings.push(...w.warnings);
            }
            return outcome("done", `${plan.manager} service "${plan.serviceName}" installed${data.watchdog_installed ? `, watchdog "${data.watchdog_name}" too` : ""}`, {
                findings, warnings: data.warnings, data: {...data}
            });
        }
    });
}

export const serviceStep = createServiceStep();
