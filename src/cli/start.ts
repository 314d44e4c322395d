/** `npm start -- [--home DIR] [--config FILE]`: the provider in the foreground, stopped cleanly by Ctrl+C or a service stop. */
import {createLogger} from "../log/logger.js";
import {startServer} from "../server/serve.js";
import {loadConfigForCli} from "./common.js";

const {config} = loadConfigForCli();
const logger = createLogger({level: config.log_level, logsDir: config.paths.logs, name: "provider"});

let server: Awaited<ReturnType<typeof startServer>>;
try {
    server = await startServer(config, {logger, testHooks: process.env.ZOMBIECODER_TEST_HOOKS === "1"});
} catch (err) {
    logger.fatal({err: (err as Error).message}, "could not start");
    process.stderr.write(`error: ${(err as Error).message}\n`);
    // give the log transport a moment to flush
    setTimeout(() => process.exit(1), 200);
    await new Promise(() => undefined);
}
process.stdout.write(`ZombieCoder Provider listening on ${server!.url}\n`);

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
