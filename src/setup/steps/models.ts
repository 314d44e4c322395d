/** The models step: every model discoverable: scan models_dir and the other tools' stores, write registry/models_index.json. */
import path from "node:path";
import {externalSourcesFor} from "../../registry/external.js";
import {readIndex} from "../../registry/index-file.js";
import {scanModels} from "../../registry/scan.js";
import type {ModelEntry} from "../../registry/types.js";
import {defineStep, outcome} from "./contract.js";

/** One row of the models table in the reports. */
export interface ModelRow {
    name: string;
    path: string;
    size_bytes: number;
    source: ModelEntry["source"];
    status: ModelEntry["status"];
    reason: string | null;
    quantization: string | null;
    parameters: string | null;
    read_only: boolean;
}

export interface ModelsData {
    index_file: string;
    models_dir: string;
    total: number;
    valid: number;
    invalid: number;
    by_source: Record<string, number>;
    models: ModelRow[];
    scan_warnings: string[];
    external_sources: boolean;
    /** The names the index served before this scan: the safety review keeps the copy that still holds one. */
    previous_names: string[];
}

export function modelRow(m: ModelEntry): ModelRow {
    return {
        name: m.name, path: m.path, size_bytes: m.size_bytes, source: m.source, status: m.status, reason: m.reason ?? null,
        quantization: m.metadata?.quantization ?? null, parameters: m.metadata?.parameter_size || null, read_only: m.read_only
    };
}

export function summarizeModels(models: ModelEntry[], indexFile: string, modelsDir: string, warnings: string[], external: boolean, previousNames: string[] = []): ModelsData {
    const bySource: Record<string, number> = {};
    for (const m of models) bySource[m.source] = (bySource[m.source] ?? 0) + 1;
    const invalid = models.filter((m) => m.status === "invalid").length;
    return {
        index_file: indexFile, models_dir: modelsDir, total: models.length, valid: models.length - invalid, invalid,
        by_source: bySource, models: models.map(modelRow), scan_warnings: warnings, external_sources: external, previous_names: previousNames
    };
}

export const modelsStep = defineStep<{enabled: string[]}>({
    id: "models",

    async prepare(ctx) {
        const cfg = ctx.config();
        const enabled = (["ollama", "lmstudio", "huggingface"] as const).filter((s) => cfg.import_sources[s]);
        return {
            summary: [
                `scan ${cfg.paths.models}${enabled.length > 0 ? ` and the ${enabled.join(", ")} store(s), read in place` : ""}`,
                `write ${path.relative(ctx.home, cfg.paths.registry) || cfg.paths.registry}`
            ],
            approvals: [],
            data: {enabled: [...enabled]}
        };
    },

    async apply(ctx) {
        const cfg = ctx.config();
        const external = externalSourcesFor(cfg, ctx.logger);
        // Read before the scan rewrites the file: these are the names clients may already be using.
        const previous = (await readIndex(cfg.paths.registry))?.models.filter((m) => m.status !== "invalid").map((m) => m.name) ?? [];
        const {index, stats, warnings} = await scanModels(cfg, {logger: ctx.logger, external, write: true});
        const data = summarizeModels(index.models, cfg.paths.registry, cfg.paths.models, warnings, external != null, previous);
        const findings = [`${data.valid} usable model(s), ${data.invalid} invalid file(s)` +
            (Object.keys(data.by_source).length > 0 ? ` (${Object.entries(data.by_source).map(([s, n]) => `${s}: ${n}`).join(", ")})` : "")];
        for (const m of index.models.filter((x) => x.status === "invalid")) findings.push(`invalid: ${m.path}: ${m.reason ?? "not a usable GGUF"}`);
        if (external == null) findings.push("other tools' stores not adopted: the sources module (src/sources) is not present");
        return outcome("done", `${data.total} model file(s) indexed in ${Math.round(stats.durationMs)} ms`, {
            findings, warnings, data: {...data}
        });
    }
});
