/**
 * `npm run watchdog -- [--mode auto|direct|service] [--leave-running] [--home DIR] [--config FILE]`
 *
 * Keeps the provider alive: restarts it through the installed service, or starts and adopts it itself.
 * Exit codes: 0 stopped by a signal, 2 bad arguments or config, 3 another watchdog is running.
 */
import {ConfigError, loadConfig, parseCommonArgs, type ProviderConfig} from "../config/load.js";
import {createLogger, type Logger} from "../log/logger.js";
import {LockHeldError} from "../watchdog/lock.js";
import {watchdogOptionsFromConfig} from "../watchdog/options.js";
import {Watchdog, type RestartRecord, type WatchdogMode} from "../watchdog/watchdog.js";
import {isEntryPoint} from "./common.js";

const USAGE = `usage: npm run watchdog -- [options]
  --mode M         auto (default: service when one is installed), direct (start and adopt the provider) or service
  --leave-running  on Ctrl+C, leave a provider started in direct mode running (a new watchdog adopts it)
  --home DIR       provider home (default: this checkout)
  --config FILE    configuration file (default: <home>/config/provider_config.json)`;

interface Args {
    mode?: "auto" | WatchdogMode;
    leaveRunning: boolean;
    home?: string;
    configPath?: string;
}

function parseArgs(argv: string[]): Args {
    const common = parseCommonArgs(argv);
    const out: Args = {leaveRunning: false, home: common.home, configPath: common.configPath};
    for (let i = 0; i < common.rest.length; i++) {
        const a = common.rest[i]!;
        if (a === "--leave-running") out.leaveRunning = true;
        else if (a === "--mode" || a.startsWith("--mode=")) {
            const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : common.rest[++i];
            if (v !== "auto" && v !== "direct" && v !== "service") throw new ConfigError(`--mode: expected auto, direct or service, got ${JSON.stringify(v ?? "")}`);
            out.mode = v;
        } else throw new ConfigError(`unknown argument ${JSON.stringify(a)}\n${USAGE}`);
    }
    return out;
}

export async function main(argv: string[]): Promise<number> {
    if (argv.includes("--help") || argv.includes("-h")) {
        process.stdout.write(`${USAGE}\n`);
        return 0;
    }
    let args: Args;
    let config: ProviderConfig;
    try {
        args = parseArgs(argv);
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


if (isEntryPoint(import.meta.url)) {
    main(process.argv.slice(2)).then((code) => {
        process.exit(code);
    }, (e: unknown) => {
        process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
        process.exit(1);
    });
}
