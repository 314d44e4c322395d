/** Embeddings as every family returns them: vectors from the job, L2-normalised, optionally cut to `dimensions`. */
import type {FastifyReply, FastifyRequest} from "fastify";
import type {Job} from "../../runtime/job.js";
import type {EmbedResult} from "../../runtime/protocol.js";
import {disconnectSignal} from "../../server/stream.js";
import {MODEL_HEADER, servedName} from "./generation.js";

/** L2 normalisation, as Ollama's /api/embed returns. */
export function normalize(v: number[]): number[] {
    const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
    return norm > 0 ? v.map((x) => x / norm) : v;
}

export function shapeVector(v: number[], dimensions: number | undefined): number[] {
    return normalize(dimensions != null ? v.slice(0, dimensions) : v);
}

export async function runEmbedding(request: FastifyRequest, reply: FastifyReply, job: Job, inputs: string[], truncate: boolean)
    : Promise<EmbedResult & {loadMs: number; totalMs: number}> {
    request.facts.model = servedName(job);
    reply.header(MODEL_HEADER, job.model);
    const res = await job.embed({inputs, truncate}, disconnectSignal(request, reply));
    request.facts.prompt_tokens = res.prompt_tokens;
    return res;
}
