/** The lazy-load step: a model loads once and stays resident: the second request's load_duration is about 0 and it is `loaded`. */
import {withCheckServer} from "./provider-check.js";
import {defineStep, outcome, StepError} from "./contract.js";

export interface LazyLoadData {
    model: string;
    generated_test_model: boolean;
    first_load_ms: number;
    second_load_ms: number;
    status_after: string;
    keep_loaded_default: boolean;
    idle_unload_seconds: number;
}

/** "About 0": the model is already in memory, so the second request spends no time loading it. */
export const RESIDENT_LOAD_MS = 50;

function obj(v: unknown): Record<string, unknown> {
    return v != null && typeof v === "object" && !Array.isArray(v) ? v as Record<string, unknown> : {};
}

export const lazyLoadStep = defineStep<Record<string, never>>({
    id: "lazy-load",

    async prepare() {
        return {
            summary: [
                "start the provider with the smallest model, send two /api/generate requests",
                `pass when the second load_duration is under ${RESIDENT_LOAD_MS} ms and /runtime/status says loaded`
            ],
            approvals: [],
            data: {}
        };
    },

    async apply(ctx) {
        const cfg = ctx.config();
        const data = await withCheckServer(ctx, async (server): Promise<LazyLoadData> => {
            const m = server.model.name;
            const gen = async (): Promise<number> => {
                const r = await server.request("POST", "/api/generate", {model: m, prompt: "Hi", stream: false, options: {num_predict: 2}}, 300_000);
                if (r.status !== 200) throw new StepError(`/api/generate answered ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
                return Number(obj(r.body).load_duration ?? NaN) / 1e6;
            };
            const first = await gen();
            const second = await gen();
            const st = await server.request("GET", "/runtime/status");
            const entry = Array.isArray(obj(st.body).models) ? (obj(st.body).models as unknown[]).map(obj).find((x) => x.name === m) : undefined;
            return {
                model: m, generated_test_model: server.generated, first_load_ms: Math.round(first), second_load_ms: Math.round(second * 1000) / 1000,
                status_after: String(entry?.state ?? "unknown"), keep_loaded_default: cfg.keep_loaded_default, idle_unload_seconds: cfg.idle_unload_seconds
            };
        });
        const findings = [
            `first request: load_duration ${data.first_load_ms} ms`,
            `second request: load_duration ${data.second_load_ms} ms`,
            `status after both: ${data.status_after}`
        ];
        if (!(data.second_load_ms < RESIDENT_LOAD_MS) || data.status_after !== "loaded")
            throw new StepError(`${data.model} did not stay resident: second load_duration ${data.second_load_ms} ms (want < ${RESIDENT_LOAD_MS}), status ${data.status_after} (want loaded)`, {data: {...data}, findings});
        return outcome("done", `${data.model} stayed loaded (second load ${data.second_load_ms} ms)`, {findings, data: {...data}});
    }
});
