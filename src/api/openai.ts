import {randomBytes} from "node:crypto";
import type {FastifyInstance} from "fastify";
import type {Logger} from "../log/logger.js";
import {HttpError} from "../runtime/errors.js";
import type {ChatMessage, GenerateRequest, ToolCall, ToolDefinition} from "../runtime/protocol.js";
import type {GenerationResult, Provider} from "../runtime/provider.js";
import {resolveTarget, upstreamsOf} from "../upstream/index.js";
import {embedOnTarget, serveOnTarget} from "../upstream/target.js";
import type {WireFormat} from "./generation.js";
import {bodyOf, normalize, optionalBool, optionalString, withModelDefaults} from "./ollama.js";
import {parseKeepAlive, type RequestOptions} from "./options.js";
import {checkOutputSchema, parseToolChoice} from "./constraints.js";

type Body = Record<string, unknown>;

export const SYSTEM_FINGERPRINT = "fp_zombiecoder";

export function randomId(prefix: string, bytes = 12): string {
    return prefix + randomBytes(bytes).toString("base64url").replace(/[-_]/g, "x");
}

const unix = () => Math.floor(Date.now() / 1000);

function invalid(message: string, param?: string): HttpError {
    return new HttpError(400, message, undefined, param);
}

function optionalNumber(body: Body, key: string): number | undefined {
    const v = body[key];
    if (v == null) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v)) throw invalid(`"${key}" must be a number, got ${JSON.stringify(v)}`, key);
    return v;
}

/** `stop`: a string or an array of strings (OpenAI allows up to 4; more are accepted). */
export function parseStop(v: unknown, key = "stop"): string[] | undefined {
    if (v == null) return undefined;
    const list = typeof v === "string" ? [v] : v;
    if (!Array.isArray(list) || !list.every((s) => typeof s === "string")) throw invalid(`"${key}" must be a string or an array of strings`, key);
    return list.filter((s) => s !== "");
}

/** OpenAI's sampling fields, plus llama-server's top_k / min_p / repeat_penalty extensions. */
function openAIOptions(body: Body): RequestOptions {
    const opts: RequestOptions = {};
    const maxTokens = optionalNumber(body, "max_completion_tokens") ?? optionalNumber(body, "max_tokens") ?? optionalNumber(body, "n_predict");
    if (maxTokens != null) {
        if (!Number.isInteger(maxTokens) || maxTokens < 1) throw invalid("\"max_tokens\" must be a positive integer", "max_tokens");
        opts.num_predict = maxTokens;
    }
    const map: Array<[keyof RequestOptions, string]> = [
        ["temperature", "temperature"], ["top_p", "top_p"], ["seed", "seed"], ["frequency_penalty", "frequency_penalty"],
        ["presence_penalty", "presence_penalty"], ["top_k", "top_k"], ["min_p", "min_p"], ["repeat_penalty", "repeat_penalty"]
    ];
    for (const [opt, key] of map) {
        const v = optionalNumber(body, key);
        if (v != null) (opts as Record<string, number>)[opt] = v;
    }
    const stop = parseStop(body.stop);
    if (stop) opts.stop = stop;
    const n = optionalNumber(body, "n");
    if (n != null && n !== 1) throw invalid("only n = 1 is supported: send one request per choice", "n");
    return opts;
}

/** A message `content`: a string, null, or an array of text parts. Anything else is refused by name. */
export function contentText(v: unknown, where: string): string {
    if (v == null) return "";
    if (typeof v === "string") return v;
    if (!Array.isArray(v)) throw invalid(`${where} must be a string or an array of content parts`, where);
    return v.map((part, i) => {
        if (typeof part === "string") return part;
        const p = part as Body | null;
        const type = p?.type;
        if ((type === "text" || type === "input_text") && typeof p?.text === "string") return p.text;
        if (type === "image_url" || type === "input_image" || type === "image")
            throw invalid(`${where}[${i}] is an image: images are not supported (no vision input in this engine version); send text only`, where);
        throw invalid(`${where}[${i}] has type ${JSON.stringify(type)}: only text parts are supported`, where);
    }).join("");
}

function parseArguments(v: unknown, where: string): Record<string, unknown> {
    if (v == null || v === "") return {};
    if (typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
    if (typeof v !== "string") throw invalid(`${where} must be a JSON string`, where);
    try {
        const parsed: unknown = JSON.parse(v);
        if (parsed == null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
        return parsed as Record<string, unknown>;
    } catch {
        throw invalid(`${where} is not a JSON object: invalid tool call arguments`, where);
    }
}

/** OpenAI messages → internal ones: developer → system, tool results keep their call id and get the function's name. */
export function parseOpenAIMessages(v: unknown): ChatMessage[] {
    if (!Array.isArray(v)) throw invalid("\"messages\" must be an array", "messages");
    if (v.length === 0) throw invalid("[] is too short - 'messages'", "messages");
    const names = new Map<string, string>();
    return v.map((m, i) => {
        if (m == null || typeof m !== "object") throw invalid(`messages[${i}] must be an object`, "messages");
        const msg = m as Body;
        const role = msg.role;
        const where = `messages[${i}].content`;
        if (role === "system" || role === "developer") return {role: "system", content: contentText(msg.content, where)};
        if (role === "user") return {role: "user", content: contentText(msg.content, where)};
        if (role === "assistant") {
            const out: ChatMessage = {role: "assistant", content: contentText(msg.content, where)};
            const calls = Array.isArray(msg.tool_calls) ? msg.tool_calls : msg.function_call != null ? [{id: "call_legacy", function: msg.function_call}] : [];
            if (calls.length > 0) {
                out.tool_calls = calls.map((tc: unknown, j: number): ToolCall => {
                    const fn = (tc as Body | null)?.function as Body | undefined;
                    if (!fn || typeof fn.name !== "string") throw invalid(`messages[${i}].tool_calls[${j}] needs function.name`, "messages");
                    const id = typeof (tc as Body).id === "string" ? (tc as Body).id as string : `call_${i}_${j}`;
                    names.set(id, fn.name);
                    return {id, name: fn.name, arguments: parseArguments(fn.arguments, `messages[${i}].tool_calls[${j}].function.arguments`)};
                });
            }
            return out;
        }
        if (role === "tool" || role === "function") {
            const id = typeof msg.tool_call_id === "string" ? msg.tool_call_id : undefined;
            const name = typeof msg.name === "string" ? msg.name : id ? names.get(id) : undefined;
            return {role: "tool", content: contentText(msg.content, where), ...(id ? {tool_call_id: id} : {}), ...(name ? {tool_name: name} : {})};
        }
        throw invalid(`messages[${i}].role must be one of system, developer, user, assistant, tool; got ${JSON.stringify(role)}`, "messages");
    });
}

/** `tools` (and the legacy `functions`) → internal definitions; only function tools exist here. */
export function parseOpenAITools(tools: unknown, functions: unknown): ToolDefinition[] | undefined {
    const list = tools ?? (Array.isArray(functions) ? functions.map((f) => ({type: "function", function: f})) : undefined);
    if (list == null) return undefined;
    if (!Array.isArray(list)) throw invalid("\"tools\" must be an array", "tools");
    return list.map((t, i) => {
        const tool = t as Body | null;
        if (tool?.type !== "function") throw invalid(`tools[${i}].type must be "function"; got ${JSON.stringify(tool?.type)}`, "tools");
        const fn = tool.function as Body | undefined;
        if (!fn || typeof fn.name !== "string" || !/^[a-zA-Z0-9_.-]{1,64}$/.test(fn.name))
            throw invalid(`tools[${i}].function.name must be 1-64 letters, digits, _ . or -`, "tools");
        if (fn.parameters != null && (typeof fn.parameters !== "object" || Array.isArray(fn.parameters)))
            throw invalid(`tools[${i}].function.parameters must be a JSON schema object`, "tools");
        return {name: fn.name, description: typeof fn.description === "string" ? fn.description : undefined, parameters: fn.parameters as Record<string, unknown> | undefined};
    });
}

export function parseResponseFormat(v: unknown): GenerateRequest["format"] {
    if (v == null) return undefined;
    const rf = v as Body;
    if (typeof rf !== "object" || typeof rf.type !== "string") throw invalid("response_format must be an object with a type", "response_format");
    if (rf.type === "text") return undefined;
    if (rf.type === "json_object") return "json";
    if (rf.type === "json_schema") {
        const js = rf.json_schema as Body | undefined;
        return checkOutputSchema(js?.schema, "response_format.json_schema.schema");
    }
    throw invalid(`response_format.type must be text, json_object or json_schema; got ${JSON.stringify(rf.type)}`, "response_format");
}

function finishReason(r: GenerationResult, calls: number): string {
    if (calls > 0 || r.stats.done_reason === "tool_calls") return "tool_calls";
    return r.stats.done_reason;
}

export function openAIUsage(r: GenerationResult) {
    return {
        prompt_tokens: r.stats.prompt_tokens,
        completion_tokens: r.stats.eval_count,
        total_tokens: r.stats.prompt_tokens + r.stats.eval_count,
        prompt_tokens_details: {cached_tokens: r.stats.cached_tokens}
    };
}

function wireCalls(calls: ToolCall[], start: number) {
    return calls.map((c, i) => ({index: start + i, id: c.id, type: "function" as const, function: {name: c.name, arguments: JSON.stringify(c.arguments)}}));
}

function errorEvent(message: string, status: number) {
    return {error: {message, type: status >= 500 ? "api_error" : "invalid_request_error", param: null, code: null}};
}

/** Chat completion chunks: a role chunk first, content deltas, whole tool calls with an index, a finish chunk, usage, [DONE]. */
function chatFormat(model: string, includeUsage: boolean): WireFormat {
    const id = randomId("chatcmpl-");
    const created = unix();
    const base = {id, object: "chat.completion.chunk", created, model, system_fingerprint: SYSTEM_FINGERPRINT};
    let callIndex = 0;
    const chunk = (delta: Body, finish: string | null = null) => ({...base, choices: [{index: 0, delta, logprobs: null, finish_reason: finish}]});
    return {
        contentType: "text/event-stream",
        start: (w) => w.sse(chunk({role: "assistant", content: ""})),
        text: (w, text) => w.sse(chunk({content: text})),
        toolCalls: (w, calls) => {
            w.sse(chunk({tool_calls: wireCalls(calls, callIndex)}));
            callIndex += calls.length;
        },
        finish: (w, r) => {
            w.sse(chunk({}, finishReason(r, callIndex)));
            if (includeUsage) w.sse({...base, choices: [], usage: openAIUsage(r)});
            w.sse("[DONE]");
        },
        error: (w, message, status) => w.sse(errorEvent(message, status)),
        aggregate: (text, calls, r) => ({
            id, object: "chat.completion", created, model, system_fingerprint: SYSTEM_FINGERPRINT,
            choices: [{
                index: 0,
                message: {role: "assistant", content: calls.length > 0 && text === "" ? null : text, refusal: null, ...(calls.length > 0 ? {tool_calls: wireCalls(calls, 0)} : {})},
                logprobs: null,
                finish_reason: finishReason(r, calls.length)
            }],
            usage: openAIUsage(r)
        })
    };
}

function completionFormat(model: string, includeUsage: boolean): WireFormat {
    const id = randomId("cmpl-");
    const created = unix();
    const base = {id, object: "text_completion", created, model, system_fingerprint: SYSTEM_FINGERPRINT};
    const chunk = (text: string, finish: string | null = null) => ({...base, choices: [{text, index: 0, logprobs: null, finish_reason: finish}]});
    return {
        contentType: "text/event-stream",
        text: (w, text) => w.sse(chunk(text)),
        toolCalls: () => undefined,
        finish: (w, r) => {
            w.sse(chunk("", r.stats.done_reason === "length" ? "length" : "stop"));
            if (includeUsage) w.sse({...base, choices: [], usage: openAIUsage(r)});
            w.sse("[DONE]");
        },
        error: (w, message, status) => w.sse(errorEvent(message, status)),
        aggregate: (text, _calls, r) => ({...chunk(text, r.stats.done_reason === "length" ? "length" : "stop"), usage: openAIUsage(r)})
    };
}

function includeUsage(body: Body): boolean {
    const so = body.stream_options as Body | undefined;
    return so != null && typeof so === "object" && so.include_usage === true;
}

function requireModel(provider: Provider, body: Body): string {
    const model = optionalString(body, "model") || provider.config.default_model || "";
    if (!model) throw invalid("you must provide a model parameter", "model");
    return model;
}

/** Float32 little-endian, base64: OpenAI's `encoding_format: "base64"`. */
export function base64Floats(v: number[]): string {
    const buf = Buffer.alloc(v.length * 4);
    v.forEach((x, i) => buf.writeFloatLE(x, i * 4));
    return buf.toString("base64");
}

export function registerOpenAIRoutes(app: FastifyInstance, provider: Provider, logger: Logger): void {
    app.post("/v1/chat/completions", async (request, reply) => {
        const body = bodyOf(request);
        const requested = requireModel(provider, body);
        const stream = optionalBool(body, "stream") ?? false;
        const messages = parseOpenAIMessages(body.messages);
        const tools = parseOpenAITools(body.tools, body.functions);
        const toolChoice = parseToolChoice(body.tool_choice, body.function_call, tools);
        const format = parseResponseFormat(body.response_format);
        const grammar = optionalString(body, "grammar");
        const usesTools = tools != null && tools.length > 0 && toolChoice !== "none";
        if (usesTools && (format != null || grammar != null))
            throw invalid("a request cannot combine tools with response_format or grammar: the engine cannot constrain both at once; send one or the other", "response_format");
        const options = openAIOptions(body);
        await serveOnTarget(provider, logger, request, reply, {
            requested, options,
            keepAliveSeconds: parseKeepAlive(body.keep_alive),
            needs: usesTools ? ["completion", "tools"] : ["completion"],
            build: (sampling, entry) => ({
                mode: "chat",
                messages: entry ? withModelDefaults(provider, entry, messages) : messages,
                options: sampling,
                ...(tools?.length ? {tools} : {}),
                ...(toolChoice ? {tool_choice: toolChoice} : {}),
                format, grammar
            })
        }, () => chatFormat(requested, includeUsage(body)), stream);
    });

    app.post("/v1/completions", async (request, reply) => {
        const body = bodyOf(request);
        const requested = requireModel(provider, body);
        const stream = optionalBool(body, "stream") ?? false;
        let prompt = body.prompt;
        if (Array.isArray(prompt)) {
            if (prompt.length !== 1 || typeof prompt[0] !== "string") throw invalid("\"prompt\" must be a string (one prompt per request; token arrays are not supported)", "prompt");
            prompt = prompt[0];
        }
        if (prompt != null && typeof prompt !== "string") throw invalid("\"prompt\" must be a string", "prompt");
        const suffix = optionalString(body, "suffix");
        if (body.echo === true) throw invalid("echo is not supported", "echo");
        const bestOf = optionalNumber(body, "best_of");
        if (bestOf != null && bestOf > 1) throw invalid("best_of > 1 is not supported", "best_of");
        const options = openAIOptions(body);
        const grammar = optionalString(body, "grammar");
        const infill = suffix != null && suffix !== "";
        await serveOnTarget(provider, logger, request, reply, {
            requested, options,
            keepAliveSeconds: parseKeepAlive(body.keep_alive),
            needs: infill ? ["completion", "insert"] : ["completion"],
            // OpenAI's completions are raw text: no chat template, as llama-server does
            build: (sampling) => infill
                ? {mode: "infill", prompt: (prompt as string | undefined) ?? "", suffix, options: sampling, grammar}
                : {mode: "completion", prompt: (prompt as string | undefined) ?? "", options: sampling, grammar}
        }, () => completionFormat(requested, includeUsage(body)), stream);
    });

    const modelObject = (id: string, created: number, owner: string) => ({id, object: "model", created, owned_by: owner});

    app.get("/v1/models", async () => {
        const local = provider.registry.models().filter((m) => m.status !== "invalid").sort((a, b) => b.mtime_ms - a.mtime_ms);
        const data = local.map((m) => modelObject(m.name, Math.floor(m.mtime_ms / 1000), "zombiecoder"));
        const ups = upstreamsOf(provider);
        if (ups) {
            for (const {upstream, model} of await ups.models(new Set(local.map((m) => m.name))))
                data.push(modelObject(model.name, model.created ?? (Math.floor(Date.parse(String(model.tag?.modified_at ?? "")) / 1000) || 0), upstream.id));
        }
        return {object: "list", data};
    });

    app.get("/v1/models/*", async (request) => {
        // already percent-decoded by Fastify; decoding again would turn a literal "%" into a 500
        const id = String((request.params as Record<string, string>)["*"] ?? "");
        const target = await resolveTarget(provider, id);
        if (target.kind === "upstream") return modelObject(id, 0, target.upstream.id);
        return modelObject(id, Math.floor(target.entry.mtime_ms / 1000), "zombiecoder");
    });

    app.post("/v1/embeddings", async (request, reply) => {
        const body = bodyOf(request);
        const requested = requireModel(provider, body);
        const input = body.input;
        let inputs: string[];
        if (typeof input === "string") inputs = [input];
        else if (Array.isArray(input) && input.length > 0 && input.every((s) => typeof s === "string")) inputs = input as string[];
        else if (Array.isArray(input) && input.length > 0 && input.every((s) => typeof s === "number" || Array.isArray(s)))
            throw invalid("token arrays are not supported as input: send text", "input");
        else throw invalid("invalid input: \"input\" must be a string or a non-empty array of strings", "input");
        const encoding = optionalString(body, "encoding_format") ?? "float";
        if (encoding !== "float" && encoding !== "base64") throw invalid(`invalid encoding format: ${JSON.stringify(encoding)}; use "float" or "base64"`, "encoding_format");
        const dimensions = optionalNumber(body, "dimensions");
        if (dimensions != null && (!Number.isInteger(dimensions) || dimensions < 1)) throw invalid("\"dimensions\" must be a positive integer", "dimensions");
        const res = await embedOnTarget(provider, request, reply, requested, inputs, true, parseKeepAlive(body.keep_alive));
        return {
            object: "list",
            data: res.vectors.map((v, index) => {
                const vector = normalize(dimensions != null ? v.slice(0, dimensions) : v);
                return {object: "embedding", embedding: encoding === "base64" ? base64Floats(vector) : vector, index};
            }),
            model: requested,
            usage: {prompt_tokens: res.prompt_tokens, total_tokens: res.prompt_tokens}
        };
    });
}
