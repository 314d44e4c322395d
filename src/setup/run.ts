/** One setup run from start to end: the machine's actor runs, its state is written after every transition, and the final report is written from its end state. */
import type {Logger} from "../log/logger.js";
import type {SetupContext} from "./records.js";
import type {SetupActor} from "./resume.js";
import {buildSetupReport, reportPaths, writeReportFile} from "./run-report.js";
import {writeStateFile} from "./state-file.js";
import {fileTimestamp} from "./steps/contract.js";
import type {ModelsData} from "./steps/models.js";
import {configFilePath, loadSetupConfig, type ConfigSource} from "./steps/setup-config.js";
import type {ReportsData} from "./steps/write-reports.js";

export function newRunId(): string {
    return `${fileTimestamp()}-${Math.random().toString(16).slice(2, 8)}`;
}

/** Starts the actor and resolves with its context when the machine reaches a final state (or fails). */
export async function runToEnd(actor: SetupActor, opts: {stateFile: string; home: string; logger: Logger}): Promise<SetupContext> {
    const persist = (): void => {
        const snap = actor.getSnapshot();
        writeStateFile(opts.stateFile, {
            version: 1, run_id: snap.context.runId, home: opts.home, updated_at: new Date().toISOString(), status: snap.context.status,
            state: snap.value, options: snap.context.options, machine: actor.getPersistedSnapshot()
        });
    };
    const finished = new Promise<SetupContext>((resolve) => {
        actor.subscribe({
            next: (snap) => {
                persist();
                if (snap.status === "done") resolve(snap.context);
            },
            error: (e) => {
                opts.logger.error({err: e instanceof Error ? e.message : String(e)}, "setup machine error");
                resolve(actor.getSnapshot().context);
            }
        });
    });
    actor.start();
    persist();
    const ctx = await finished;
    actor.stop();
    return ctx;
}

/** The final report: the reports step wrote one already; this one carries the final statuses and the launch. */
export function writeFinalReport(ctx: SetupContext, configSource: ConfigSource): string {
    const cfg = loadSetupConfig(configSource).config;
    const models = (ctx.steps.reports.data as ReportsData | null)?.models ?? (ctx.steps.models.data as ModelsData | null);
    const report = buildSetupReport(ctx, {configFile: configFilePath(configSource), models});
    const file = reportPaths(configSource.home, cfg.paths.logs).report;
    writeReportFile(file, report);
    return file;
}
