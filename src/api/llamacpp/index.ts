/** llama.cpp's server API: /infill, the fill-in-the-middle route llama.vscode and llama.vim use. */
import type {FastifyPluginAsync} from "fastify";
import type {RequestOptions} from "../../runtime/job.js";
import {disconnectSignal} from "../../server/stream.js";
import {MODEL_HEADER, serveGeneration} from "../shared/generation.js";
import {bodyOf, optionalBool, optionalNumber, parseStop, type Body} from "../shared/parse.js";
import type {ApiPluginOptions} from "../ollama/index.js";
import {infillFormat} from "./format.js";
import {assembleInfill, defaultInfillModel, fitInfill, parseExtra} from "./infill.js";
import {infillSchema} from "./schemas.js";

function text(body: Body, key: string): string {
    const v = body[key];
    return typeof v === "string" ? v : "";
}

const NO_TIMINGS = {
    prompt_n: 0, prompt_ms: 0, prompt_per_token_ms: 0, prompt_per_second: 0,
    predicted_n: 0, predicted_ms: 0, predicted_per_token_ms: 0, predicted_per_second: 0
};

export const llamacppApi: FastifyPluginAsync<ApiPluginOptions> = async (app, {runtime, logger}) => {
    app.post("/infill", {schema: infillSchema}, async (request, reply) => {
        const body = bodyOf(request);
        const named = typeof body.model === "string" ? body.model.trim() : "";
        const requested = named !== "" ? named : defaultInfillModel(runtime);
        const nPredict = optionalNumber(body, "n_predict") ?? -1;
        const options: RequestOptions = {num_predict: nPredict};
        for (const key of ["temperature", "top_k", "top_p", "min_p", "seed", "repeat_penalty", "repeat_last_n", "presence_penalty", "frequency_penalty"] as const) {
            const v = optionalNumber(body, key);
            if (v != null) options[key] = v;
        }
        const stop = parseStop(body.stop);
        if (stop) options.stop = stop;
        const stream = optionalBool(body, "stream") ?? false;
        const extra = parseExtra(body.input_extra);
        const job = await runtime.job(requested, {options, needs: ["insert"], latency: "short"});
        if (nPredict === 0) {
            // llama.vscode sends n_predict 0 to warm up its extra context: load the model, predict nothing
            reply.header(MODEL_HEADER, job.model);
            if (job.where === "local") await job.load(disconnectSignal(request, reply));
            return {
                index: 0, content: "", tokens: [], id_slot: 0, stop: true, model: job.model, tokens_predicted: 0, tokens_evaluated: 0, truncated: false,
                stop_type: "limit", stopping_word: "", tokens_cached: 0, timings: NO_TIMINGS
            };
        }
        const parts = {prefix: text(body, "input_prefix"), suffix: text(body, "input_suffix"), prompt: text(body, "prompt"), extra};
        // an upstream fits its own context
        const fitted = job.where === "local" ? await fitInfill(runtime, job.entry, parts, nPredict, disconnectSignal(request, reply)) : assembleInfill(parts, null);
        const settings = {n_predict: nPredict, temperature: options.temperature, top_k: options.top_k, top_p: options.top_p};
        await serveGeneration(request, reply, logger, job, {mode: "infill", prompt: fitted.prefix, suffix: fitted.suffix, options: job.sampling},
            infillFormat(job.model, settings, fitted.truncated), stream);
    });
};
