/**
 * The provider check suite: what the tests step runs by default. It checks this provider on this machine, as it was
 * just configured: the API key, every route editors use, each installed model (loads, chats with its speed, stays
 * resident), one fill-in-the-middle request where a model supports it, and each configured upstream. Models are
 * checked smallest first and unloaded after their checks, so each one has the memory the next needs; the route
 * checks run on the smallest chat model while its checks have it loaded.
 */
import type {ModelEntry} from "../../registry/types.js";
import {isGeneratedTestModel} from "../best-model.js";
import type {CheckServer} from "../steps/provider-check.js";
import {CheckCollector} from "./collector.js";
import {checkAuth, checkFim, checkUpstreams, skipFim} from "./extras.js";
import {checkModelLoadAndChat, modelsToCheck, unloadModel} from "./models.js";
import {checkRoutes} from "./routes.js";
import {summarizeChecks, type CheckResult, type CheckSummary} from "./types.js";

export interface SuiteOutcome {
    results: CheckResult[];
    summary: CheckSummary;
    models_checked: string[];
    models_skipped: Array<{name: string; why: string}>;
    /** Only generated test models were there to check (no model of the user's). */
    generated_only: boolean;
    duration_ms: number;
}

export async function runProviderChecks(server: CheckServer, opts: {onResult?: (r: CheckResult) => void} = {}): Promise<SuiteOutcome> {
    const t0 = performance.now();
    const run = new CheckCollector(opts.onResult);
    const pick = modelsToCheck(server.models(), server.config);
    for (const s of pick.skipped) run.skip({id: `model:${s.model.name}`, group: "model", title: `${s.model.name}: not loaded`, model: s.model.name}, s.why);

    await checkAuth(server, run);

    const chatModels = pick.check.filter((m) => m.metadata?.is_embedding !== true);
    const routeModel: ModelEntry = chatModels[0] ?? server.model;
    let routesDone = false;
    let fimDone = false;
    for (const m of pick.check) {
        const loaded = await checkModelLoadAndChat(server, m, run);
        if (loaded && !fimDone && m.metadata?.has_fim === true) {
            await checkFim(server, m, run);
            fimDone = true;
        }
        if (m === routeModel) {
            // The routes end with /runtime/unload, which frees this model's memory too.
            await checkRoutes(server, m.name, run);
            routesDone = true;
        } else if (loaded) await unloadModel(server, m, run);
    }
    // No model could be checked (none fits, or none is usable): the routes still answer, with the provider's own errors.
    if (!routesDone) await checkRoutes(server, routeModel.name, run);
    if (!fimDone) skipFim(run);

    await checkUpstreams(server, run);
    return {
        results: run.results, summary: summarizeChecks(run.results), models_checked: pick.check.map((m) => m.name),
        models_skipped: pick.skipped.map((s) => ({name: s.model.name, why: s.why})), generated_only: server.generated || pick.check.every(isGeneratedTestModel),
        duration_ms: Math.round(performance.now() - t0)
    };
}
