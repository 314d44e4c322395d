/** OpenAI's API (/v1/chat/completions, /v1/completions, /v1/models, /v1/embeddings) over runtime jobs. */
import type {FastifyPluginAsync} from "fastify";
import type {Body} from "../shared/parse.js";
import {badRequest} from "../../runtime/errors.js";
import type {Runtime} from "../../runtime/runtime.js";
import {parseToolChoice, refuseLogprobs} from "../shared/constraints.js";
import {runEmbedding, shapeVector} from "../shared/embeddings.js";
import {serveGeneration} from "../shared/generation.js";
import {parseKeepAlive} from "../shared/keep-alive.js";
import {bodyOf, optionalBool, optionalNumber, optionalString} from "../shared/parse.js";
import type {ApiPluginOptions} from "../ollama/index.js";
import {chatFormat, completionFormat} from "./format.js";
import {base64Floats, includeUsage, openAIOptions, parseOpenAIMessages, parseOpenAITools, parseReasoning, parseResponseFormat} from "./parse.js";
import {chatSchema, completionSchema, embeddingsSchema} from "./schemas.js";

function requireModel(runtime: Runtime, body: Body): string {
    const model = optionalString(body, "model") || runtime.config.default_model || "";
    if (!model) throw badRequest("you must provide a model parameter", "model");
    return model;
}

/** `context_length`: the context a local model is loaded with (or would be), so agents can size their window. */
const modelObject = (id: string, created: number, owner: string, contextLength?: number) =>
    ({id, object: "model", created, owned_by: owner, ...(contextLength != null ? {context_length: contextLength} : {})});

export const openaiApi: FastifyPluginAsync<ApiPluginOptions> = async (app, {runtime, logger}) => {
    app.post("/v1/chat/completions", {schema: chatSchema}, async (request, reply) => {
        const body = bodyOf(request);
        const requested = requireModel(runtime, body);
        const stream = optionalBool(body, "stream") ?? false;
        const messages = parseOpenAIMessages(body.messages);
        const tools = parseOpenAITools(body.tools, body.functions);
        const toolChoice = parseToolChoice(body.tool_choice, body.function_call, tools);
        const format = parseResponseFormat(body.response_format);
        const reasoning = parseReasoning(body);
        const grammar = optionalString(body, "grammar");
        const usesTools = tools != null && tools.length > 0 && toolChoice !== "none";
        refuseLogprobs(body);
        const parallelToolCalls = optionalBool(body, "parallel_tool_calls");
        if (usesTools && (format != null || grammar != null))
            throw badRequest("a request cannot combine tools with response_format or grammar: the engine cannot constrain both at once; send one or the other", "response_format");
        const job = await runtime.job(requested, {
            options: openAIOptions(body), keepAliveSeconds: parseKeepAlive(body.keep_alive), needs: usesTools ? ["completion", "tools"] : ["completion"]
        });
        await serveGeneration(request, reply, logger, job, {
            mode: "chat",
            messages: job.withDefaults(messages),
            options: job.sampling,
            ...(tools?.length ? {tools} : {}),
            ...(toolChoice ? {tool_choice: toolChoice} : {}),
            ...(parallelToolCalls != null ? {parallelToolCalls} : {}),
            format, grammar,
            ...(reasoning ? {reasoning} : {})
        }, chatFormat(job.model, includeUsage(body)), stream);
    });

    app.post("/v1/completions", {schema: completionSchema}, async (request, reply) => {
        const body = bodyOf(request);
        const requested = requireModel(runtime, body);
        const stream = optionalBool(body, "stream") ?? false;
        let prompt = body.prompt;
        if (Array.isArray(prompt)) {
            if (prompt.length !== 1 || typeof prompt[0] !== "string") throw badRequest("\"prompt\" must be a string (one prompt per request; token arrays are not supported)", "prompt");
            prompt = prompt[0];
        }
        if (prompt != null && typeof prompt !== "string") throw badRequest("\"prompt\" must be a string", "prompt");
        const text = (prompt as string | undefined) ?? "";
        const suffix = optionalString(body, "suffix");
        if (body.echo === true) throw badRequest("echo is not supported", "echo");
        refuseLogprobs(body);
        const bestOf = optionalNumber(body, "best_of");
        if (bestOf != null && bestOf > 1) throw badRequest("best_of > 1 is not supported", "best_of");
        const grammar = optionalString(body, "grammar");
        const infill = suffix != null && suffix !== "";
        const job = await runtime.job(requested, {
            options: openAIOptions(body), keepAliveSeconds: parseKeepAlive(body.keep_alive), needs: infill ? ["completion", "insert"] : ["completion"]
        });
        // OpenAI's completions are raw text: no chat template, as llama-server does
        await serveGeneration(request, reply, logger, job, infill
            ? {mode: "infill", prompt: text, suffix, options: job.sampling, grammar}
            : {mode: "completion", prompt: text, options: job.sampling, grammar}, completionFormat(job.model, includeUsage(body)), stream);
    });

    app.get("/v1/models", async () => {
        const local = runtime.registry.models().filter((m) => m.status !== "invalid").sort((a, b) => b.mtime_ms - a.mtime_ms);
        const data = local.map((m) => modelObject(m.name, Math.floor(m.mtime_ms / 1000), "zombiecoder", runtime.contextSizeOf(m)));
        for (const {upstream, model} of await runtime.upstreamModels())
            data.push(modelObject(model.name, model.created ?? (Math.floor(Date.parse(String(model.tag?.modified_at ?? "")) / 1000) || 0), upstream.id));
        return {object: "list", data};
    });

    app.get("/v1/models/*", async (request) => {
        // already percent-decoded by Fastify; decoding again would turn a literal "%" into a 500
        const id = String((request.params as Record<string, string>)["*"] ?? "");
        // only a model that exists by this name: a fuzzy match would describe a model the client did not name
        const local = runtime.exactModel(id);
        if (local) return modelObject(id, Math.floor(local.mtime_ms / 1000), "zombiecoder", runtime.contextSizeOf(local));
        const remote = (await runtime.upstreamModels()).find(({model}) => model.name === id || model.name === `${id}:latest`);
        if (remote) return modelObject(id, remote.model.created ?? 0, remote.upstream.id);
        throw runtime.notFound(id);
    });

    app.post("/v1/embeddings", {schema: embeddingsSchema}, async (request, reply) => {
        const body = bodyOf(request);
        const requested = requireModel(runtime, body);
        const input = body.input;
        let inputs: string[];
        if (typeof input === "string") inputs = [input];
        else if (Array.isArray(input) && input.length > 0 && input.every((s) => typeof s === "string")) inputs = input as string[];
        else if (Array.isArray(input) && input.length > 0 && input.every((s) => typeof s === "number" || Array.isArray(s)))
            throw badRequest("token arrays are not supported as input: send text", "input");
        else throw badRequest("invalid input: \"input\" must be a string or a non-empty array of strings", "input");
        const encoding = optionalString(body, "encoding_format") ?? "float";
        if (encoding !== "float" && encoding !== "base64") throw badRequest(`invalid encoding format: ${JSON.stringify(encoding)}; use "float" or "base64"`, "encoding_format");
        const dimensions = optionalNumber(body, "dimensions");
        if (dimensions != null && (!Number.isInteger(dimensions) || dimensions < 1)) throw badRequest("\"dimensions\" must be a positive integer", "dimensions");
        const job = await runtime.job(requested, {keepAliveSeconds: parseKeepAlive(body.keep_alive)});
        const res = await runEmbedding(request, reply, job, inputs, true);
        return {
            object: "list",
            data: res.vectors.map((v, index) => {
                const vector = shapeVector(v, dimensions);
                return {object: "embedding", embedding: encoding === "base64" ? base64Floats(vector) : vector, index};
            }),
            model: job.model,
            usage: {prompt_tokens: res.prompt_tokens, total_tokens: res.prompt_tokens}
        };
    });
};
