/** Sampling options: a request's, validated, merged over the model's and the config's defaults. */
import type {ModelOverride} from "../config/schema.js";
import type {ModelEntry} from "../registry/types.js";
import {badRequest} from "./errors.js";
import {OLLAMA_DEFAULT_OPTIONS, type SamplingOptions} from "./protocol.js";

const NUMBER_OPTIONS = ["temperature", "top_k", "top_p", "min_p", "seed", "num_predict", "repeat_penalty", "repeat_last_n",
    "presence_penalty", "frequency_penalty", "num_ctx"] as const;

/** Options as a client sends them; unknown keys are ignored (Ollama warns and ignores them too). */
export interface RequestOptions {
    temperature?: number;
    top_k?: number;
    top_p?: number;
    min_p?: number;
    seed?: number;
    num_predict?: number;
    stop?: string[];
    repeat_penalty?: number;
    repeat_last_n?: number;
    presence_penalty?: number;
    frequency_penalty?: number;
    num_ctx?: number;
}

/** Validates the option types we use; a wrong type is a 400 naming the option. */
export function parseOptions(raw: unknown, where = "options"): RequestOptions {
    if (raw == null) return {};
    if (typeof raw !== "object" || Array.isArray(raw)) throw badRequest(`${where} must be an object`);
    const src = raw as Record<string, unknown>;
    const out: RequestOptions = {};
    for (const key of NUMBER_OPTIONS) {
        const v = src[key];
        if (v == null) continue;
        if (typeof v !== "number" || !Number.isFinite(v)) throw badRequest(`option "${key}" must be a number, got ${JSON.stringify(v)}`, key);
        out[key] = v;
    }
    if (src.stop != null) {
        const stop = typeof src.stop === "string" ? [src.stop] : src.stop;
        if (!Array.isArray(stop) || !stop.every((s) => typeof s === "string")) throw badRequest(`option "stop" must be a string or an array of strings`, "stop");
        out.stop = stop.filter((s) => s !== "");
    }
    return out;
}

function integer(v: number | undefined): number | undefined {
    return v == null ? undefined : Math.trunc(v);
}

/**
 * Precedence: Ollama's defaults < the model's Modelfile/store defaults < the config's per-model options < the request.
 * Every value ends up explicit, because node-llama-cpp's own defaults differ.
 */
export function mergeSampling(entry: Pick<ModelEntry, "name" | "defaults">, override: ModelOverride | undefined, request: RequestOptions): SamplingOptions {
    const fromModel = parseOptions(entry.defaults?.options ?? {}, "Modelfile PARAMETER");
    const fromConfig = parseOptions(override?.options ?? {}, `config models.${entry.name}.options`);
    const merged = {...OLLAMA_DEFAULT_OPTIONS, ...fromModel, ...fromConfig, ...stripUndefined(request)};
    const stop = request.stop ?? fromConfig.stop ?? override?.stop ?? fromModel.stop ?? entry.defaults?.stop ?? [];
    const seed = integer(merged.seed);
    return {
        temperature: Math.max(0, merged.temperature),
        top_k: integer(merged.top_k)!,
        top_p: merged.top_p,
        min_p: merged.min_p,
        seed: seed == null || seed < 0 ? undefined : seed,
        num_predict: integer(merged.num_predict)!,
        stop,
        repeat_penalty: merged.repeat_penalty,
        repeat_last_n: integer(merged.repeat_last_n)!,
        presence_penalty: merged.presence_penalty,
        frequency_penalty: merged.frequency_penalty
    };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
    return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
