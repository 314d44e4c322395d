/**
 * `GET /ui/api/logs?level=warn&model=<name>`: the provider's log lines as server-sent `line` events (the recent ones
 * first, then each new one), at or above `level`, only those about `model` when given. The logger has already
 * redacted keys by field name; any configured secret that still appears in a line's text is replaced as well.
 */
import type {FastifyInstance} from "fastify";
import type {ProviderConfig} from "../../config/load.js";
import {logFeedOf, type Logger} from "../../log/logger.js";
import {badRequest} from "../../runtime/errors.js";
import type {EventStreams} from "./sse.js";

/** pino's numeric levels. */
const LEVELS = {trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60} as const;
type LevelName = keyof typeof LEVELS;

function isLevelName(v: string): v is LevelName {
    return Object.hasOwn(LEVELS, v);
}

/** Every secret the config holds, in the spellings a log line may carry it (as is, and escaped inside JSON). */
export function secretsOf(config: ProviderConfig): string[] {
    const raw = [config.apiKey, config.downloads.hf_token, ...config.upstreams.map((u) => u.api_key)]
        .filter((s): s is string => typeof s === "string" && s.length >= 4);
    return [...new Set(raw.flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]))].sort((a, b) => b.length - a.length);
}

export function redactSecrets(line: string, secrets: readonly string[]): string {
    let out = line;
    for (const s of secrets) if (out.includes(s)) out = out.split(s).join("[redacted]");
    return out;
}

export interface LogFilter {
    minLevel: number;
    model: string | null;
}

export function parseLogFilter(query: unknown): LogFilter {
    const q = (query ?? {}) as Record<string, unknown>;
    const level = typeof q.level === "string" && q.level !== "" ? q.level : "trace";
    if (!isLevelName(level)) throw badRequest(`level must be one of ${Object.keys(LEVELS).join(", ")}; got '${level}'`, "level");
    if (q.model !== undefined && typeof q.model !== "string") throw badRequest("model must be a model name", "model");
    return {minLevel: LEVELS[level], model: typeof q.model === "string" && q.model !== "" ? q.model : null};
}

/** A line passes when its level is high enough and, with a model filter, when it names that model. */
export function lineMatches(line: string, filter: LogFilter): boolean {
    let parsed: {level?: unknown; model?: unknown};
    try {
        parsed = JSON.parse(line) as {level?: unknown; model?: unknown};
    } catch {
        return false;
    }
    if (typeof parsed.level !== "number" || parsed.level < filter.minLevel) return false;
    return filter.model == null || parsed.model === filter.model;
}

export function registerLogsRoute(app: FastifyInstance, deps: {config: ProviderConfig; logger: Logger; streams: EventStreams}): void {
    const secrets = secretsOf(deps.config);
    app.get("/ui/api/logs", async (request, reply) => {
        const filter = parseLogFilter(request.query);
        const feed = logFeedOf(deps.logger);
        const stream = deps.streams.start(reply);
        if (!feed) {
            stream.send("unavailable", {reason: "this server writes no log lines (log_level is silent, or it runs without a log target)"});
            stream.end();
            return reply;
        }
        const send = (line: string) => {
            if (lineMatches(line, filter)) stream.send("line", redactSecrets(line, secrets));
        };
        for (const line of feed.recent()) send(line);
        stream.onEnd(feed.subscribe(send));
        return reply;
    });
}
