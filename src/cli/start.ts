/**
 * `zombiecoder serve` / `npm start`: the provider in the foreground, stopped cleanly by Ctrl+C or a service stop.
 * The services run this module's build (`node dist/cli/start.js`) directly, so their stop signal arrives here.
 */
import v8 from "node:v8";
import {CONFIG_OPTIONS, CONFIG_USAGE, parseCliOrExit} from "./args.js";
import {bindError, busyPortMessage, identifyListener, nextFreePort} from "./busy-port.js";
import {isEntryPoint, loadConfigForCli, runIfEntryPoint} from "./common.js";

/**
 * Start-up code runs once, yet its loops (the stale-build check's walk of a checkout's src/, the registry scan,
 * Fastify's route tables and the regular expressions of its semver) get hot enough for TurboFan, whose compiler
 * code pages and zones then stay in RSS: 3-6 MB of the idle server, measured.
 * So the optimizing tier is off from this module's start (when it is the program; `zombiecoder serve` turns it
 * off in main) until the server listens, and the request path then tiers up as usual: V8 reads the flag at each
 * tier-up decision, and code that ran meanwhile keeps its feedback.
 */
function optimizingTier(on: boolean): void {
    v8.setFlagsFromString(on ? "--turbofan" : "--no-turbofan");
}
if (isEntryPoint(import.meta.url)) optimizingTier(false);

export const usage = (prog = "npm start --"): string => `usage: ${prog} [options]
Runs the provider in the foreground until Ctrl+C (or a service stop).
${CONFIG_USAGE}
The address comes from "server_host" and "server_port" in the configuration file; ZOMBIECODER_HOST and
ZOMBIECODER_PORT override them for one run. Exit codes: 0 stopped cleanly, 1 could not start (for example the
port is in use), 2 bad arguments or configuration.`;

/** Starts the provider; resolves once it listens, and the process then runs until a signal stops it. */
export async function main(argv: string[], prog?: string): Promise<void> {
    // The server relays small events (models run in their runners), so V8's initial 1 MB semi-spaces serve it; by
    // default V8 grows them to 16 MB on the start-up's garbage and keeps them: ~12 MB of RSS for nothing
    // (documentation/performance.md, "Shipped build"). A heap-growth setting, read at each growth decision.
    v8.setFlagsFromString("--semi-space-growth-factor=1");
    optimizingTier(false);
    const {values} = parseCliOrExit({usage: usage(prog), options: CONFIG_OPTIONS}, argv);
    const config = await loadConfigForCli(values);
    const {ENV} = await import("../config/load.js");

    /** Says who holds the port and how to pick another, then exits 1. */
    async function exitPortInUse(): Promise<never> {
        const [listener, freePort] = await Promise.all([
            identifyListener(config.server_host, config.server_port),
            nextFreePort(config.server_host, config.server_port)
        ]);
        process.stderr.write(busyPortMessage({host: config.server_host, port: config.server_port, listener, configPath: config.configPath, portEnv: ENV.port, freePort}));
        process.exit(1);
    }

    /** A clear sentence for a listen error a user can fix (privileged port, address not on this machine), else null. */
    function listenProblem(code: string | undefined): string | null {
        const at = `${config.server_host}:${config.server_port}`;
        if (code === "EACCES") return `not allowed to listen on ${at}: ports below 1024 need privileges; choose another with "server_port" in ${config.configPath} or ${ENV.port}`;
        if (code === "EADDRNOTAVAIL") return `cannot listen on ${at}: ${config.server_host} is not an address of this machine; fix "server_host" in ${config.configPath} or ${ENV.host}`;
        return null;
    }

    // Checked before anything starts: a second instance must not load models or resume the first one's downloads
    // only to find it cannot listen.
    if (config.server_port !== 0) {
        const code = (await bindError(config.server_host, config.server_port))?.code;
        if (code === "EADDRINUSE") await exitPortInUse();
        const problem = listenProblem(code);
        if (problem) {
            process.stderr.write(`error: ${problem}\n`);
            process.exit(1);
        }
    }

    const {createLogger} = await import("../log/logger.js");
    const {startServer} = await import("../server/serve.js");
    const logger = createLogger({level: config.log_level, logsDir: config.paths.logs, name: "provider"});

    let server: Awaited<ReturnType<typeof startServer>>;
    try {
        server = await startServer(config, {logger, testHooks: process.env.ZOMBIECODER_TEST_HOOKS === "1"});
        optimizingTier(true);
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        logger.fatal({err: (err as Error).message, code}, "could not start");
        // Lost the race with another server between the check above and the listen.
        if (code === "EADDRINUSE") await exitPortInUse();
        process.stderr.write(`error: ${listenProblem(code) ?? (err as Error).message}\n`);
        // give the log transport a moment to flush
        setTimeout(() => process.exit(1), 200);
        return new Promise<never>(() => undefined);
    }
    process.stdout.write(`ZombieCoder Provider listening on ${server.url}\n`);

    let signals = 0;
    const shutdown = (signal: string) => {
        signals++;
        if (signals > 1) {
            logger.warn({signal}, "second signal: exiting now");
            process.exit(130);
        }
        logger.info({signal, grace_s: config.shutdown_grace_seconds}, "shutting down: draining requests");
        void server.close().then(() => {
            logger.info("stopped cleanly");
            setTimeout(() => process.exit(0), 100);
        });
    };
    // SIGINT: Ctrl+C and NSSM's stop; SIGTERM: systemd/launchd; SIGBREAK and SIGHUP: Windows console close.
    for (const sig of ["SIGINT", "SIGTERM", "SIGBREAK", "SIGHUP"] as const) {
        try {
            process.on(sig, () => shutdown(sig));
        } catch {
            // not every signal exists on every OS
        }
    }
}

runIfEntryPoint(import.meta.url, main);
