/** The provider checks' results: one record per check, kept in logs/test_results_<timestamp>.json and the report. */

export type CheckGroup = "routes" | "auth" | "model" | "fim" | "upstream";

export interface CheckResult {
    /** Stable id: `route:GET /api/tags`, `auth:no-key`, `model:<name>:chat`, `fim`, `upstream:<id>:chat`. */
    id: string;
    group: CheckGroup;
    /** What was checked, in words. */
    title: string;
    ok: boolean;
    /** Not run, for the reason in `detail` (no model supports it, nothing configured, ...): neither passed nor failed. */
    skipped: boolean;
    status: number | null;
    ms: number | null;
    detail: string;
    model: string | null;
    /** Generation speed from the answer's own counts: eval_count / eval_duration, prompt_eval_count / prompt_eval_duration. */
    tokens_per_second: number | null;
    prompt_tokens_per_second: number | null;
    load_ms: number | null;
}

export interface CheckSummary {
    total: number;
    passed: number;
    failed: number;
    skipped: number;
}

export function summarizeChecks(results: readonly CheckResult[]): CheckSummary {
    const failed = results.filter((r) => !r.ok && !r.skipped).length;
    const skipped = results.filter((r) => r.skipped).length;
    return {total: results.length, passed: results.length - failed - skipped, failed, skipped};
}

/** One line per check, as the step's findings and the results file's output show them. */
export function checkLine(r: CheckResult): string {
    const mark = r.skipped ? "skip" : r.ok ? "ok  " : "FAIL";
    const status = r.status != null ? ` ${r.status}` : "";
    const ms = r.ms != null ? ` ${r.ms} ms` : "";
    return `${mark} ${r.title}${status}${ms}: ${r.detail}`;
}

export function obj(v: unknown): Record<string, unknown> {
    return v != null && typeof v === "object" && !Array.isArray(v) ? v as Record<string, unknown> : {};
}

export function errorText(body: unknown): string {
    const o = obj(body);
    const e = o.error;
    if (typeof e === "string") return e;
    if (typeof obj(e).message === "string") return String(obj(e).message);
    return typeof body === "string" ? body.slice(0, 200) : JSON.stringify(body).slice(0, 200);
}
