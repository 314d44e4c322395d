import type {ProviderConfig} from "../config/load.js";
import {applyServicePlan, type ApplyOptions, type ApplyResult} from "./apply.js";
import {launchAgentPath, launchdLabel} from "./launchd.js";
import {buildServicePlan, serviceTarget, type ServicePlanOptions} from "./plan.js";
import {defaultProbe, envGet, pathFor, type SystemProbe} from "./probe.js";
import {execaRunner, type CommandRunner} from "./runner.js";
import {systemdUnitName, systemdUnitPath} from "./systemd.js";
import type {ServiceAction, ServiceManager, ServiceScope} from "./types.js";
import {windowsServiceName} from "./windows.js";

export interface InstalledService {
    manager: ServiceManager;
    serviceName: string;
    scope: ServiceScope;
}

export interface ServiceStatus {
    installed: boolean;
    running: boolean;
    manager: ServiceManager;
    serviceName: string;
    scope?: ServiceScope;
    /** The manager's own words (`active`, `SERVICE_RUNNING`, `state = running`). */
    detail: string;
}

export interface ControlOptions extends Omit<ServicePlanOptions, "action"> {
    runner?: CommandRunner;
}

function probeOf(opts: ControlOptions): SystemProbe {
    const probe = opts.probe ?? defaultProbe();
    return opts.os && opts.os !== probe.os ? {...probe, os: opts.os} : probe;
}

/**
 * Finds an installed service for the component: by its definition file on Linux and macOS,
 * by asking the Service Control Manager on Windows (the only case that runs a command).
 */
export async function detectInstalledService(config: ProviderConfig, opts: ControlOptions = {}): Promise<InstalledService | null> {
    const probe = probeOf(opts);
    const target = serviceTarget(config, {...opts, probe});
    switch (probe.os) {
        case "linux": {
            const scopes: ServiceScope[] = opts.scope ? [opts.scope] : ["user", "system"];
            for (const scope of scopes)
                if (probe.exists(systemdUnitPath(target, scope, probe))) return {manager: "systemd", serviceName: systemdUnitName(target), scope};
            return null;
        }
        case "macos":
            return probe.exists(launchAgentPath(target, probe)) ? {manager: "launchd", serviceName: launchdLabel(target), scope: "user"} : null;
        case "windows": {
            const name = windowsServiceName(target);
            const sc = pathFor("windows").join(envGet(probe.env, "SystemRoot", "windows") ?? "C:\\Windows", "System32", "sc.exe");
            const r = await (opts.runner ?? execaRunner)(sc, ["query", name], {timeoutMs: 15_000});
            return r.exitCode === 0 ? {manager: "nssm", serviceName: name, scope: "system"} : null;
        }
    }
}

/** Builds and applies one action; for an installed systemd unit the scope it was installed in is used. */
export async function runServiceAction(config: ProviderConfig, action: ServiceAction, opts: ControlOptions & Partial<ApplyOptions> = {}): Promise<ApplyResult> {
    let scope = opts.scope;
    if (!scope && action !== "install" && probeOf(opts).os === "linux")
        scope = (await detectInstalledService(config, opts))?.scope;
    const plan = buildServicePlan(config, {...opts, action, scope});
    return applyServicePlan(plan, {approve: opts.approve ?? true, runner: opts.runner, logger: opts.logger});
}

export const installService = (config: ProviderConfig, opts: ControlOptions & ApplyOptions): Promise<ApplyResult> => runServiceAction(config, "install", opts);
export const uninstallService = (config: ProviderConfig, opts: ControlOptions & ApplyOptions): Promise<ApplyResult> => runServiceAction(config, "uninstall", opts);
export const startService = (config: ProviderConfig, opts: ControlOptions & Partial<ApplyOptions> = {}): Promise<ApplyResult> => runServiceAction(config, "start", opts);
export const stopService = (config: ProviderConfig, opts: ControlOptions & Partial<ApplyOptions> = {}): Promise<ApplyResult> => runServiceAction(config, "stop", opts);
export const restartService = (config: ProviderConfig, opts: ControlOptions & Partial<ApplyOptions> = {}): Promise<ApplyResult> => runServiceAction(config, "restart", opts);

/** Whether the component's service is installed and running, asking the service manager. */
export async function serviceStatus(config: ProviderConfig, opts: ControlOptions = {}): Promise<ServiceStatus> {
    const probe = probeOf(opts);
    const runner = opts.runner ?? execaRunner;
    const installed = await detectInstalledService(config, {...opts, probe});
    const target = serviceTarget(config, {...opts, probe});
    switch (probe.os) {
        case "linux": {
            const name = systemdUnitName(target);
            if (!installed) return {installed: false, running: false, manager: "systemd", serviceName: name, detail: "not installed"};
            const r = await runner("systemctl", [...(installed.scope === "user" ? ["--user"] : []), "is-active", name], {timeoutMs: 15_000});
            const state = r.stdout.trim() || r.stderr.trim();
            return {installed: true, running: state === "active", manager: "systemd", serviceName: name, scope: installed.scope, detail: state};
        }
        case "macos": {
            const label = launchdLabel(target);
            if (!installed) return {installed: false, running: false, manager: "launchd", serviceName: label, detail: "not installed"};
            const r = await runner("launchctl", ["print", `gui/${probe.uid ?? 501}/${label}`], {timeoutMs: 15_000});
            const state = /^\s*state = (.+)$/m.exec(r.stdout)?.[1]?.trim() ?? (r.exitCode === 0 ? "loaded" : "not loaded");
            return {installed: true, running: state === "running", manager: "launchd", serviceName: label, scope: "user", detail: state};
        }
        case "windows": {
            const name = windowsServiceName(target);
            if (!installed) return {installed: false, running: false, manager: "nssm", serviceName: name, detail: "not installed"};
            const sc = pathFor("windows").join(envGet(probe.env, "SystemRoot", "windows") ?? "C:\\Windows", "System32", "sc.exe");
            const r = await runner(sc, ["query", name], {timeoutMs: 15_000});
            const state = /STATE\s*:\s*\d+\s+(\w+)/.exec(r.stdout)?.[1] ?? "unknown";
            return {installed: true, running: state === "RUNNING", manager: "nssm", serviceName: name, scope: "system", detail: state};
        }
    }
}
