import {ENV, projectRoot as defaultProjectRoot, type ProviderConfig} from "../config/load.js";
import {pathFor, type SystemProbe} from "./probe.js";
import type {ServiceComponent, ServiceOS} from "./types.js";

/** What any service manager needs to know to run one component of the provider. */
export interface ServiceTarget {
    os: ServiceOS;
    component: ServiceComponent;
    /** The configured base name (`ZombieCoderAI`); each manager derives its own identifier from it. */
    baseName: string;
    displayName: string;
    description: string;
    nodePath: string;
    /** Arguments after the node executable. */
    args: string[];
    workingDirectory: string;
    env: Record<string, string>;
    logsDir: string;
    stdoutLog: string;
    stderrLog: string;
    /** How long the manager waits after asking for a stop before it kills: the server's grace plus a margin. */
    stopTimeoutSeconds: number;
}

export interface TargetOptions {
    component: ServiceComponent;
    /** The node executable the service runs; defaults to this process's own when the OS matches. */
    nodePath?: string;
    /** The package holding dist/cli; defaults to this one. */
    projectRoot?: string;
}

/** Margin over the server's own drain deadline, so the manager never kills a server that is still exiting cleanly. */
export const STOP_MARGIN_SECONDS = 5;

export function lowerSlug(name: string): string {
    const slug = name.toLowerCase().replace(/[^a-z0-9_.-]+/g, "-").replace(/^-+|-+$/g, "");
    return slug === "" ? "zombiecoder" : slug;
}

export function defaultNodePath(target: ServiceOS, probe: SystemProbe): string {
    const hostOs = probe.os;
    if (target === hostOs) return process.execPath;
    // A plan for a foreign OS is only built for display and tests; use the usual install locations.
    if (target === "windows") return "C:\\Program Files\\nodejs\\node.exe";
    if (target === "macos") return "/usr/local/bin/node";
    return "/usr/bin/node";
}

/** The compiled entry point a service runs for `component`, in the path style of `target`. */
export function serviceScript(root: string, component: ServiceComponent, target: ServiceOS): string {
    return pathFor(target).join(root, "dist", "cli", component === "provider" ? "start.js" : "watchdog.js");
}

export function buildTarget(config: ProviderConfig, target: ServiceOS, probe: SystemProbe, opts: TargetOptions): ServiceTarget {
    const p = pathFor(target);
    const root = opts.projectRoot ?? defaultProjectRoot;
    // Always the compiled build, even when this plan is made from the source: a service must not need tsx, and
    // node running the script itself is the process the service manager signals.
    const script = serviceScript(root, opts.component, target);
    const isWatchdog = opts.component === "watchdog";
    const logBase = isWatchdog ? "watchdog-service" : "provider-service";
    return {
        os: target,
        component: opts.component,
        baseName: config.service.name,
        displayName: isWatchdog ? "ZombieCoder Provider watchdog" : "ZombieCoder Provider",
        description: isWatchdog
            ? "Restarts the ZombieCoder Provider when its /health check fails"
            : "ZombieCoder Provider: local LLM server (Ollama, OpenAI and Anthropic APIs)",
        nodePath: opts.nodePath ?? defaultNodePath(target, probe),
        args: [script, "--home", config.home, "--config", config.configPath],
        // Nothing is resolved from the working directory; the package folder is where a user would look first.
        workingDirectory: root,
        env: {[ENV.home]: config.home, [ENV.config]: config.configPath},
        logsDir: config.paths.logs,
        stdoutLog: p.join(config.paths.logs, `${logBase}.out.log`),
        stderrLog: p.join(config.paths.logs, `${logBase}.err.log`),
        stopTimeoutSeconds: config.shutdown_grace_seconds + STOP_MARGIN_SECONDS
    };
}
