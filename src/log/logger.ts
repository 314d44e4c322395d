import fs from "node:fs";
import path from "node:path";
import {pino, type Logger, type LevelWithSilent} from "pino";

export type {Logger};

/** Keys whose values never reach a log line (API keys, tokens, auth headers). */
export const REDACT_PATHS = [
    "apiKey", "api_key", "token", "hf_token", "authorization", "password",
    "*.apiKey", "*.api_key", "*.token", "*.hf_token", "*.authorization", "*.password",
    "req.headers.authorization", "req.headers[\"x-api-key\"]", "headers.authorization", "headers[\"x-api-key\"]",
    "auth.api_key", "config.auth.api_key"
];

export interface LoggerOptions {
    level?: LevelWithSilent;
    /** Folder for the JSON-lines file (`<name>.log`); omitted → no file. */
    logsDir?: string;
    name?: string;
    /** Pretty output on stdout; defaults to "when stdout is a terminal". */
    pretty?: boolean;
    /** Write nothing to stdout (tests, child processes that talk over IPC). */
    quiet?: boolean;
}

/**
 * One logger factory for the whole provider: JSON lines to `logs/<name>.log`, and readable lines on a terminal.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
    const level = opts.level ?? "info";
    const targets: pino.TransportTargetOptions[] = [];
    if (opts.logsDir) {
        fs.mkdirSync(opts.logsDir, {recursive: true});
        targets.push({target: "pino/file", level, options: {destination: path.join(opts.logsDir, `${opts.name ?? "provider"}.log`), mkdir: true}});
    }
    if (!opts.quiet) {
        const pretty = opts.pretty ?? Boolean(process.stdout.isTTY);
        targets.push(pretty
            ? {target: "pino-pretty", level, options: {colorize: true, translateTime: "SYS:HH:MM:ss", ignore: "pid,hostname"}}
            : {target: "pino/file", level, options: {destination: 1}});
    }
    const base = {redact: {paths: REDACT_PATHS, censor: "[redacted]"}, level, name: opts.name};
    if (targets.length === 0) return pino({...base, level: "silent"});
    return pino(base, pino.transport({targets}));
}

/** A logger that discards everything: the default for library code called without one. */
export const silentLogger: Logger = pino({level: "silent"});
