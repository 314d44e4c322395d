/** OpenAI request bodies → the internal request's parts (messages, tools, response_format, sampling). */
import {badRequest} from "../../runtime/errors.js";
import type {RequestOptions} from "../../runtime/job.js";
import type {ChatMessage, GenerateRequest, ReasoningRequest, ToolCall, ToolDefinition} from "../../runtime/protocol.js";
import {checkOutputSchema} from "../shared/constraints.js";
import {optionalNumber, parseStop, type Body} from "../shared/parse.js";

const invalid = (message: string, param?: string) => badRequest(message, param);

/** OpenAI's sampling fields, plus llama-server's top_k / min_p / repeat_penalty extensions. */
export function openAIOptions(body: Body): RequestOptions {
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
            if (typeof msg.reasoning_content === "string" && msg.reasoning_content !== "") out.thinking = msg.reasoning_content;
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


export function includeUsage(body: Body): boolean {
    const so = body.stream_options as Body | undefined;
    return so != null && typeof so === "object" && so.include_usage === true;
}

/** Float32 little-endian, base64: OpenAI's `encoding_format: "base64"`. */
export function base64Floats(v: number[]): string {
    const buf = Buffer.alloc(v.length * 4);
    v.forEach((x, i) => buf.writeFloatLE(x, i * 4));
    return buf.toString("base64");
}


const EFFORTS: Record<string, ReasoningRequest> = {
    none: {enabled: false}, minimal: {enabled: true, effort: "low"}, low: {enabled: true, effort: "low"},
    medium: {enabled: true, effort: "medium"}, high: {enabled: true, effort: "high"}, xhigh: {enabled: true, effort: "high"}
};

/**
 * `reasoning_effort` (OpenAI's levels; "none" turns thinking off), or llama-server's
 * `chat_template_kwargs.enable_thinking` (Qwen3's switch, as its model cards show). Absent: the model's default.
 */
export function parseReasoning(body: Body): ReasoningRequest | undefined {
    const effort = body.reasoning_effort;
    if (effort != null) {
        if (typeof effort !== "string" || !Object.hasOwn(EFFORTS, effort))
            throw invalid(`reasoning_effort must be one of ${Object.keys(EFFORTS).join(", ")}; got ${JSON.stringify(effort)}`, "reasoning_effort");
        return EFFORTS[effort];
    }
    const kwargs = body.chat_template_kwargs as Body | null | undefined;
    if (kwargs != null && typeof kwargs === "object" && typeof kwargs.enable_thinking === "boolean") return {enabled: kwargs.enable_thinking};
    return undefined;
}
