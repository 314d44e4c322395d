import {HttpError} from "../runtime/errors.js";
import {OLLAMA_DEFAULT_OPTIONS, type SamplingOptions} from "../runtime/protocol.js";
import type {ModelEntry} from "../registry/types.js";
import type {ModelOverride} from "../config/schema.js";

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
    if (typeof raw !== "object" || Array.isArray(raw)) throw new HttpError(400, `${where} must be an object`);
    const src = raw as Record<string, unknown>;
    const out: RequestOptions = {};
    for (const key of NUMBER_OPTIONS) {
        const v = src[key];
        if (v == null) continue;
        if (typeof v !== "number" || !Number.isFinite(v)) throw new HttpError(400, `option "${key}" must be a number, got ${JSON.stringify(v)}`);
        out[key] = v;
    }
    if (src.stop != null) {
        const stop = typeof src.stop === "string" ? [src.stop] : src.stop;
        if (!Array.isArray(stop) || !stop.every((s) => typeof s === "string")) throw new HttpError(400, `option "stop" must be a string or an array of strings`);
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
export function mergeSampling(entry: ModelEntry, override: ModelOverride | undefined, request: RequestOptions): SamplingOptions {
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

const UNIT_NS: Record<string, number> = {ns: 1, us: 1e3, "µs": 1e3, "μs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9};

/**
 * keep_alive exactly as Ollama parses it: a JSON number is seconds; a string is a Go duration and needs a unit
 * ("5m", "1h30m", "0"); negative means forever. Returns seconds, or undefined when absent.
 */
export function parseKeepAlive(v: unknown): number | undefined {
    if (v == null) return undefined;
    if (typeof v === "number") {
        if (!Number.isFinite(v)) throw new HttpError(400, "keep_alive must be a finite number of seconds or a duration string like \"5m\"");
        return v;
    }
    if (typeof v !== "string") throw new HttpError(400, `keep_alive must be a number of seconds or a duration string like "5m", got ${JSON.stringify(v)}`);
    const s = v.trim();
    if (s === "0") return 0;
    const m = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(s);
    if (!m) {
        if (/^[-+]?\d+(\.\d*)?$/.test(s)) throw new HttpError(400, `time: missing unit in duration "${s}"`);
        throw new HttpError(400, `time: invalid duration "${s}"`);
    }
    let ns = 0;
    for (const part of s.replace(/^[-+]/, "").matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) ns += Number(part[1]) * UNIT_NS[part[2]!]!;
    return (m[1] === "-" ? -1 : 1) * ns / 1e9;
}
