/** Ollama's API (/api/*): thin routes that turn Ollama bodies into runtime jobs and jobs into NDJSON. */
import type {FastifyPluginAsync, FastifyReply, FastifyRequest} from "fastify";
import type {Logger} from "../../log/logger.js";
import {badRequest} from "../../runtime/errors.js";
import type {Job} from "../../runtime/job.js";
import type {GenerateRequest} from "../../runtime/protocol.js";
import type {Runtime} from "../../runtime/runtime.js";
import {disconnectSignal} from "../../server/stream.js";
import {parseToolChoice, refuseLogprobs} from "../shared/constraints.js";
import {runEmbedding, shapeVector} from "../shared/embeddings.js";
import {MODEL_HEADER, serveGeneration} from "../shared/generation.js";
import {parseKeepAlive} from "../shared/keep-alive.js";
import {bodyOf, optionalBool, optionalString, type Body} from "../shared/parse.js";
import {chatFormat, contextBound, generateFormat, loadChunk, ns} from "./format.js";
import {ollamaManageApi} from "./manage.js";
import {
    capabilities, details, thinkingShow, localTime, modelfileText, modelInfo, OLLAMA_COMPAT_VERSION, showParameters, showTemplate, tagEntry, upstreamShow, upstreamTag
} from "./models.js";
import {parseFormat, parseMessages, parseThink, parseTools, refuseImages, requestOptions} from "./parse.js";
import {proxyOllama} from "./proxy.js";
import {chatSchema, embeddingsSchema, embedSchema, generateSchema, showSchema} from "./schemas.js";

export interface ApiPluginOptions {
    runtime: Runtime;
    logger: Logger;
}

/** `think`, as the internal request's reasoning (absent: the model's default). */
function reasoningOf(body: Record<string, unknown>): Pick<GenerateRequest, "reasoning"> {
    const reasoning = parseThink(body.think);
    return reasoning ? {reasoning} : {};
}

/** Ollama's own upstreams get Ollama requests as they are; everything else goes through a job. */
function passthrough(job: Job): job is Extract<Job, {where: "upstream"}> {
    return job.where === "upstream" && job.upstream.type === "ollama";
}

export const ollamaApi: FastifyPluginAsync<ApiPluginOptions> = async (app, {runtime, logger}) => {
    const root = async (_req: FastifyRequest, reply: FastifyReply) => reply.type("text/plain; charset=utf-8").send("Ollama is running");
    // Fastify answers HEAD for every GET route (exposeHeadRoutes)
    app.get("/", root);
    app.get("/api/version", async () => ({version: OLLAMA_COMPAT_VERSION}));
    await app.register(ollamaManageApi, {runtime, logger});

    app.get("/api/tags", async () => {
        const models = runtime.registry.models().filter((m) => m.status !== "invalid")
            .sort((a, b) => b.mtime_ms - a.mtime_ms)
            .map((m) => tagEntry(m, runtime.stateOf(m) === "loaded" ? "loaded" : "unloaded"));
        return {models: [...models, ...(await runtime.upstreamModels()).map(({upstream, model}) => upstreamTag(upstream, model))]};
    });

    app.post("/api/show", {schema: showSchema}, async (request, reply) => {
        const body = bodyOf(request);
        const name = optionalString(body, "model") ?? optionalString(body, "name");
        if (!name) throw badRequest("model is required", "model");
        const target = await runtime.resolve(name);
        if (target.kind === "upstream") {
            if (target.upstream.type === "ollama") return proxyOllama(request, reply, logger, target.upstream, "/api/show", body, target.name);
            reply.header(MODEL_HEADER, target.name);
            return upstreamShow(target.upstream, target.name);
        }
        const entry = target.entry;
        reply.header(MODEL_HEADER, entry.name);
        const {parameters, system} = showParameters(runtime, entry);
        const copilot = String(request.headers["user-agent"] ?? "").startsWith("GitHubCopilotChat/");
        return {
            license: "",
            modelfile: entry.defaults?.modelfile ?? modelfileText(entry, parameters, system),
            parameters,
            template: showTemplate(entry),
            ...(system ? {system} : {}),
            details: details(entry),
            model_info: modelInfo(entry, name, copilot),
            ...(entry.defaults?.messages ? {messages: entry.defaults.messages} : {}),
            capabilities: capabilities(runtime, entry),
            // not in Ollama's answer: what think false does to this model (turns thinking off, or only hides it)
            ...thinkingShow(entry),
            modified_at: localTime(new Date(entry.mtime_ms))
        };
    });

    app.get("/api/ps", async () => ({
        models: runtime.manager.resident().sort((a, b) => b.expiresAt.getTime() - a.expiresAt.getTime()).map((r) => ({
            name: r.entry.name,
            model: r.entry.name,
            size: r.sizeBytes,
            digest: r.entry.fingerprint,
            details: details(r.entry),
            expires_at: localTime(r.expiresAt),
            size_vram: r.gpu ? r.sizeBytes : 0,
            context_length: r.contextSize,
            // not in Ollama's answer: how many requests the model serves at once, each with the whole context
            parallel: r.parallel
        }))
    }));

    /** Empty prompt or messages: load (or unload with keep_alive 0) and answer with a single done chunk. */
    const loadOrUnload = async (request: FastifyRequest, reply: FastifyReply, job: Job, keepAlive: number | undefined, chat: boolean) => {
        reply.header(MODEL_HEADER, job.model);
        if (keepAlive === 0) {
            if (job.where === "local") await runtime.manager.unloadModel(job.entry.name);
            return reply.send(loadChunk(job.model, chat, "unload"));
        }
        const {loadMs} = await job.load(disconnectSignal(request, reply));
        return reply.send(loadChunk(job.model, chat, "load", loadMs));
    };

    app.post("/api/generate", {schema: generateSchema}, async (request, reply) => {
        const body = bodyOf(request);
        const requested = optionalString(body, "model") || runtime.config.default_model || "";
        const prompt = optionalString(body, "prompt") ?? "";
        const suffix = optionalString(body, "suffix");
        const system = optionalString(body, "system");
        const raw = optionalBool(body, "raw") ?? false;
        const stream = optionalBool(body, "stream") ?? true;
        const keepAlive = parseKeepAlive(body.keep_alive);
        const options = requestOptions(body);
        const format = parseFormat(body.format);
        refuseImages(body.images);
        if (raw && (body.template != null || system != null || body.context != null))
            throw badRequest("raw mode does not support template, system, or context");
        const grammar = optionalString(body, "grammar");
        refuseLogprobs(body);
        const infill = suffix != null && suffix !== "";
        const empty = prompt === "" && !infill;
        const job = await runtime.job(requested, {options, keepAliveSeconds: keepAlive, needs: empty ? [] : infill ? ["completion", "insert"] : ["completion"]});
        if (passthrough(job)) return proxyOllama(request, reply, logger, job.upstream, "/api/generate", body, job.model);
        if (empty && job.where === "local") return loadOrUnload(request, reply, job, keepAlive, false);
        const gen: GenerateRequest = infill
            ? {mode: "infill", prompt, suffix, options: job.sampling, format, grammar}
            : raw ? {mode: "completion", prompt, options: job.sampling, format, grammar}
                : {mode: "chat", messages: job.withDefaults([{role: "user", content: prompt}], system), options: job.sampling, format, grammar,
                    truncate: optionalBool(body, "truncate") ?? true, ...reasoningOf(body)};
        await serveGeneration(request, reply, logger, job, gen, generateFormat(job.model, raw, contextBound(job)), stream);
    });

    app.post("/api/chat", {schema: chatSchema}, async (request, reply) => {
        const body = bodyOf(request);
        const requested = optionalString(body, "model");
        if (!requested) throw badRequest("model is required", "model");
        const stream = optionalBool(body, "stream") ?? true;
        const keepAlive = parseKeepAlive(body.keep_alive);
        const options = requestOptions(body);
        const format = parseFormat(body.format);
        const messages = parseMessages(body.messages);
        const tools = parseTools(body.tools);
        // not in Ollama's API: OpenAI's tool_choice, so Ollama clients can force or forbid a call too
        const toolChoice = parseToolChoice(body.tool_choice, undefined, tools);
        const grammar = optionalString(body, "grammar");
        refuseLogprobs(body);
        const usesTools = tools != null && tools.length > 0;
        const job = await runtime.job(requested, {
            options, keepAliveSeconds: keepAlive, needs: messages.length === 0 ? [] : usesTools ? ["chat", "tools"] : ["chat"]
        });
        if (passthrough(job)) return proxyOllama(request, reply, logger, job.upstream, "/api/chat", body, job.model);
        if (messages.length === 0 && job.where === "local") return loadOrUnload(request, reply, job, keepAlive, true);
        if (usesTools && (format != null || grammar != null))
            throw badRequest("a request cannot combine tools with format or grammar: the engine cannot constrain both at once; send one or the other");
        const gen: GenerateRequest = {
            mode: "chat", messages: job.withDefaults(messages), options: job.sampling, tools, tool_choice: toolChoice, format, grammar,
            // Ollama's clients expect a long conversation to lose its oldest turns; the final chunk says how many tokens went
            truncate: optionalBool(body, "truncate") ?? true,
            ...reasoningOf(body)
        };
        await serveGeneration(request, reply, logger, job, gen, chatFormat(job.model, contextBound(job)), stream);
    });

    app.post("/api/embed", {schema: embedSchema}, async (request, reply) => {
        const body = bodyOf(request);
        const requested = optionalString(body, "model");
        if (!requested) throw badRequest("model is required", "model");
        const input = body.input;
        let inputs: string[];
        if (input == null) inputs = [];
        else if (typeof input === "string") inputs = [input];
        else if (Array.isArray(input) && input.every((s) => typeof s === "string")) inputs = input as string[];
        else throw badRequest("invalid input type", "input");
        const truncate = optionalBool(body, "truncate") ?? true;
        const dimensions = body.dimensions;
        if (dimensions != null && (typeof dimensions !== "number" || !Number.isInteger(dimensions) || dimensions < 1))
            throw badRequest("\"dimensions\" must be a positive integer", "dimensions");
        const dims = dimensions as number | undefined;
        const job = await runtime.job(requested, {keepAliveSeconds: parseKeepAlive(body.keep_alive)});
        if (passthrough(job)) return proxyOllama(request, reply, logger, job.upstream, "/api/embed", body, job.model);
        if (inputs.length === 0) {
            reply.header(MODEL_HEADER, job.model);
            const {loadMs} = await job.load(disconnectSignal(request, reply));
            return {model: job.model, embeddings: [], total_duration: ns(loadMs), load_duration: ns(loadMs), prompt_eval_count: 0};
        }
        const res = await runEmbedding(request, reply, job, inputs, truncate);
        return {
            model: job.model, embeddings: res.vectors.map((v) => shapeVector(v, dims)),
            ...(job.where === "local" ? {total_duration: ns(res.totalMs), load_duration: ns(res.loadMs)} : {}), prompt_eval_count: res.prompt_tokens
        };
    });

    app.post("/api/embeddings", {schema: embeddingsSchema}, async (request, reply) => {
        const body: Body = bodyOf(request);
        const requested = optionalString(body, "model");
        if (!requested) throw badRequest("model is required", "model");
        const prompt = optionalString(body, "prompt") ?? "";
        const job = await runtime.job(requested, {keepAliveSeconds: parseKeepAlive(body.keep_alive)});
        if (passthrough(job)) return proxyOllama(request, reply, logger, job.upstream, "/api/embeddings", body, job.model);
        if (prompt === "") {
            reply.header(MODEL_HEADER, job.model);
            await job.load(disconnectSignal(request, reply));
            return {embedding: []};
        }
        const res = await runEmbedding(request, reply, job, [prompt], true);
        return {embedding: res.vectors[0] ?? []};
    });
};
