import http from "node:http";

export interface HealthResult {
    /** Alive: /health answered 2xx ("ok" or "degraded"), or /api/version did on a server without /health. */
    ok: boolean;
    /** The server's own status word ("ok", "degraded"), when it gave one. */
    status?: string;
    httpStatus?: number;
    reasons?: string[];
    error?: string;
    latencyMs: number;
}

interface RawResponse {
    status: number;
    body: string;
}

function get(url: URL, timeoutMs: number): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
        // A fresh connection each time: a pooled socket to a server that was just restarted would fail once for nothing.
        const req = http.get(url, {agent: false, headers: {accept: "application/json", connection: "close"}}, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => {
                if (body.length < 65_536) body += chunk;
            });
            let ended = false;
            res.on("end", () => {
                ended = true;
                resolve({status: res.statusCode ?? 0, body});
            });
            res.on("error", reject);
            // Headers sent but the body never finished (the timeout destroyed it): that is a failure too.
            res.on("close", () => {
                if (!ended) reject(new Error(`the answer was cut off or took longer than ${timeoutMs} ms`));
            });
        });
        const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        req.on("error", reject);
        req.on("close", () => clearTimeout(timer));
    });
}

/**
 * One health check over HTTP, bounded by `timeoutMs` for the whole exchange (a server whose
 * /health hangs is as dead as one that refuses the connection).
 */
export async function checkHealth(baseUrl: string, timeoutMs: number): Promise<HealthResult> {
    const started = Date.now();
    const elapsed = (): number => Date.now() - started;
    try {
        const res = await get(new URL("/health", baseUrl), timeoutMs);
        if (res.status === 404) {
            const v = await get(new URL("/api/version", baseUrl), Math.max(1, timeoutMs - elapsed()));
            return v.status >= 200 && v.status < 300
                ? {ok: true, httpStatus: v.status, latencyMs: elapsed()}
                : {ok: false, httpStatus: v.status, error: `/api/version answered HTTP ${v.status}`, latencyMs: elapsed()};
        }
        let parsed: {status?: unknown; reasons?: unknown} = {};
        try {
            parsed = JSON.parse(res.body) as typeof parsed;
        } catch {
            // A non-JSON 2xx still proves the server is alive.
        }
        const status = typeof parsed.status === "string" ? parsed.status : undefined;
        const reasons = Array.isArray(parsed.reasons) ? parsed.reasons.map(String) : undefined;
        if (res.status >= 200 && res.status < 300) return {ok: true, status, reasons, httpStatus: res.status, latencyMs: elapsed()};
        return {ok: false, status, reasons, httpStatus: res.status, error: `/health answered HTTP ${res.status}`, latencyMs: elapsed()};
    } catch (err) {
        const e = err as NodeJS.ErrnoException;
        return {ok: false, error: e.code ? `${e.code}: ${e.message}` : e.message, latencyMs: elapsed()};
    }
}

/** The URL the watchdog checks: a wildcard listen address is reached through loopback. */
export function healthBaseUrl(host: string, port: number): string {
    let h = host.trim();
    if (h === "0.0.0.0" || h === "") h = "127.0.0.1";
    else if (h === "::" || h === "[::]") h = "::1";
    if (h.includes(":") && !h.startsWith("[")) h = `[${h}]`;
    return `http://${h}:${port}`;
}
