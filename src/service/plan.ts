import type {ProviderConfig} from "../config/load.js";
import {buildLaunchdPlan, launchAgentPath} from "./launchd.js";
import {defaultProbe, type SystemProbe} from "./probe.js";
import {joinWindowsArgs, quotePosixArg} from "./quote.js";
import {buildSystemdPlan, resolveScope, systemdUnitPath} from "./systemd.js";
import {buildTarget, type ServiceTarget} from "./target.js";
import type {PlanStep, ServiceAction, ServiceComponent, ServiceOS, ServicePlan, ServiceScope} from "./types.js";
import {buildWindowsPlan} from "./windows.js";

export interface ServicePlanOptions {
    /** The action; "install" when omitted. */
    action?: ServiceAction;
    /** The provider (default) or the watchdog as its own service. */
    component?: ServiceComponent;
    /** Build for another OS than this one (tests, documentation); the probe should then describe that OS. */
    os?: ServiceOS;
    /** What the builder may read about the machine; defaults to this machine. */
    probe?: SystemProbe;
    /** systemd only: overrides config `service.scope`. */
    scope?: ServiceScope;
    nodePath?: string;
    projectRoot?: string;
}

function resolveProbe(opts: ServicePlanOptions): SystemProbe {
    const probe = opts.probe ?? defaultProbe();
    return opts.os && opts.os !== probe.os ? {...probe, os: opts.os} : probe;
}

export function serviceTarget(config: ProviderConfig, opts: ServicePlanOptions = {}): ServiceTarget {
    const probe = resolveProbe(opts);
    return buildTarget(config, probe.os, probe, {component: opts.component ?? "provider", nodePath: opts.nodePath, projectRoot: opts.projectRoot});
}

/**
 * Builds the files to write and the commands to run for one service action, for this OS or `opts.os`.
 * It only reads (existence checks, PATH lookups): nothing is written and nothing runs.
 */
export function buildServicePlan(config: ProviderConfig, opts: ServicePlanOptions = {}): ServicePlan {
    const probe = resolveProbe(opts);
    const action = opts.action ?? "install";
    const target = buildTarget(config, probe.os, probe, {component: opts.component ?? "provider", nodePath: opts.nodePath, projectRoot: opts.projectRoot});
    switch (probe.os) {
        case "windows": return buildWindowsPlan(config, action, target, probe);
        case "macos": return buildLaunchdPlan(action, target, probe);
        case "linux": return buildSystemdPlan(config, action, target, probe, opts.scope);
    }
}

/**
 * Where the definition of an installed service would be (unit file, plist), or null on Windows where
 * the Service Control Manager must be asked instead.
 */
export function serviceDefinitionPaths(config: ProviderConfig, opts: ServicePlanOptions = {}): string[] | null {
    const probe = resolveProbe(opts);
    const target = serviceTarget(config, opts);
    switch (probe.os) {
        case "windows": return null;
        case "macos": return [launchAgentPath(target, probe)];
        case "linux": {
            const scopes: ServiceScope[] = opts.scope ? [opts.scope] : [resolveScope(config.service.scope, probe), ...(["user", "system"] as const)];
            return [...new Set(scopes.map((s) => systemdUnitPath(target, s, probe)))];
        }
    }
}

export function formatCommand(file: string, args: readonly string[], style: ServicePlan["pathStyle"]): string {
    return style === "win32" ? joinWindowsArgs([file, ...args]) : [file, ...args].map(quotePosixArg).join(" ");
}

/** The condition of a step, in the plan's words: "[only if an earlier install exists]". */
function conditionTag(step: PlanStep, plan: ServicePlan): string {
    if (!step.when) return "";
    const words = plan.facts?.[step.when.fact] ?? step.when.fact;
    return step.when.is ? ` [only if ${words}]` : ` [only if not: ${words}]`;
}

function describeStep(step: PlanStep, plan: ServicePlan): string {
    const style = plan.pathStyle;
    const tag = conditionTag(step, plan);
    switch (step.kind) {
        case "write": {
            const mode = step.mode != null && style === "posix" ? ` (mode ${step.mode.toString(8)})` : "";
            const body = step.content.replace(/\n$/, "").split("\n").map((l) => `      | ${l}`).join("\n");
            return `  write ${step.path}${mode}: ${step.description}${tag}\n${body}`;
        }
        case "remove": return `  remove ${step.path}: ${step.description}${tag}`;
        case "mkdir": return `  create folder ${step.path}: ${step.description}${tag}`;
        case "backup": return `  copy ${step.path} to ${step.backupPath}, if it exists: ${step.description}${tag}`;
        case "restore": return `  put ${step.backupPath} back as ${step.path} (or remove ${step.path} if there was none before): ${step.description}${tag}`;
        case "wait": {
            const every = `every ${step.intervalMs / 1000} s, at most ${step.timeoutMs / 1000} s`;
            return `  $ ${formatCommand(step.file, step.args, style)}    (repeated until it shows ${step.untilText}; ${every})\n      # ${step.description}${tag}`;
        }
        case "run": {
            const onError = step.sets ? " [a question: its answer decides the steps marked \"only if\"]"
                : step.onError === "abort" ? "" : step.onError === "ignore" ? " [failure ignored]" : " [failure reported, not fatal]";
            return `  $ ${formatCommand(step.file, step.args, style)}\n      # ${step.description}${onError}${tag}`;
        }
    }
}

/** The plan as text: exactly the files and commands `applyServicePlan` would write and run, in order. */
export function describePlan(plan: ServicePlan): string {
    const out: string[] = [];
    out.push(`${plan.action} ${plan.component} service "${plan.serviceName}" on ${plan.os} (${plan.manager}${plan.manager === "systemd" ? `, ${plan.scope} scope` : ""})`);
    if (plan.blocked) {
        out.push("", `Cannot ${plan.action}: ${plan.blocked.reason}`, "Manual steps:");
        plan.blocked.manualSteps.forEach((s, i) => out.push(`  ${i + 1}. ${s}`));
        return out.join("\n");
    }
    if (plan.prerequisites.length > 0) {
        out.push("", "First, with your approval:");
        for (const s of plan.prerequisites) out.push(describeStep(s, plan));
    }
    for (const p of plan.placeholders)
        out.push("", `${p.placeholder} stands for nssm.exe, looked for afterwards in: ${p.candidates.join(", ")}`);
    out.push("", "Steps:");
    for (const s of plan.steps) out.push(describeStep(s, plan));
    if (plan.rollback.length > 0) {
        out.push("", "If a step fails, undo with:");
        for (const s of plan.rollback) out.push(describeStep(s, plan));
    }
    if (plan.notes.length > 0) {
        out.push("", "Notes:");
        for (const n of plan.notes) out.push(`  - ${n}`);
    }
    return out.join("\n");
}
