import type {FastifyInstance} from "fastify";
import type {Provider} from "../runtime/provider.js";
import {upstreamTags} from "../upstream/index.js";
import {tagEntry} from "./ollama-models.js";

/** Model names may contain `/` and `:` (hf.co/org/repo:Q4_K_M), so the name is the rest of the path. */
function nameParam(params: unknown): string {
    // Fastify has already percent-decoded the path: decoding again would turn a literal "%" into a 500
    return String((params as Record<string, string>)["*"] ?? "");
}

export function registerRuntimeRoutes(app: FastifyInstance, provider: Provider): void {
    app.post("/runtime/load/*", async (request) => {
        const name = nameParam(request.params);
        const entry = await provider.resolveLocal(name);
        const {loadMs, state} = await provider.manager.loadModel(entry);
        request.facts.model = entry.name;
        return {model: entry.name, status: state, load_ms: Math.round(loadMs), context_size: provider.manager.loadedInfo(entry.name)?.contextSize ?? null};
    });

    app.post("/runtime/unload/*", async (request) => {
        const name = nameParam(request.params);
        const entry = await provider.resolveLocal(name);
        const r = await provider.manager.unloadModel(entry.name);
        request.facts.model = entry.name;
        return {model: entry.name, status: r.state, was_loaded: r.wasLoaded};
    });

    app.get("/models/installed", async () => ({
        models: [...provider.registry.models().map((m) => {
            const state = provider.manager.stateOf(m.name);
            return {
                ...tagEntry(m, m.status === "invalid" ? "invalid" : state),
                ...(m.reason ? {reason: m.reason} : {}),
                keep_loaded: provider.manager.keepLoaded(m),
                pinned: provider.config.models[m.name]?.pinned ?? m.pinned,
                aliases: m.aliases,
                read_only: m.read_only,
                capabilities: undefined
            };
        }), ...await upstreamTags(provider, new Set(provider.registry.models().filter((m) => m.status !== "invalid").map((m) => m.name)))]
    }));

    app.get("/runtime/status", async () => {
        const live = new Map(provider.manager.status().map((s) => [s.name, s]));
        return {
            models: provider.registry.models().map((m) => {
                const s = live.get(m.name);
                return s ?? {
                    name: m.name, state: m.status === "invalid" ? "invalid" : "unloaded", reason: m.reason ?? null, runner_pid: null,
                    pinned: m.pinned, keep_loaded: provider.manager.keepLoaded(m), in_flight: 0, queued: 0, last_used: null, loaded_at: null,
                    load_ms: 0, loads: 0, requests: 0, context_size: 0, estimate_bytes: 0, measured_rss_bytes: 0, budget_bytes: 0, expires_at: null
                };
            }),
            memory: {...provider.manager.memoryBudget(), server_rss_bytes: process.memoryUsage().rss},
            queue: {max: provider.config.max_queue, pending: provider.manager.status().reduce((a, s) => a + s.queued, 0)}
        };
    });

    app.post("/runtime/rescan", async () => {
        const before = new Set(provider.registry.models().map((m) => m.name));
        const r = await provider.registry.rescan();
        provider.manager.updateEntries(r.index.models);
        const after = new Set(r.index.models.map((m) => m.name));
        return {
            models: r.index.models.length,
            added: [...after].filter((n) => !before.has(n)),
            removed: [...before].filter((n) => !after.has(n)),
            header_reads: r.stats.headerReads,
            warnings: r.warnings
        };
    });
}
