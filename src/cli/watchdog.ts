/** `npm run watchdog -- [options]`: keeps the provider alive (see the usage text for modes and exit codes). */
import type {ProviderConfig} from "../config/load.js";
import type {Logger} from "../log/logger.js";
import type {RestartRecord, WatchdogMode} from "../watchdog/watchdog.js";
import {CONFIG_OPTIONS, CONFIG_USAGE, formatUsageError, parseCli, UsageError} from "./args.js";
import {runIfEntryPoint} from "./common.js";

const USAGE = `usage: npm run watchdog -- [options]
Keeps the provider alive: restarts it through the installed service, or starts and adopts it itself.
  --mode M         auto (default: service when one is installed), direct (start and adopt the provider) or service
  --leave-running  on Ctrl+C, leave a provider started in direct mode running (a new watchdog adopts it)
${CONFIG_USAGE}
Exit codes: 0 stopped by a signal, 2 bad arguments or configuration, 3 another watchdog is running.`;

const SPEC = {
    usage: USAGE,
    options: {...CONFIG_OPTIONS, mode: {type: "string"}, "leave-running": {type: "boolean"}}
} as const;

interface Args {
    mode?: "auto" | WatchdogMode;
    leaveRunning: boolean;
    home?: string;
    configPath?: string;
}

/** The parsed command line, or null after `--help`. */
function parseWatchdogArgs(argv: string[]): Args | null {
    const args = parseCli(SPEC, argv);
    if (args.help) return null;
    const mode = args.values.mode;
    if (mode !== undefined && mode !== "auto" && mode !== "direct" && mode !== "service")
        throw new UsageError(`--mode: expected auto, direct or service, got ${JSON.stringify(mode)}`, USAGE);
    return {mode, leaveRunning: args.values["leave-running"] === true, home: args.values.home, configPath: args.values.config};
}

export async function main(argv: string[]): Promise<number> {
    let args: Args | null;
    try {
        args = parseWatchdogArgs(argv);
    } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        process.stderr.write(formatUsageError(e));
        return 2;
    }
    if (!args) {
        process.stdout.write(`${USAGE}\n`);
        return 0;
    }
    // Loaded only once the arguments are known good, so that --help and usage errors answer at once.
    const {ConfigError, loadConfig} = await import("../config/load.js");
    const {createLogger} = await import("../log/logger.js");
    const {LockHeldError} = await import("../watchdog/lock.js");
    const {watchdogOptionsFromConfig} = await import("../watchdog/options.js");
    const {Watchdog} = await import("../watchdog/watchdog.js");
    let config: ProviderConfig;
    try {
        config = loadConfig({home: args.home, configPath: args.configPath});
    } catch (e) {
        process.stderr.write(`${e instanceof ConfigError ? e.message : String(e)}\n`);
        return 2;
    }
    const logger: Logger = createLogger({level: config.log_level, name: "watchdog"});
    const options = await watchdogOptionsFromConfig(config, {mode: args.mode, logger});
    const wd = new Watchdog(options);
    wd.on("restart", (r: RestartRecord) => process.stderr.write(`watchdog: restarted the provider (${r.reason})\n`));
    wd.on("gave_up", (r: RestartRecord) => process.stderr.write(`\n*** WATCHDOG GAVE UP ***\n${r.reason}\nState: ${wd.files.state}\n\n`));
    try {
        await wd.start();
    } catch (e) {
        if (e instanceof LockHeldError) {
            process.stderr.write(`watchdog: ${e.message}\n`);
            return 3;
        }
        throw e;
    }
    process.stderr.write(`watchdog: watching ${options.baseUrl} (${options.mode} mode); restart log ${wd.files.log}\n`);

    return await new Promise<number>((resolve) => {
        let stopping = false;
        const onSignal = (sig: string): void => {
            if (stopping) return;
            stopping = true;
            process.stderr.write(`watchdog: ${sig}, stopping${options.mode === "direct" && !args.leaveRunning ? " the provider too" : ""}\n`);
            wd.stop({stopProvider: !args.leaveRunning}).then(() => resolve(0), (err: unknown) => {
                process.stderr.write(`watchdog: error while stopping: ${String(err)}\n`);
                resolve(1);
            });
        };
        // SIGBREAK is Ctrl+Break on Windows; SIGTERM is what systemd and launchd send.
        for (const sig of ["SIGINT", "SIGTERM", "SIGBREAK"] as const) process.on(sig, () => onSignal(sig));
    });
}

runIfEntryPoint(import.meta.url, main);
