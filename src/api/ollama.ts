import type {FastifyInstance, FastifyReply, FastifyRequest} from "fastify";
import type {Logger} from "../log/logger.js";
import type {ModelEntry} from "../registry/types.js";
import {HttpError} from "../runtime/errors.js";
import type {ChatMessage, GenerateRequest, ToolCall, ToolDefinition} from "../runtime/protocol.js";
import type {GenerationResult, Provider} from "../runtime/provider.js";
import {disconnectSignal} from "../server/stream.js";
import {proxyOllama, resolveTarget, upstreamShow, upstreamTags} from "../upstream/index.js";
import {embedOnTarget, serveOnTarget} from "../upstream/target.js";
import {checkOutputSchema, parseToolChoice} from "./constraints.js";
import {serveGeneration, type WireFormat} from "./generation.js";
import {mergeSampling, parseKeepAlive, parseOptions, type RequestOptions} from "./options.js";
import {
    capabilities, details, localTime, modelfileText, modelInfo, OLLAMA_COMPAT_VERSION, showParameters, showTemplate, supportsTools, tagEntry
} from "./ollama-models.js";

type Body = Record<string, unknown>;

export function bodyOf(request: FastifyRequest): Body {
    const b = request.body;
    if (b == null || typeof b !== "object" || Array.isArray(b)) throw new HttpError(400, "the request body must be a JSON object");
    return b as Body;
}

export function optionalString(body: Body, key: string): string | undefined {
    const v = body[key];
    if (v == null) return undefined;
    if (typeof v !== "string") throw new HttpError(400, `"${key}" must be a string`, "invalid_type", key);
    return v;
}

export function optionalBool(body: Body, key: string): boolean | undefined {
    const v = body[key];
    if (v == null) return undefined;
    if (typeof v !== "boolean") throw new HttpError(400, `"${key}" must be true or false`, "invalid_type", key);
    return v;
}

function nowIso(): string {
    return new Date().toISOString();
}

const ns = (ms: number) => Math.round(ms * 1e6);

function metrics(r: GenerationResult) {
    return {
        total_duration: ns(r.totalMs),
        load_duration: ns(r.loadMs),
        prompt_eval_count: r.stats.prompt_eval_count,
        prompt_eval_duration: r.stats.prompt_eval_duration_ns,
        eval_count: r.stats.eval_count,
        eval_duration: r.stats.eval_duration_ns
    };
}

function ollamaDoneReason(r: GenerationResult): string {
    return r.stats.done_reason === "tool_calls" ? "stop" : r.stats.done_reason;
}

function ollamaToolCalls(calls: ToolCall[]) {
    return calls.map((c, index) => ({id: c.id, function: {index, name: c.name, arguments: c.arguments}}));
}

/** `format`: "json" or a JSON-schema object. */
export function parseFormat(v: unknown): GenerateRequest["format"] {
    if (v == null || v === "") return undefined;
    if (v === "json") return "json";
    if (typeof v === "object" && !Array.isArray(v)) return checkOutputSchema(v, "format");
    throw new HttpError(400, `invalid format: expected "json" or a JSON schema object, got ${JSON.stringify(v).slice(0, 100)}`);
}

export function parseTools(v: unknown): ToolDefinition[] | undefined {
    if (v == null) return undefined;
    if (!Array.isArray(v)) throw new HttpError(400, "\"tools\" must be an array");
    return v.map((t, i) => {
        const fn = (t as {function?: Record<string, unknown>})?.function ?? t;
        if (fn == null || typeof fn !== "object" || typeof (fn as Body).name !== "string" || (fn as Body).name === "")
            throw new HttpError(400, `tools[${i}] needs a function with a name`);
        const f = fn as Body;
        return {name: f.name as string, description: typeof f.description === "string" ? f.description : undefined,
            parameters: (f.parameters ?? f.input_schema) as Record<string, unknown> | undefined};
    });
}

export function requireCapability(provider: Provider, entry: ModelEntry, cap: "tools" | "insert" | "completion" | "chat", requestedName: string): void {
    if (cap === "tools" && !supportsTools(provider, entry)) throw new HttpError(400, `${requestedName} does not support tools`);
    if (cap === "insert" && !entry.metadata?.has_fim) throw new HttpError(400, `${requestedName} does not support insert: its GGUF has no fill-in-the-middle tokens`);
    if ((cap === "completion" || cap === "chat") && entry.metadata?.is_embedding)
        throw new HttpError(400, `"${requestedName}" does not support ${cap === "chat" ? "chat" : "generate"}: it is an embedding model`);
}

/** System prompt: the request's, else the config's, else the Modelfile's; Modelfile MESSAGEs are prepended. */
export function withModelDefaults(provider: Provider, entry: ModelEntry, messages: ChatMessage[], requestSystem?: string): ChatMessage[] {
    const override = provider.config.models[entry.name];
    const system = requestSystem ?? override?.system ?? entry.defaults?.system;
    const preset = (entry.defaults?.messages ?? []).map((m) => ({role: m.role as ChatMessage["role"], content: m.content}));
    const out = [...preset, ...messages];
    if (system != null && system !== "" && out[0]?.role !== "system") out.unshift({role: "system", content: system});
    return out;
}

const ollamaGenerateFormat = (model: string, raw: boolean): WireFormat => ({
    contentType: "application/x-ndjson",
    text: (w, text) => w.ndjson({model, created_at: nowIso(), response: text, done: false}),
    toolCalls: () => undefined,
    finish: (w, r) => w.ndjson({model, created_at: nowIso(), response: "", done: true, done_reason: ollamaDoneReason(r), ...(raw ? {} : {context: []}), ...metrics(r)}),
    error: (w, message) => w.ndjson({error: message}),
    aggregate: (text, _calls, r) => ({model, created_at: nowIso(), response: text, done: true, done_reason: ollamaDoneReason(r), ...(raw ? {} : {context: []}), ...metrics(r)})
});

const ollamaChatFormat = (model: string): WireFormat => ({
    contentType: "application/x-ndjson",
    text: (w, text) => w.ndjson({model, created_at: nowIso(), message: {role: "assistant", content: text}, done: false}),
    toolCalls: (w, calls) => w.ndjson({model, created_at: nowIso(), message: {role: "assistant", content: "", tool_calls: ollamaToolCalls(calls)}, done: false}),
    finish: (w, r) => w.ndjson({model, created_at: nowIso(), message: {role: "assistant", content: ""}, done: true, done_reason: ollamaDoneReason(r), ...metrics(r)}),
    error: (w, message) => w.ndjson({error: message}),
    aggregate: (text, calls, r) => ({
        model, created_at: nowIso(),
        message: {role: "assistant", content: text, ...(calls.length > 0 ? {tool_calls: ollamaToolCalls(calls)} : {})},
        done: true, done_reason: ollamaDoneReason(r), ...metrics(r)
    })
});

function parseMessages(v: unknown): ChatMessage[] {
    if (v == null) return [];
    if (!Array.isArray(v)) throw new HttpError(400, "\"messages\" must be an array");
    return v.map((m, i) => {
        if (m == null || typeof m !== "object") throw new HttpError(400, `messages[${i}] must be an object`);
        const msg = m as Body;
        const role = typeof msg.role === "string" ? msg.role.toLowerCase() : "";
        if (!["system", "user", "assistant", "tool"].includes(role)) throw new HttpError(400, `messages[${i}].role must be one of system, user, assistant, tool`);
        if (msg.content != null && typeof msg.content !== "string") throw new HttpError(400, `messages[${i}].content must be a string`);
        if (Array.isArray(msg.images) && msg.images.length > 0)
            throw new HttpError(400, "images are not supported: this engine version has no vision input; send text only");
        const out: ChatMessage = {role: role as ChatMessage["role"], content: (msg.content as string | undefined) ?? ""};
        if (Array.isArray(msg.tool_calls))
            out.tool_calls = msg.tool_calls.map((tc: unknown, j: number) => {
                const fn = (tc as {function?: Body})?.function;
                if (!fn || typeof fn.name !== "string") throw new HttpError(400, `messages[${i}].tool_calls[${j}] needs function.name`);
                let args = fn.arguments ?? {};
                if (typeof args === "string") {
                    try {
                        args = JSON.parse(args);
                    } catch {
                        throw new HttpError(400, `messages[${i}].tool_calls[${j}].function.arguments is not valid JSON`);
                    }
                }
                return {id: typeof (tc as Body).id === "string" ? (tc as Body).id as string : `call_${j}`, name: fn.name, arguments: args as Record<string, unknown>};
            });
        if (typeof msg.tool_call_id === "string") out.tool_call_id = msg.tool_call_id;
        if (typeof msg.tool_name === "string") out.tool_name = msg.tool_name;
        else if (typeof msg.name === "string" && role === "tool") out.tool_name = msg.name;
        return out;
    });
}

/** `max_tokens` at the top level (the seed's editor example) maps to num_predict when options do not set it. */
function requestOptions(body: Body): RequestOptions {
    const opts = parseOptions(body.options);
    if (opts.num_predict == null && body.max_tokens != null) {
        if (typeof body.max_tokens !== "number") throw new HttpError(400, "\"max_tokens\" must be a number");
        opts.num_predict = body.max_tokens;
    }
    return opts;
}

export function registerOllamaRoutes(app: FastifyInstance, provider: Provider, logger: Logger): void {
    const root = async (_req: FastifyRequest, reply: FastifyReply) => reply.type("text/plain; charset=utf-8").send("Ollama is running");
    // Fastify answers HEAD for every GET route (exposeHeadRoutes)
    app.get("/", root);
    const version = async () => ({version: OLLAMA_COMPAT_VERSION});
    app.get("/api/version", version);

    const tags = async () => {
        const models = provider.registry.models().filter((m) => m.status !== "invalid")
            .sort((a, b) => b.mtime_ms - a.mtime_ms)
            .map((m) => tagEntry(m, provider.manager.stateOf(m.name) === "loaded" ? "loaded" : "unloaded"));
        return {models: [...models, ...await upstreamTags(provider, new Set(models.map((m) => m.name)))]};
    };
    app.get("/api/tags", tags);

    app.post("/api/show", async (request, reply) => {
        const body = bodyOf(request);
        const name = optionalString(body, "model") ?? optionalString(body, "name");
        if (!name) throw new HttpError(400, "model is required");
        const target = await resolveTarget(provider, name);
        if (target.kind === "upstream")
            return target.upstream.type === "ollama" ? proxyOllama(request, reply, logger, target.upstream, "/api/show", body, target.name) : upstreamShow(target.upstream, target.name);
        const entry = target.entry;
        const {parameters, system} = showParameters(provider, entry);
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
            capabilities: capabilities(provider, entry),
            modified_at: localTime(new Date(entry.mtime_ms))
        };
    });

    app.get("/api/ps", async () => ({
        models: provider.manager.resident().sort((a, b) => b.expiresAt.getTime() - a.expiresAt.getTime()).map((r) => ({
            name: r.entry.name,
            model: r.entry.name,
            size: r.sizeBytes,
            digest: r.entry.fingerprint,
            details: details(r.entry),
            expires_at: localTime(r.expiresAt),
            size_vram: r.gpu ? r.sizeBytes : 0,
            context_length: r.contextSize
        }))
    }));

    /** Empty prompt or messages: load (or unload with keep_alive 0) and answer with a single done chunk. */
    const loadOrUnload = async (request: FastifyRequest, reply: FastifyReply, entry: ModelEntry, name: string, keepAlive: number | undefined,
        numCtx: number | undefined, chat: boolean) => {
        const base = {model: name, created_at: nowIso(), ...(chat ? {message: {role: "assistant", content: ""}} : {response: ""}), done: true};
        if (keepAlive === 0) {
            await provider.manager.unloadModel(entry.name);
            return reply.send({...base, done_reason: "unload"});
        }
        const job = provider.prepare(entry, name, {numCtx, keepAliveSeconds: keepAlive});
        const {loadMs} = await job.load(disconnectSignal(request, reply));
        return reply.send({...base, done_reason: "load", total_duration: ns(loadMs), load_duration: ns(loadMs)});
    };

    app.post("/api/generate", async (request, reply) => {
        const body = bodyOf(request);
        const requested = optionalString(body, "model") || provider.config.default_model || "";
        const prompt = optionalString(body, "prompt") ?? "";
        const suffix = optionalString(body, "suffix");
        const system = optionalString(body, "system");
        const raw = optionalBool(body, "raw") ?? false;
        const stream = optionalBool(body, "stream") ?? true;
        const keepAlive = parseKeepAlive(body.keep_alive);
        const options = requestOptions(body);
        const format = parseFormat(body.format);
        if (Array.isArray(body.images) && body.images.length > 0)
            throw new HttpError(400, "images are not supported: this engine version has no vision input; send text only");
        if (raw && (body.template != null || system != null || body.context != null))
            throw new HttpError(400, "raw mode does not support template, system, or context");
        const grammar = optionalString(body, "grammar");
        const target = await resolveTarget(provider, requested);
        if (target.kind === "upstream") {
            if (target.upstream.type === "ollama") return proxyOllama(request, reply, logger, target.upstream, "/api/generate", body, target.name);
            const infill = suffix != null && suffix !== "";
            return serveOnTarget(provider, logger, request, reply, {requested, options, needs: [], build: (sampling) => infill
                ? {mode: "infill", prompt, suffix, options: sampling, format, grammar}
                : raw ? {mode: "completion", prompt, options: sampling, format, grammar}
                    : {mode: "chat", messages: [...(system ? [{role: "system" as const, content: system}] : []), {role: "user", content: prompt}], options: sampling, format, grammar}
            }, () => ollamaGenerateFormat(requested, raw), stream, target);
        }
        const entry = target.entry;
        if (prompt === "" && !suffix) return loadOrUnload(request, reply, entry, requested, keepAlive, options.num_ctx, false);
        requireCapability(provider, entry, "completion", requested);
        let gen: GenerateRequest;
        const sampling = mergeSampling(entry, provider.config.models[entry.name], options);
        if (suffix != null && suffix !== "") {
            requireCapability(provider, entry, "insert", requested);
            gen = {mode: "infill", prompt, suffix, options: sampling, format, grammar};
        } else if (raw) {
            gen = {mode: "completion", prompt, options: sampling, format, grammar};
        } else {
            gen = {mode: "chat", messages: withModelDefaults(provider, entry, [{role: "user", content: prompt}], system), options: sampling, format, grammar};
        }
        const job = provider.prepare(entry, requested, {numCtx: options.num_ctx, keepAliveSeconds: keepAlive});
        await serveGeneration(request, reply, logger, job, gen, ollamaGenerateFormat(requested, raw), stream, options.num_ctx);
    });

    app.post("/api/chat", async (request, reply) => {
        const body = bodyOf(request);
        const requested = optionalString(body, "model");
        if (!requested) throw new HttpError(400, "model is required");
        const stream = optionalBool(body, "stream") ?? true;
        const keepAlive = parseKeepAlive(body.keep_alive);
        const options = requestOptions(body);
        const format = parseFormat(body.format);
        const messages = parseMessages(body.messages);
        const tools = parseTools(body.tools);
        // not in Ollama's API: OpenAI's tool_choice, so Ollama clients can force or forbid a call too
        const toolChoice = parseToolChoice(body.tool_choice, undefined, tools);
        const grammar = optionalString(body, "grammar");
        const target = await resolveTarget(provider, requested);
        if (target.kind === "upstream") {
            if (target.upstream.type === "ollama") return proxyOllama(request, reply, logger, target.upstream, "/api/chat", body, target.name);
            return serveOnTarget(provider, logger, request, reply, {requested, options, needs: [],
                build: (sampling) => ({mode: "chat", messages, options: sampling, tools, tool_choice: toolChoice, format, grammar})}, () => ollamaChatFormat(requested), stream, target);
        }
        const entry = target.entry;
        if (messages.length === 0) return loadOrUnload(request, reply, entry, requested, keepAlive, options.num_ctx, true);
        requireCapability(provider, entry, "chat", requested);
        if (tools && tools.length > 0) requireCapability(provider, entry, "tools", requested);
        if (tools && tools.length > 0 && (format != null || grammar != null))
            throw new HttpError(400, "a request cannot combine tools with format or grammar: the engine cannot constrain both at once; send one or the other");
        const gen: GenerateRequest = {
            mode: "chat",
            messages: withModelDefaults(provider, entry, messages),
            options: mergeSampling(entry, provider.config.models[entry.name], options),
            tools, tool_choice: toolChoice, format, grammar
        };
        const job = provider.prepare(entry, requested, {numCtx: options.num_ctx, keepAliveSeconds: keepAlive});
        await serveGeneration(request, reply, logger, job, gen, ollamaChatFormat(requested), stream, options.num_ctx);
    });

    app.post("/api/embed", async (request, reply) => {
        const body = bodyOf(request);
        const requested = optionalString(body, "model");
        if (!requested) throw new HttpError(400, "model is required");
        const input = body.input;
        let inputs: string[];
        if (input == null) inputs = [];
        else if (typeof input === "string") inputs = [input];
        else if (Array.isArray(input) && input.every((s) => typeof s === "string")) inputs = input as string[];
        else throw new HttpError(400, "invalid input type");
        const truncate = optionalBool(body, "truncate") ?? true;
        const dimensions = body.dimensions;
        if (dimensions != null && (typeof dimensions !== "number" || !Number.isInteger(dimensions) || dimensions < 1))
            throw new HttpError(400, "\"dimensions\" must be a positive integer");
        const keepAlive = parseKeepAlive(body.keep_alive);
        const target = await resolveTarget(provider, requested);
        if (target.kind === "upstream") {
            if (target.upstream.type === "ollama") return proxyOllama(request, reply, logger, target.upstream, "/api/embed", body, target.name);
            const res = await embedOnTarget(provider, request, reply, requested, inputs, truncate);
            return {model: requested, embeddings: res.vectors.map((v) => normalize(dimensions != null ? v.slice(0, dimensions as number) : v)), prompt_eval_count: res.prompt_tokens};
        }
        const entry = target.entry;
        const job = provider.prepare(entry, requested, {keepAliveSeconds: keepAlive});
        const signal = disconnectSignal(request, reply);
        if (inputs.length === 0) {
            const {loadMs} = await job.load(signal);
            return {model: requested, embeddings: [], total_duration: ns(loadMs), load_duration: ns(loadMs), prompt_eval_count: 0};
        }
        const res = await job.embed({inputs, truncate}, signal);
        request.facts.model = entry.name;
        request.facts.prompt_tokens = res.prompt_tokens;
        const embeddings = res.vectors.map((v) => normalize(dimensions != null ? v.slice(0, dimensions as number) : v));
        return {model: requested, embeddings, total_duration: ns(res.totalMs), load_duration: ns(res.loadMs), prompt_eval_count: res.prompt_tokens};
    });

    app.post("/api/embeddings", async (request, reply) => {
        const body = bodyOf(request);
        const requested = optionalString(body, "model");
        if (!requested) throw new HttpError(400, "model is required");
        const prompt = optionalString(body, "prompt") ?? "";
        const keepAlive = parseKeepAlive(body.keep_alive);
        const target = await resolveTarget(provider, requested);
        if (target.kind === "upstream") {
            if (target.upstream.type === "ollama") return proxyOllama(request, reply, logger, target.upstream, "/api/embeddings", body, target.name);
            return {embedding: (await embedOnTarget(provider, request, reply, requested, [prompt], true)).vectors[0] ?? []};
        }
        const entry = target.entry;
        const job = provider.prepare(entry, requested, {keepAliveSeconds: keepAlive});
        const signal = disconnectSignal(request, reply);
        if (prompt === "") {
            await job.load(signal);
            return {embedding: []};
        }
        const res = await job.embed({inputs: [prompt], truncate: true}, signal);
        return {embedding: res.vectors[0]};
    });
}

/** L2 normalisation, as Ollama's /api/embed returns. */
export function normalize(v: number[]): number[] {
    const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
    return norm > 0 ? v.map((x) => x / norm) : v;
}
