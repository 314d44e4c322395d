import type {FastifyReply, FastifyRequest} from "fastify";
import {serveGeneration, type WireFormat} from "../api/generation.js";
import {requireCapability} from "../api/ollama.js";
import {mergeSampling, type RequestOptions} from "../api/options.js";
import type {Logger} from "../log/logger.js";
import type {ModelEntry} from "../registry/types.js";
import type {EmbedResult, GenerateRequest, SamplingOptions} from "../runtime/protocol.js";
import type {Provider} from "../runtime/provider.js";
import {disconnectSignal} from "../server/stream.js";
import {resolveTarget, serveUpstreamGeneration, upstreamJob, type Target} from "./index.js";

/** What a route asks for, before it is known where the model lives. */
export interface GenerationPlan {
    requested: string;
    options: RequestOptions;
    keepAliveSeconds?: number;
    /** Capabilities a local model must have (an upstream decides for itself). */
    needs: Array<"completion" | "tools" | "insert">;
    /** The internal request; `entry` is null on an upstream (no local Modelfile defaults apply there). */
    build(sampling: SamplingOptions, entry: ModelEntry | null): GenerateRequest;
}

/** Ollama's defaults plus the request: an upstream model has no local Modelfile or config defaults. */
export function upstreamSampling(options: RequestOptions, target: Extract<Target, {kind: "upstream"}>): SamplingOptions {
    return mergeSampling(upstreamJob(target.upstream, target.name).entry, undefined, options);
}

/** Runs a generation where the model lives: a local runner, or an upstream through the same internal request. */
export async function serveOnTarget(provider: Provider, logger: Logger, request: FastifyRequest, reply: FastifyReply, plan: GenerationPlan,
    format: (target: Target) => WireFormat, stream: boolean, knownTarget?: Target): Promise<void> {
    const target = knownTarget ?? await resolveTarget(provider, plan.requested);
    if (target.kind === "upstream") {
        const gen = plan.build(upstreamSampling(plan.options, target), null);
        return serveUpstreamGeneration(request, reply, logger, target.upstream, target.name, gen, format(target), stream);
    }
    const entry = target.entry;
    for (const cap of plan.needs) requireCapability(provider, entry, cap, plan.requested);
    const gen = plan.build(mergeSampling(entry, provider.config.models[entry.name], plan.options), entry);
    const job = provider.prepare(entry, plan.requested, {numCtx: plan.options.num_ctx, keepAliveSeconds: plan.keepAliveSeconds});
    await serveGeneration(request, reply, logger, job, gen, format(target), stream, plan.options.num_ctx);
}

/** Embeddings where the model lives; vectors as the engine (or upstream) returned them. */
export async function embedOnTarget(provider: Provider, request: FastifyRequest, reply: FastifyReply, requested: string, inputs: string[],
    truncate: boolean, keepAliveSeconds?: number): Promise<EmbedResult> {
    const target = await resolveTarget(provider, requested);
    const signal = disconnectSignal(request, reply);
    if (target.kind === "upstream") {
        request.facts.model = `${target.upstream.id}/${target.name}`;
        return upstreamJob(target.upstream, target.name).embed({inputs, truncate}, signal);
    }
    const job = provider.prepare(target.entry, requested, {keepAliveSeconds});
    request.facts.model = target.entry.name;
    const res = await job.embed({inputs, truncate}, signal);
    request.facts.prompt_tokens = res.prompt_tokens;
    return res;
}
