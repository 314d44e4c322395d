/**
 * The run's reports: logs/provider_setup_report.json (validated against schemas/provider_setup_report.schema.json)
 * and MODEL_MIGRATION_SUMMARY.md in the home. The summary is committed to git, so it never contains the API key,
 * only where it is.
 */
import fs from "node:fs";
import path from "node:path";
import {formatSize} from "./format.js";
import type {ApprovalRecord, CommitRecord, ErrorRecord, LaunchRecord, RunOptionsRecord, SetupContext, StepRecord, TimelineEvent} from "./records.js";
import {validateReport} from "./schemas.js";
import type {StepId} from "./step-ids.js";
import {editorSnippets} from "./steps/editor-snippets.js";
import type {EndpointResult, EndpointsData} from "./steps/endpoints.js";
import type {ServiceData} from "./steps/install-service.js";
import type {LazyLoadData} from "./steps/lazy-load.js";
import type {ModelRow, ModelsData} from "./steps/models.js";
import type {SafetyData} from "./steps/safety.js";
import type {EditorOutcomeRow} from "./steps/editors.js";
import type {TestsData} from "./steps/test-results.js";
import type {ConfigData} from "./steps/write-config.js";
import {commandHint} from "../command-hint.js";

export const REPORT_FILE_NAME = "provider_setup_report.json";
export const SUMMARY_FILE_NAME = "MODEL_MIGRATION_SUMMARY.md";

export interface SetupReport {
    version: 1;
    run_id: string;
    status: SetupContext["status"];
    started_at: string;
    finished_at: string | null;
    duration_ms: number | null;
    home: string;
    config_file: string;
    branch: string | null;
    options: RunOptionsRecord;
    steps: Array<StepRecord & {failure_action: {action: string; source: string} | null}>;
    commits: CommitRecord[];
    approvals: ApprovalRecord[];
    errors: ErrorRecord[];
    timeline: TimelineEvent[];
    models: {index_file: string | null; total: number; valid: number; invalid: number; by_source: Record<string, number>; entries: ModelRow[]};
    duplicates: SafetyData["duplicates"];
    deleted: SafetyData["deleted"];
    kept: SafetyData["kept"];
    safe_to_delete: Array<{path: string; reason: string; size_bytes: number; approval_id: string; answer: string | null; deleted: boolean}>;
    endpoints: EndpointResult[];
    lazy_load: LazyLoadData | null;
    service: {installed: boolean; watchdog_installed: boolean; state: string; manager: string | null; name: string | null};
    api_key: {location: string | null; source: string; generated: boolean};
    tests: {results_file: string | null; passed: boolean | null; summary: TestsData["summary"]};
    launch: LaunchRecord | null;
    next_steps: string[];
}

function dataOf<T>(ctx: SetupContext, id: StepId): T | null {
    return (ctx.steps[id]?.data ?? null) as T | null;
}

function rel(home: string, p: string | null): string | null {
    if (p == null) return null;
    const r = path.relative(home, p);
    return r.startsWith("..") || path.isAbsolute(r) ? p : r.split(path.sep).join("/");
}

/** The report as data, from the machine's context (and, from the reports step, the index rescanned after deletions). */
export function buildSetupReport(ctx: SetupContext, opts: {configFile: string; models?: ModelsData | null; now?: Date}): SetupReport {
    const now = opts.now ?? new Date();
    const models = opts.models ?? dataOf<ModelsData>(ctx, "models");
    const safety = dataOf<SafetyData>(ctx, "safety");
    const service = dataOf<ServiceData>(ctx, "service");
    const config = dataOf<ConfigData>(ctx, "config");
    const tests = dataOf<TestsData>(ctx, "tests");
    const endpoints = dataOf<EndpointsData>(ctx, "endpoints");
    const repo = dataOf<{branch?: string}>(ctx, "repo");
    const finished = ctx.finishedAt ?? (ctx.status === "running" ? null : now.toISOString());
    const steps = ctx.order.map((id) => {
        const fa = [...ctx.failureActions].reverse().find((f) => f.step === id);
        return {...ctx.steps[id], failure_action: fa ? {action: fa.action, source: fa.source} : null};
    });
    const serviceState = service?.installed ? `installed (${service.manager} "${service.service_name}")${service.watchdog_installed ? `, watchdog "${service.watchdog_name}" installed` : ", no watchdog service"}`
        : ctx.steps.service.status === "denied" ? "not installed: service:install denied"
            : ctx.steps.service.status === "skipped" ? `not installed: ${ctx.steps.service.reason ?? "skipped"}`
                : ctx.steps.service.status === "failed" ? `install failed: ${ctx.steps.service.errors.at(-1) ?? "see errors"}` : "not installed";
    const next: string[] = [];
    for (const s of steps) {
        if (s.status === "failed") next.push(`Step "${s.title}" failed: fix it and run npm run setup again (completed steps are fast to re-check).`);
    }
    if (ctx.steps.config.status === "denied") next.push("The provider still uses the published placeholder key: approve config:overwrite, or set auth.api_key_file yourself.");
    if (safety && safety.kept.length > 0) next.push(`${safety.kept.length} safe-to-delete candidate(s) were kept; review them with npm run audit, or answer delete:<path> in a later setup run.`);
    if (!(service?.installed)) next.push(`Start the provider with npm start, or install the service with ${commandHint("service", "install")}.`);
    const wired = (dataOf<{editors?: EditorOutcomeRow[]}>(ctx, "editors")?.editors ?? []).filter((e) => e.result === "written");
    if (wired.length > 0) next.push(`${wired.map((e) => e.title).join(", ")} now use the provider; ${commandHint("setup", "--restore-editors")} puts their previous settings back.`);
    else next.push("Point your editor at the provider with the snippets in MODEL_MIGRATION_SUMMARY.md.");
    return {
        version: 1,
        run_id: ctx.runId,
        status: ctx.status,
        started_at: ctx.startedAt,
        finished_at: finished,
        duration_ms: finished ? Date.parse(finished) - Date.parse(ctx.startedAt) : null,
        home: ctx.home,
        config_file: opts.configFile,
        branch: repo?.branch ?? null,
        options: ctx.options,
        steps,
        commits: ctx.commits,
        approvals: ctx.approvals,
        errors: ctx.errors,
        timeline: ctx.timeline,
        models: {
            index_file: models?.index_file ?? null, total: models?.total ?? 0, valid: models?.valid ?? 0, invalid: models?.invalid ?? 0,
            by_source: models?.by_source ?? {}, entries: models?.models ?? []
        },
        duplicates: safety?.duplicates ?? [],
        deleted: safety?.deleted ?? [],
        kept: safety?.kept ?? [],
        safe_to_delete: (safety?.candidates ?? []).map((c) => ({path: c.path, reason: c.reason, size_bytes: c.size_bytes, approval_id: c.approval_id, answer: c.answer, deleted: c.deleted})),
        endpoints: endpoints?.results ?? [],
        lazy_load: dataOf<LazyLoadData>(ctx, "lazy-load"),
        service: {
            installed: service?.installed === true, watchdog_installed: service?.watchdog_installed === true, state: serviceState,
            manager: service?.manager ?? null, name: service?.service_name ?? null
        },
        api_key: {location: config?.key_file ?? null, source: config?.api_key_source ?? "unknown", generated: config?.key_generated === true},
        tests: {results_file: tests?.results_file ?? null, passed: tests ? tests.passed : null, summary: tests?.summary ?? null},
        launch: ctx.launch,
        next_steps: next
    };
}

function mdCell(s: string): string {
    return s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

/** MODEL_MIGRATION_SUMMARY.md: written for the person, and committed, so it names the key file but never the key. */
export function renderMigrationSummary(report: SetupReport, opts: {baseUrl: string; model?: {name: string; why: string} | null}): string {
    const home = report.home;
    const out: string[] = [];
    out.push("# Model migration summary", "");
    out.push(`Generated by \`npm run setup\` on ${report.finished_at ?? new Date().toISOString()} (run ${report.run_id}).`, "");
    out.push(`- Home: \`${home}\``);
    if (report.branch) out.push(`- Branch: \`${report.branch}\``);
    out.push(`- Provider URL: ${opts.baseUrl}`);
    out.push(`- Full report: \`${rel(home, path.join(home, "logs", REPORT_FILE_NAME))}\``, "");

    out.push("## Models", "");
    out.push(`${report.models.total} model file(s): ${report.models.valid} usable, ${report.models.invalid} invalid. Index: \`${rel(home, report.models.index_file) ?? "registry/models_index.json"}\`.`, "");
    if (report.models.entries.length > 0) {
        out.push("| Name | Size | Quantization | Parameters | Source | Path | Status |", "| --- | ---: | --- | --- | --- | --- | --- |");
        for (const m of report.models.entries)
            out.push(`| ${mdCell(m.name)} | ${formatSize(m.size_bytes)} | ${m.quantization ?? "-"} | ${m.parameters ?? "-"} | ${m.source}${m.read_only ? " (read-only)" : ""} | \`${mdCell(m.path)}\` | ${m.status === "invalid" ? `invalid: ${mdCell(m.reason ?? "")}` : m.status} |`);
    } else out.push(`No models found. Download one (\`${commandHint("pull", "hf:org/repo:Q4_K_M")}\`) or put GGUF files in \`models/\`, then run \`npm run setup\` again.`);
    out.push("");

    out.push("## Duplicates", "");
    if (report.duplicates.length === 0) out.push("No duplicate files.");
    for (const d of report.duplicates)
        out.push(`- ${formatSize(d.size_bytes)}, sha256 \`${d.sha256.slice(0, 12)}\`: kept \`${rel(home, d.keep)}\` (${d.keep_reason}); copies: ${d.copies.map((c) => `\`${rel(home, c)}\``).join(", ")}`);
    out.push("");

    out.push("## Deleted and kept", "");
    if (report.safe_to_delete.length === 0) out.push("The safety review found nothing to delete.");
    else {
        out.push("| File | Reason | Size | Approval | Answer | Result |", "| --- | --- | ---: | --- | --- | --- |");
        for (const c of report.safe_to_delete)
            out.push(`| \`${mdCell(c.path)}\` | ${c.reason} | ${formatSize(c.size_bytes)} | \`${mdCell(c.approval_id)}\` | ${c.answer ?? "not asked"} | ${c.deleted ? "deleted" : "kept"} |`);
    }
    out.push("");

    out.push("## Service", "", `State: ${report.service.state}.`, "");
    out.push("## API key", "");
    out.push(report.api_key.location
        ? `The key is in \`${rel(home, report.api_key.location)}\` (git-ignored; source: ${report.api_key.source}). It is not repeated here because this file is committed.`
        : `No key file (key source: ${report.api_key.source}).`);
    out.push("");
    const model = opts.model ?? null;
    out.push("## Editor setup", "");
    if (model) out.push(`The snippets name ${model.name}: ${model.why}.`, "");
    out.push("```text", editorSnippets({baseUrl: opts.baseUrl, key: `<the key in ${rel(home, report.api_key.location) ?? "config/api_key.txt"}>`, model: model?.name ?? "<model>"}), "```", "");
    out.push("## Steps", "", "| # | Step | Status | Time | Summary |", "| ---: | --- | --- | ---: | --- |");
    for (const s of report.steps)
        out.push(`| ${s.index} | ${s.title} | ${s.status} | ${s.duration_ms != null ? `${(s.duration_ms / 1000).toFixed(1)} s` : "-"} | ${mdCell(s.summary ?? s.reason ?? "")} |`);
    out.push("");
    out.push("## Next steps", "", ...report.next_steps.map((n) => `- ${n}`), "");
    return out.join("\n");
}

export function reportPaths(home: string, logsDir: string): {report: string; summary: string} {
    return {report: path.join(logsDir, REPORT_FILE_NAME), summary: path.join(home, SUMMARY_FILE_NAME)};
}

/** Validates, then writes atomically. */
export function writeReportFile(file: string, report: SetupReport): void {
    validateReport("provider_setup_report.schema.json", report);
    fs.mkdirSync(path.dirname(file), {recursive: true});
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(report, null, 2)}\n`);
    fs.renameSync(tmp, file);
}
