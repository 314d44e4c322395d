import path from "node:path";
import {currentLayout, nodeEntry, type Layout} from "../build-layout.js";
import {ENV, projectRoot as defaultProjectRoot, type ProviderConfig} from "../config/load.js";
import type {Logger} from "../log/logger.js";
import {detectInstalledService, restartService} from "../service/control.js";
import type {SystemProbe} from "../service/probe.js";
import type {CommandRunner} from "../service/runner.js";
import {STOP_MARGIN_SECONDS} from "../service/target.js";
import {healthBaseUrl} from "./health.js";
import type {ProviderCommand} from "./process.js";
import {WATCHDOG_FILES, type WatchdogMode, type WatchdogOptions} from "./watchdog.js";

/**
 * The direct-mode command: node running the provider's entry point itself, no npm or tsx wrapper in between, so
 * the watchdog's stop signal reaches the server. It comes from the tree the watchdog runs from: the build's
 * `node dist/cli/start.js` (the watchdog service, `zombiecoder watchdog`, `npm run watchdog`), or the source under
 * tsx when the watchdog itself runs from src/ (development, tests), so it never starts an older build.
 */
export function defaultProviderCommand(config: ProviderConfig, opts: {projectRoot?: string; env?: NodeJS.ProcessEnv; nodePath?: string; layout?: Layout} = {}): ProviderCommand {
    const root = opts.projectRoot ?? defaultProjectRoot;
    const entry = nodeEntry("cli/start", opts.layout ?? currentLayout, root);
    return {
        file: opts.nodePath ?? process.execPath,
        args: [...entry.execArgv, entry.script, "--home", config.home, "--config", config.configPath],
        cwd: root,
        env: {...(opts.env ?? process.env), [ENV.home]: config.home, [ENV.config]: config.configPath},
        stdoutLog: path.join(config.paths.logs, WATCHDOG_FILES.providerStdout),
        stderrLog: path.join(config.paths.logs, WATCHDOG_FILES.providerStderr)
    };
}

export interface WatchdogSetup {
    /** "auto" picks "service" when the provider is installed as a service. */
    mode?: "auto" | WatchdogMode;
    provider?: ProviderCommand;
    env?: NodeJS.ProcessEnv;
    logger?: Logger;
    runner?: CommandRunner;
    probe?: SystemProbe;
    /** Overrides on top of the values derived from the config (tests use short intervals). */
    overrides?: Partial<WatchdogOptions>;
}

/** Builds the watchdog's options from the provider config, resolving "auto" mode by looking for an installed service. */
export async function watchdogOptionsFromConfig(config: ProviderConfig, setup: WatchdogSetup = {}): Promise<WatchdogOptions> {
    const w = config.watchdog;
    let mode: WatchdogMode;
    const wanted = setup.mode ?? w.mode;
    if (wanted === "auto") {
        const installed = await detectInstalledService(config, {component: "provider", runner: setup.runner, probe: setup.probe});
        mode = installed ? "service" : "direct";
    } else mode = wanted;

    const base: WatchdogOptions = {
        baseUrl: healthBaseUrl(config.server_host, config.server_port),
        intervalMs: Math.round(w.interval_seconds * 1000),
        timeoutMs: w.timeout_ms,
        failuresBeforeRestart: w.failures_before_restart,
        maxRestarts: w.max_restarts,
        windowMs: Math.round(w.window_minutes * 60_000),
        backoffInitialMs: w.backoff_initial_ms,
        backoffMaxMs: Math.max(w.backoff_max_ms, w.backoff_initial_ms),
        startupTimeoutMs: Math.round(w.startup_timeout_seconds * 1000),
        stopTimeoutMs: (config.shutdown_grace_seconds + STOP_MARGIN_SECONDS) * 1000,
        logsDir: config.paths.logs,
        mode,
        logger: setup.logger,
        runner: setup.runner
    };
    if (mode === "direct") base.provider = setup.provider ?? defaultProviderCommand(config, {env: setup.env});
    else {
        base.restartService = async () => {
            const r = await restartService(config, {component: "provider", runner: setup.runner, logger: setup.logger, probe: setup.probe});
            if (r.status !== "done") throw new Error(r.message);
        };
    }
    return {...base, ...setup.overrides};
}
