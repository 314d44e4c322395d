/** The runtime's own routes: explicit load and unload, pin and unpin, installed models, live status, rescan. */
import type {FastifyPluginAsync} from "fastify";
import type {ModelEntry} from "../registry/types.js";
import {runnerEntry} from "../runtime/runner-entry.js";
import type {Runtime} from "../runtime/runtime.js";
import {tagEntry, upstreamTag} from "./ollama/models.js";
import {nameParam} from "./shared/parse.js";

/**
 * The sequences a model that never loaded would get, as a loaded model's row reports its own: its file's entry
 * decides (a variant runs on its base's runner).
 */
function wouldRun(runtime: Runtime, file: ModelEntry): {parallel: number; parallel_auto: boolean; short_reserved: number} {
    const parallel = runtime.manager.parallelFor(file);
    return {parallel, parallel_auto: runtime.manager.parallelIsAuto(file), short_reserved: runtime.manager.shortReservedFor(file, parallel)};
}

export const runtimeApi: FastifyPluginAsync<{runtime: Runtime}> = async (app, {runtime}) => {
    app.post("/runtime/load/*", async (request) => {
        const name = nameParam(request.params);
        const entry = await runtime.resolveLocal(name);
        const {loadMs, state} = await runtime.manager.loadModel(entry);
        request.facts.model = entry.name;
        return {model: entry.name, status: state, load_ms: Math.round(loadMs), context_size: runtime.manager.loadedInfo(entry.name)?.contextSize ?? null};
    });

    app.post("/runtime/unload/*", async (request) => {
        const name = nameParam(request.params);
        const entry = await runtime.resolveLocal(name);
        const r = await runtime.manager.unloadModel(entry.name);
        request.facts.model = entry.name;
        return {model: entry.name, status: r.state, was_loaded: r.wasLoaded};
    });

    // a pin set here lasts until the server restarts; `models.<name>.pinned` in the config keeps one across restarts
    for (const [action, pinned] of [["pin", true], ["unpin", false]] as const) {
        app.post(`/runtime/${action}/*`, async (request) => {
            const entry = await runtime.resolveLocal(nameParam(request.params));
            runtime.manager.setPinned(entry.name, pinned);
            request.facts.model = entry.name;
            return {model: entry.name, pinned: runtime.manager.pinned(entry)};
        });
    }

    app.get("/models/installed", async () => ({
        models: [...runtime.registry.models().map((m) => {
            const state = runtime.stateOf(m);
            return {
                ...tagEntry(m, m.status === "invalid" ? "invalid" : state),
                ...(m.reason ? {reason: m.reason} : {}),
                keep_loaded: runtime.manager.keepLoaded(m),
                pinned: runtime.manager.pinned(m),
                aliases: m.aliases,
                read_only: m.read_only,
                capabilities: undefined
            };
        }), ...(await runtime.upstreamModels()).map(({upstream, model}) => upstreamTag(upstream, model))]
    }));

    app.get("/runtime/status", async () => {
        const live = new Map(runtime.manager.status().map((s) => [s.name, s]));
        return {
            models: runtime.registry.models().map((m) => {
                const file = runtime.fileEntry(m);
                // a variant runs on its base's runner: it shows that runner's state, and says whose it is
                const s = live.get(file.name);
                if (s) return file.name === m.name ? s : {...s, name: m.name, runs_on: file.name};
                return {
                    name: m.name, state: m.status === "invalid" ? "invalid" : "unloaded", reason: m.reason ?? null, runner_pid: null,
                    pinned: runtime.manager.pinned(m), keep_loaded: runtime.manager.keepLoaded(m), in_flight: 0, queued: 0,
                    queued_short: 0, queued_long: 0, ...wouldRun(runtime, file), last_used: null, loaded_at: null,
                    load_ms: 0, loads: 0, requests: 0, context_size: 0, estimate_bytes: 0, measured_rss_bytes: 0, budget_bytes: 0, expires_at: null
                };
            }),
            memory: {...runtime.manager.memoryBudget(), server_rss_bytes: process.memoryUsage().rss},
            queue: {max: runtime.config.max_queue, pending: runtime.manager.status().reduce((a, s) => a + s.queued, 0)},
            // which script a model's runner starts from: the build's bundle, its plain modules, or the source
            runner: {script: runnerEntry().script}
        };
    });

    app.post("/runtime/rescan", async () => {
        const before = new Set(runtime.registry.models().map((m) => m.name));
        const r = await runtime.rescan();
        const after = new Set(r.index.models.map((m) => m.name));
        return {
            models: r.index.models.length,
            added: [...after].filter((n) => !before.has(n)),
            removed: [...before].filter((n) => !after.has(n)),
            header_reads: r.stats.headerReads,
            warnings: r.warnings
        };
    });
};
