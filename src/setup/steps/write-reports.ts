/**
 * The reports step: refresh the index (git-ignored: a cache), write MODEL_MIGRATION_SUMMARY.md, the stable record of
 * the models that is committed, and logs/provider_setup_report.json.
 */
import fs from "node:fs";
import path from "node:path";
import {externalSourcesFor} from "../../registry/external.js";
import {scanModels} from "../../registry/scan.js";
import {chooseBestModel} from "../best-model.js";
import {providerBaseUrl} from "../provider-url.js";
import type {CommitRecord, SetupContext} from "../records.js";
import {buildSetupReport, renderMigrationSummary, reportPaths, writeReportFile} from "../run-report.js";
import {defineStep, outcome} from "./contract.js";
import {summarizeModels, type ModelsData} from "./models.js";
import {keyFileRelative} from "./repo.js";
import type {SafetyData} from "./safety.js";
import {configFilePath} from "./setup-config.js";

export interface ReportsData {
    report_file: string;
    summary_file: string;
    index_file: string;
    models: ModelsData;
    commit: string | null;
}

export const reportsStep = defineStep<Record<string, never>>({
    id: "reports",

    async prepare(ctx) {
        const cfg = ctx.config();
        const p = reportPaths(ctx.home, cfg.paths.logs);
        const r = (f: string): string => path.relative(ctx.home, f) || f;
        return {summary: [`refresh ${r(cfg.paths.registry)} (git-ignored)`, `write ${r(p.summary)} (committed)`, `write ${r(p.report)} (git-ignored)`], approvals: [], data: {}};
    },

    async apply(ctx) {
        const cfg = ctx.config();
        const {index, warnings} = await scanModels(cfg, {logger: ctx.logger, external: externalSourcesFor(cfg, ctx.logger), write: true});
        const models = summarizeModels(index.models, cfg.paths.registry, cfg.paths.models, warnings, true);
        const files = reportPaths(ctx.home, cfg.paths.logs);
        const configFile = configFilePath(ctx.configSource);
        // The summary shows this step as done: by the time anyone reads it, it is.
        const now = new Date().toISOString();
        const self = ctx.run.steps.reports;
        const ms = self.started_at ? Math.max(0, Date.parse(now) - Date.parse(self.started_at)) : null;
        const asDone: SetupContext = {...ctx.run, steps: {...ctx.run.steps, reports: {...self, status: "done", finished_at: now, duration_ms: ms, summary: "reports written"}}};
        const report = buildSetupReport(asDone, {configFile, models});
        const copies = new Set(((ctx.steps.safety?.data as SafetyData | null)?.duplicates ?? []).flatMap((d) => d.copies));
        const best = chooseBestModel(index.models, cfg, copies);
        fs.writeFileSync(files.summary, renderMigrationSummary(report, {
            baseUrl: providerBaseUrl(cfg.server_host, cfg.server_port), model: best.model ? {name: best.model.name, why: best.why} : null
        }));
        const commits: CommitRecord[] = [];
        if (ctx.git.hasRepo()) {
            // The key file is protected here as in every other commit: a .gitignore edited after the repo step must not let it in.
            const c = await ctx.git.commitAll("setup: provider setup reports (MODEL_MIGRATION_SUMMARY.md)", {step: "reports", protectedExtra: [keyFileRelative(ctx)]});
            if (c) commits.push(c);
        }
        writeReportFile(files.report, {...report, commits: [...report.commits, ...commits]});
        const data: ReportsData = {report_file: files.report, summary_file: files.summary, index_file: cfg.paths.registry, models, commit: commits[0]?.hash ?? null};
        return outcome("done", `wrote ${path.basename(files.summary)} and ${path.basename(files.report)}`, {
            findings: [`summary: ${files.summary}`, `report: ${files.report}`, `index: ${cfg.paths.registry} (${models.total} entries)`], warnings, commits, data: {...data}
        });
    }
});
