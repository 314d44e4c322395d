/**
 * The final state's launch: the provider through its service when the service step installed one (then waiting for
 * its /health), otherwise in this process.
 */
import type {Logger} from "../log/logger.js";
import {startService} from "../service/index.js";
import {checkHealth} from "../watchdog/health.js";
import type {ForegroundProvider} from "./foreground.js";
import {providerBaseUrl} from "./provider-url.js";
import type {LaunchRecord, SetupContext} from "./records.js";
import type {ServiceData} from "./steps/install-service.js";
import type {CheckServerPool} from "./steps/provider-check.js";
import {loadSetupConfig, type ConfigSource} from "./steps/setup-config.js";

export interface LaunchDeps {
    configSource: ConfigSource;
    logger: Logger;
    /** The logger of a provider started in this process (its own log file, as `npm start` has); default `logger`. */
    providerLogger?: () => Logger;
    /** Where a provider started in this process is kept; without one, only a service can be launched. */
    foreground?: ForegroundProvider;
    /** The run's check servers: closed before the launch, so their runners give the memory back to the real provider. */
    checkServers?: CheckServerPool;
}

const HEALTH_CHECK_TIMEOUT_MS = 2000;
const HEALTH_POLL_INTERVAL_MS = 500;

/** Polls `${url}/health` until it answers 2xx or `timeoutMs` has passed; resolves with whether it did. */
export async function waitForHealth(url: string, timeoutMs: number, opts: {intervalMs?: number; checkTimeoutMs?: number} = {}): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        const h = await checkHealth(url, Math.max(1, Math.min(opts.checkTimeoutMs ?? HEALTH_CHECK_TIMEOUT_MS, deadline - Date.now())));
        if (h.ok) return true;
        await new Promise((r) => setTimeout(r, opts.intervalMs ?? HEALTH_POLL_INTERVAL_MS));
    }
    return false;
}

export async function launchProvider(deps: LaunchDeps, ctx: SetupContext): Promise<LaunchRecord> {
    await deps.checkServers?.close();
    const config = loadSetupConfig(deps.configSource).config;
    const url = providerBaseUrl(config.server_host, config.server_port);
    const service = ctx.steps.service.data as ServiceData | null;
    // `installed` also holds when the step failed later on (the watchdog), and a second provider would find the port taken.
    if (service?.installed) {
        const r = await startService(config, {approve: true, logger: deps.logger});
        if (r.status !== "done") throw new Error(`could not start the installed service: ${r.message}`);
        const timeoutS = config.watchdog.startup_timeout_seconds;
        if (await waitForHealth(url, timeoutS * 1000)) return {mode: "service", url, detail: `service ${service.service_name} is running and healthy`};
        throw new Error(`the service ${service.service_name} started but ${url}/health did not answer within ${timeoutS} s`);
    }
    if (!deps.foreground) throw new Error("no service is installed, and this run has nowhere to keep a provider started in this process");
    const server = await deps.foreground.start(config, deps.providerLogger?.() ?? deps.logger);
    return {mode: "foreground", url: server.url, detail: "running in this terminal; Ctrl+C stops it"};
}
