/**
 * A port someone else already listens on: finding out before the server starts anything, naming who holds it
 * (another ZombieCoder provider, Ollama, some other HTTP server, or a program that does not speak HTTP), and
 * telling the user how to pick another port.
 */
import net from "node:net";

export type Listener =
    | {kind: "zombiecoder"; version?: string; uptimeSeconds?: number}
    | {kind: "ollama"}
    | {kind: "http"; status: number; server?: string}
    | {kind: "unknown"};

/**
 * Tries to bind `host:port` and lets it go at once. Resolves to the bind error (EADDRINUSE, EACCES, …) or null when
 * the port is free. A check, not a reservation: the real listen can still lose a race, and handles that itself.
 */
export function bindError(host: string, port: number): Promise<NodeJS.ErrnoException | null> {
    return new Promise((resolve) => {
        const probe = net.createServer();
        probe.unref();
        probe.once("error", (err: NodeJS.ErrnoException) => resolve(err));
        probe.listen({host, port, exclusive: true}, () => probe.close(() => resolve(null)));
    });
}

/** The address a client uses to reach a server bound to `host` (a wildcard address is reached over loopback). */
export function connectHost(host: string): string {
    if (host === "0.0.0.0" || host === "") return "127.0.0.1";
    if (host === "::" || host === "[::]") return "::1";
    return host;
}

function baseUrl(host: string, port: number): string {
    const h = connectHost(host);
    return `http://${h.includes(":") ? `[${h}]` : h}:${port}`;
}

async function get(url: string, timeoutMs: number): Promise<Response | null> {
    try {
        return await fetch(url, {signal: AbortSignal.timeout(timeoutMs), redirect: "manual"});
    } catch {
        return null;
    }
}

function isProviderHealth(body: unknown): body is {version?: unknown; uptime_seconds?: unknown} {
    if (typeof body !== "object" || body === null) return false;
    const b = body as Record<string, unknown>;
    // The provider's own /health shape; Ollama has no /health and other servers rarely carry both lists.
    return (b.status === "ok" || b.status === "degraded") && Array.isArray(b.models_loaded) && Array.isArray(b.reasons);
}

/** Asks whoever listens on `host:port` what it is: `/health` first (only the provider has it), then `/`. */
export async function identifyListener(host: string, port: number, timeoutMs = 1500): Promise<Listener> {
    const url = baseUrl(host, port);
    const health = await get(`${url}/health`, timeoutMs);
    if (health?.ok) {
        const body: unknown = await health.json().catch(() => null);
        if (isProviderHealth(body)) {
            return {
                kind: "zombiecoder",
                version: typeof body.version === "string" ? body.version : undefined,
                uptimeSeconds: typeof body.uptime_seconds === "number" ? body.uptime_seconds : undefined
            };
        }
    } else await health?.body?.cancel().catch(() => undefined);
    const root = health ? await get(`${url}/`, timeoutMs) : null;
    if (!root) return health ? {kind: "http", status: health.status, server: health.headers.get("server") ?? undefined} : {kind: "unknown"};
    const text = await root.text().catch(() => "");
    if (text.trim() === "Ollama is running") return {kind: "ollama"};
    return {kind: "http", status: root.status, server: root.headers.get("server") ?? undefined};
}

/** The first port after `port` that can be bound now, to suggest; null when none of the next few is free. */
export async function nextFreePort(host: string, port: number, tries = 20): Promise<number | null> {
    for (let p = port + 1; p <= Math.min(65535, port + tries); p++) if ((await bindError(host, p)) === null) return p;
    return null;
}

function describe(listener: Listener): string {
    switch (listener.kind) {
        case "zombiecoder": {
            const details = [listener.version ? `version ${listener.version}` : null, listener.uptimeSeconds != null ? `up ${formatUptime(listener.uptimeSeconds)}` : null]
                .filter(Boolean).join(", ");
            return `another ZombieCoder provider${details ? ` (${details})` : ""}`;
        }
        case "ollama":
            return "Ollama (it answers \"Ollama is running\" and has no /health, so it is not a ZombieCoder provider)";
        case "http":
            return `another HTTP server (GET / answered ${listener.status}${listener.server ? `, Server: ${listener.server}` : ""}), not a ZombieCoder provider`;
        case "unknown":
            return "a program that does not answer HTTP";
    }
}

function formatUptime(s: number): string {
    if (s < 120) return `${Math.round(s)} s`;
    if (s < 7200) return `${Math.round(s / 60)} min`;
    return `${(s / 3600).toFixed(1)} h`;
}

export interface BusyPortContext {
    host: string;
    port: number;
    listener: Listener;
    /** The config file that sets `server_port`. */
    configPath: string;
    /** The environment variable that overrides it for one run. */
    portEnv: string;
    /** A port that was free a moment ago, to suggest. */
    freePort: number | null;
}

/** What a second `npm start` prints when the port is taken: who holds it and how to choose another port. */
export function busyPortMessage(c: BusyPortContext): string {
    const where = `${connectHost(c.host).includes(":") ? `[${connectHost(c.host)}]` : connectHost(c.host)}:${c.port}`;
    const lines = [`error: cannot listen on ${c.host}:${c.port}: the port is already in use by ${describe(c.listener)}.`];
    if (c.listener.kind === "zombiecoder") lines.push(`The provider is already running at http://${where}; clients can use that one.`);
    else if (c.listener.kind === "ollama") lines.push("Stop Ollama (for example `systemctl stop ollama`, or quit its app) or give this provider another port.");
    else lines.push(process.platform === "win32"
        ? `To see which program it is: netstat -ano | findstr :${c.port}`
        : `To see which program it is: lsof -nP -iTCP:${c.port} -sTCP:LISTEN (or ss -ltnp 'sport = :${c.port}')`);
    const example = c.freePort ?? c.port + 1;
    lines.push(`To run this one on another port, set "server_port" in ${c.configPath}, or for one run: ${c.portEnv}=${example} npm start` +
        (c.freePort != null ? ` (${c.freePort} is free right now).` : "."));
    return lines.join("\n") + "\n";
}
