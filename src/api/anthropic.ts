import type {FastifyInstance} from "fastify";
import type {Logger} from "../log/logger.js";
import {HttpError} from "../runtime/errors.js";
import type {ChatMessage, ToolCall, ToolChoice, ToolDefinition} from "../runtime/protocol.js";
import type {GenerationResult, Provider} from "../runtime/provider.js";
import {resolveTarget} from "../upstream/index.js";
import type {StreamWriter} from "../server/stream.js";
import {disconnectSignal} from "../server/stream.js";
import type {WireFormat} from "./generation.js";
import {bodyOf, optionalBool, optionalString, requireCapability, withModelDefaults} from "./ollama.js";
import {checkOutputSchema} from "./constraints.js";
import {parseStop, randomId} from "./openai.js";
import type {RequestOptions} from "./options.js";
import {serveOnTarget} from "../upstream/target.js";

type Body = Record<string, unknown>;

function invalid(message: string): HttpError {
    return new HttpError(400, message);
}

function number(body: Body, key: string): number | undefined {
    const v = body[key];
    if (v == null) return undefined;
    if (typeof v !== "number" || !Number.isFinite(v)) throw invalid(`${key}: Input should be a valid number`);
    return v;
}

/** Text of a block list (or a string); images and documents are refused by name. */
function blocksText(v: unknown, where: string): string {
    if (v == null) return "";
    if (typeof v === "string") return v;
    if (!Array.isArray(v)) throw invalid(`${where}: Input should be a valid string or list of content blocks`);
    return v.map((b, i) => {
        const block = b as Body | null;
        if (block?.type === "text" && typeof block.text === "string") return block.text;
        if (block?.type === "image" || block?.type === "document")
            throw invalid(`${where}.${i}: ${block.type} blocks are not supported (no vision or document input in this engine version); send text only`);
        throw invalid(`${where}.${i}: unsupported content block type ${JSON.stringify(block?.type)} here`);
    }).join("");
}

/** `system`: a string or text blocks (cache_control is accepted and ignored). */
function systemText(v: unknown): string | undefined {
    if (v == null) return undefined;
    return blocksText(v, "system");
}

/**
 * Anthropic messages → internal ones. A user turn's tool_result blocks become tool messages (they answer the
 * previous assistant turn's tool_use blocks) ahead of its text; thinking blocks are dropped.
 */
export function parseAnthropicMessages(v: unknown): ChatMessage[] {
    if (!Array.isArray(v) || v.length === 0) throw invalid("messages: at least one message is required");
    const names = new Map<string, string>();
    const out: ChatMessage[] = [];
    v.forEach((m, i) => {
        const msg = m as Body | null;
        const role = msg?.role;
        if (role !== "user" && role !== "assistant") throw invalid(`messages.${i}.role: Input should be 'user' or 'assistant'`);
        const content = msg!.content;
        if (typeof content === "string") {
            out.push({role, content});
            return;
        }
        if (!Array.isArray(content)) throw invalid(`messages.${i}.content: Input should be a valid string or list of content blocks`);
        let text = "";
        const calls: ToolCall[] = [];
        const results: ChatMessage[] = [];
        content.forEach((b, j) => {
            const block = b as Body | null;
            const where = `messages.${i}.content.${j}`;
            switch (block?.type) {
                case "text":
                    text += typeof block.text === "string" ? block.text : "";
                    break;
                case "tool_use": {
                    if (role !== "assistant") throw invalid(`${where}: tool_use blocks belong to assistant messages`);
                    if (typeof block.id !== "string" || typeof block.name !== "string") throw invalid(`${where}: tool_use needs id and name`);
                    const input = block.input ?? {};
                    if (typeof input !== "object" || Array.isArray(input)) throw invalid(`${where}.input: Input should be an object`);
                    names.set(block.id, block.name);
                    calls.push({id: block.id, name: block.name, arguments: input as Record<string, unknown>});
                    break;
                }
                case "tool_result": {
                    if (role !== "user") throw invalid(`${where}: tool_result blocks belong to user messages`);
                    if (typeof block.tool_use_id !== "string") throw invalid(`${where}: tool_result needs tool_use_id`);
                    const resultText = blocksText(block.content, `${where}.content`);
                    const name = names.get(block.tool_use_id);
                    results.push({
                        role: "tool", content: block.is_error === true ? `Error: ${resultText}` : resultText,
                        tool_call_id: block.tool_use_id, ...(name ? {tool_name: name} : {})
                    });
                    break;
                }
                case "thinking":
                case "redacted_thinking":
                    break;
                default:
                    blocksText([block], where);
            }
        });
        out.push(...results);
        if (role === "assistant") out.push({role, content: text, ...(calls.length > 0 ? {tool_calls: calls} : {})});
        else if (text !== "" || results.length === 0) out.push({role, content: text});
    });
    return out;
}

export function parseAnthropicTools(v: unknown): ToolDefinition[] | undefined {
    if (v == null) return undefined;
    if (!Array.isArray(v)) throw invalid("tools: Input should be a valid list");
    return v.map((t, i) => {
        const tool = t as Body | null;
        if (typeof tool?.name !== "string" || tool.name === "") throw invalid(`tools.${i}.name: Field required`);
        if (tool.type != null && tool.type !== "custom")
            throw invalid(`tools.${i}: '${tool.name}' is an Anthropic server tool (${String(tool.type)}); only custom tools with an input_schema can run on local models`);
        const schema = tool.input_schema;
        if (schema == null || typeof schema !== "object" || Array.isArray(schema)) throw invalid(`tools.${i}.input_schema: Field required`);
        return {name: tool.name, description: typeof tool.description === "string" ? tool.description : undefined, parameters: schema as Record<string, unknown>};
    });
}

function parseToolChoice(v: unknown, tools: ToolDefinition[] | undefined): ToolChoice | undefined {
    if (v == null) return undefined;
    const tc = v as Body;
    switch (tc.type) {
        case "auto":
            return "auto";
        case "none":
            return "none";
        case "any":
            if (!tools?.length) throw invalid("tool_choice: 'any' needs tools");
            return "required";
        case "tool":
            if (typeof tc.name !== "string" || !tools?.some((t) => t.name === tc.name))
                throw invalid(`tool_choice: the tool ${JSON.stringify(tc.name)} is not among the tools sent`);
            return {name: tc.name};
        default:
            throw invalid("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'");
    }
}

function stopReason(r: GenerationResult, calls: number): string {
    if (calls > 0 || r.stats.done_reason === "tool_calls") return "tool_use";
    if (r.stats.stop_sequence) return "stop_sequence";
    return r.stats.done_reason === "length" ? "max_tokens" : "end_turn";
}

function usage(r: GenerationResult) {
    return {
        input_tokens: Math.max(0, r.stats.prompt_tokens - r.stats.cached_tokens),
        output_tokens: r.stats.eval_count,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: r.stats.cached_tokens
    };
}

function errorType(status: number): string {
    if (status === 400) return "invalid_request_error";
    if (status === 404) return "not_found_error";
    if (status === 503) return "overloaded_error";
    return "api_error";
}

/** Anthropic's event sequence: message_start, per block start/delta/stop, message_delta with the stop reason, message_stop. */
function messagesFormat(model: string): WireFormat {
    const id = randomId("msg_");
    let index = -1;
    let textOpen = false;
    let calls = 0;
    const ev = (w: StreamWriter, type: string, data: Body) => w.sse({type, ...data}, type);
    const closeText = (w: StreamWriter) => {
        if (!textOpen) return;
        ev(w, "content_block_stop", {index});
        textOpen = false;
    };
    return {
        contentType: "text/event-stream",
        start: (w) => {
            ev(w, "message_start", {message: {id, type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null,
                usage: {input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0}}});
            ev(w, "ping", {});
        },
        text: (w, text) => {
            if (!textOpen) {
                index++;
                textOpen = true;
                ev(w, "content_block_start", {index, content_block: {type: "text", text: ""}});
            }
            ev(w, "content_block_delta", {index, delta: {type: "text_delta", text}});
        },
        toolCalls: (w, list) => {
            closeText(w);
            for (const c of list) {
                index++;
                calls++;
                ev(w, "content_block_start", {index, content_block: {type: "tool_use", id: c.id, name: c.name, input: {}}});
                ev(w, "content_block_delta", {index, delta: {type: "input_json_delta", partial_json: JSON.stringify(c.arguments)}});
                ev(w, "content_block_stop", {index});
            }
        },
        finish: (w, r) => {
            if (index < 0) {
                // a turn always has a block, even an empty one
                index++;
                textOpen = true;
                ev(w, "content_block_start", {index, content_block: {type: "text", text: ""}});
            }
            closeText(w);
            ev(w, "message_delta", {delta: {stop_reason: stopReason(r, calls), stop_sequence: r.stats.stop_sequence ?? null}, usage: usage(r)});
            ev(w, "message_stop", {});
        },
        error: (w, message, status) => ev(w, "error", {error: {type: errorType(status), message}}),
        aggregate: (text, list, r) => ({
            id, type: "message", role: "assistant", model,
            content: [
                ...(text !== "" || list.length === 0 ? [{type: "text", text}] : []),
                ...list.map((c) => ({type: "tool_use", id: c.id, name: c.name, input: c.arguments}))
            ],
            stop_reason: stopReason(r, list.length),
            stop_sequence: r.stats.stop_sequence ?? null,
            usage: usage(r)
        })
    };
}

export function registerAnthropicRoutes(app: FastifyInstance, provider: Provider, logger: Logger): void {
    app.post("/v1/messages", async (request, reply) => {
        const body = bodyOf(request);
        const requested = optionalString(body, "model");
        if (!requested) throw invalid("model: Field required");
        const maxTokens = number(body, "max_tokens");
        if (maxTokens == null) throw invalid("max_tokens: Field required");
        if (!Number.isInteger(maxTokens) || maxTokens < 1) throw invalid("max_tokens: Input should be a positive integer");
        const stream = optionalBool(body, "stream") ?? false;
        const system = systemText(body.system);
        const messages = parseAnthropicMessages(body.messages);
        const tools = parseAnthropicTools(body.tools);
        const toolChoice = parseToolChoice(body.tool_choice, tools);
        const usesTools = tools != null && tools.length > 0 && toolChoice !== "none";
        const outputFormat = (body.output_config as Body | undefined)?.format as Body | null | undefined;
        if (outputFormat != null && outputFormat.type !== "json_schema") throw invalid("output_config.format.type: Input should be 'json_schema'");
        const format = outputFormat != null ? checkOutputSchema(outputFormat.schema, "output_config.format.schema") : undefined;
        if (format && usesTools) throw invalid("a request cannot combine tools with output_config.format: the engine cannot constrain both at once; send one or the other");
        const options: RequestOptions = {num_predict: maxTokens};
        for (const key of ["temperature", "top_p", "top_k"] as const) {
            const v = number(body, key);
            if (v != null) options[key] = v;
        }
        const stop = parseStop(body.stop_sequences, "stop_sequences");
        if (stop) options.stop = stop;
        await serveOnTarget(provider, logger, request, reply, {
            requested, options,
            needs: usesTools ? ["completion", "tools"] : ["completion"],
            build: (sampling, entry) => {
                const withSystem: ChatMessage[] = system != null && system !== "" ? [{role: "system", content: system}, ...messages] : messages;
                return {
                    mode: "chat",
                    messages: entry ? withModelDefaults(provider, entry, withSystem) : withSystem,
                    options: sampling,
                    ...(tools?.length ? {tools} : {}),
                    ...(toolChoice ? {tool_choice: toolChoice} : {}),
                    ...(format ? {format} : {})
                };
            }
        }, () => messagesFormat(requested), stream);
    });

    app.post("/v1/messages/count_tokens", async (request, reply) => {
        const body = bodyOf(request);
        const requested = optionalString(body, "model");
        if (!requested) throw invalid("model: Field required");
        const system = systemText(body.system);
        const messages = parseAnthropicMessages(body.messages);
        const tools = parseAnthropicTools(body.tools);
        // tool definitions reach the model through the template; counting them as a JSON system text is close enough
        const toolText = tools?.length ? JSON.stringify(tools) : "";
        const systemAll = [system ?? "", toolText].filter((s) => s !== "").join("\n\n");
        const chat: ChatMessage[] = systemAll !== "" ? [{role: "system", content: systemAll}, ...messages] : messages;
        const target = await resolveTarget(provider, requested);
        if (target.kind === "upstream") {
            // no tokenizer for a remote model: the usual four characters per token
            const chars = chat.reduce((a, m) => a + m.content.length + JSON.stringify(m.tool_calls ?? []).length, 0);
            return {input_tokens: Math.ceil(chars / 4)};
        }
        requireCapability(provider, target.entry, "completion", requested);
        const job = provider.prepare(target.entry, requested);
        const count = await job.countTokens("", withModelDefaults(provider, target.entry, chat), disconnectSignal(request, reply));
        return {input_tokens: count};
    });
}
