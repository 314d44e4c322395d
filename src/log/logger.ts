import fs from "node:fs";
import {createRequire} from "node:module";
import path from "node:path";
import {pino, type Level, type Logger, type LevelWithSilent} from "pino";

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
 * The lines a logger wrote, as written (JSON, after redaction): the last `keep` of them for a viewer that arrives
 * late, and each new one for the viewers watching (the dashboard's log stream).
 */
export class LogFeed {
    private readonly lines: string[] = [];
    private readonly listeners = new Set<(line: string) => void>();

    constructor(readonly keep = 500) {}

    publish(line: string): void {
        this.lines.push(line);
        if (this.lines.length > this.keep) this.lines.splice(0, this.lines.length - this.keep);
        for (const listener of this.listeners) {
            try {
                listener(line);
            } catch {
                // a viewer's bug must not break logging
            }
        }
    }

    recent(): string[] {
        return [...this.lines];
    }

    subscribe(listener: (line: string) => void): () => void {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
    }
}

const FEED = Symbol("zombiecoder.logFeed");

/** The feed of a logger made by `createLogger` (children share their parent's); null for one that writes nothing. */
export function logFeedOf(logger: Logger): LogFeed | null {
    return (logger as unknown as Record<symbol, LogFeed | undefined>)[FEED] ?? null;
}

/** pino-pretty is CommonJS and needed only where a person watches a terminal, so it is loaded then, not at start. */
const requireOptional = createRequire(import.meta.url);

/**
 * Where the lines go, written from this thread: pino's transports would start a worker thread (about 12 MB RSS
 * each) for what is only appending lines to a file and to stdout. SonicBoom writes asynchronously and pino flushes
 * it synchronously on exit, so nothing buffered is lost when the process exits.
 */
function destinations(opts: LoggerOptions, loggerLevel: LevelWithSilent): pino.StreamEntry[] {
    // a silent logger writes nothing whatever its streams accept; a stream level cannot be "silent"
    const level: Level = loggerLevel === "silent" ? "fatal" : loggerLevel;
    const streams: pino.StreamEntry[] = [];
    if (opts.logsDir) {
        fs.mkdirSync(opts.logsDir, {recursive: true});
        const file = path.join(opts.logsDir, `${opts.name ?? "provider"}.log`);
        // opened here, synchronously: a stream still opening when the process exits cannot be flushed (SonicBoom throws)
        streams.push({level, stream: pino.destination({dest: fs.openSync(file, "a"), sync: false})});
    }
    if (!opts.quiet) {
        const pretty = opts.pretty ?? Boolean(process.stdout.isTTY);
        if (pretty) {
            const build = requireOptional("pino-pretty") as (o: Record<string, unknown>) => NodeJS.WritableStream;
            streams.push({level, stream: build({colorize: true, translateTime: "SYS:HH:MM:ss", ignore: "pid,hostname", destination: 1, sync: false})});
        } else streams.push({level, stream: pino.destination({dest: 1, sync: false})});
    }
    return streams;
}

/**
 * One logger factory for the whole provider: JSON lines to `logs/<name>.log`, and readable lines on a terminal.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
    const level = opts.level ?? "info";
    const base = {redact: {paths: REDACT_PATHS, censor: "[redacted]"}, level, name: opts.name};
    const streams = destinations(opts, level);
    if (streams.length === 0) return pino({...base, level: "silent"});
    const feed = new LogFeed();
    // the hook sees each line after serialization, so redaction has already happened
    const logger = pino({...base, hooks: {streamWrite: (line: string) => {
        feed.publish(line.endsWith("\n") ? line.slice(0, -1) : line);
        return line;
    }}}, pino.multistream(streams));
    // pino's child loggers are prototype children of their parent, so they find the same feed
    Object.defineProperty(logger, FEED, {value: feed});
    return logger;
}

/** A logger that discards everything: the default for library code called without one. */
export const silentLogger: Logger = pino({level: "silent"});
