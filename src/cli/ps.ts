/** `zombiecoder ps`: the loaded models, their memory and when they unload (`GET /runtime/status`). */
import {CONFIG_OPTIONS, CONFIG_USAGE, parseCliOrExit} from "./args.js";
import {withClient} from "./client-command.js";
import {formatBytes, renderTable} from "./common.js";

export const usage = (prog = "zombiecoder ps"): string => `usage: ${prog} [options]
Lists the models the running provider has loaded: memory, context, requests in flight and when each unloads.
  --json           print the provider's answer as JSON
${CONFIG_USAGE}`;

export interface ModelStatus {
    name: string;
    state: string;
    runner_pid: number | null;
    pinned: boolean;
    in_flight: number;
    queued: number;
    context_size: number;
    estimate_bytes: number;
    measured_rss_bytes: number;
    expires_at: string | null;
}

export interface RuntimeStatus {
    models: ModelStatus[];
    memory: {server_rss_bytes: number; [key: string]: unknown};
}

/** "forever", "in 4 minutes", "now": when a loaded model would be unloaded, seen from `now`. */
export function untilText(expiresAt: string | null, now: number = Date.now()): string {
    if (expiresAt === null) return "-";
    if (expiresAt === "forever") return "forever";
    const s = Math.round((Date.parse(expiresAt) - now) / 1000);
    if (!Number.isFinite(s)) return expiresAt;
    if (s <= 0) return "now";
    if (s < 90) return `in ${s} seconds`;
    if (s < 90 * 60) return `in ${Math.round(s / 60)} minutes`;
    if (s < 36 * 3600) return `in ${Math.round(s / 3600)} hours`;
    return `in ${Math.round(s / 86400)} days`;
}

const NOT_RESIDENT = new Set(["unloaded", "invalid", "failed"]);

export function residentRows(models: ModelStatus[], now: number = Date.now()): string[][] {
    return models.filter((m) => !NOT_RESIDENT.has(m.state)).map((m) => [
        m.name,
        m.state + (m.pinned ? ", pinned" : ""),
        // measured once the runner reports; the estimate until then
        m.measured_rss_bytes > 0 ? formatBytes(m.measured_rss_bytes) : `~${formatBytes(m.estimate_bytes)}`,
        m.context_size > 0 ? String(m.context_size) : "-",
        `${m.in_flight}${m.queued > 0 ? ` (+${m.queued} queued)` : ""}`,
        m.runner_pid == null ? "-" : String(m.runner_pid),
        untilText(m.expires_at, now)
    ]);
}

export async function main(argv: string[], prog?: string): Promise<number> {
    const {values} = parseCliOrExit({usage: usage(prog), options: {...CONFIG_OPTIONS, json: {type: "boolean"}}}, argv);
    return withClient(values, async (client) => {
        const status = await client.json<RuntimeStatus>("GET", "/runtime/status");
        if (values.json === true) {
            process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
            return 0;
        }
        const rows = residentRows(status.models);
        process.stdout.write(rows.length === 0 ? "(no model is loaded)\n" : `${renderTable(["NAME", "STATE", "MEMORY", "CONTEXT", "IN USE", "PID", "UNTIL"], rows)}\n`);
        process.stdout.write(`\nserver process: ${formatBytes(status.memory.server_rss_bytes)} resident\n`);
        return 0;
    });
}
