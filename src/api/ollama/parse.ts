/** Ollama request bodies → the internal request's parts. */
import {badRequest} from "../../runtime/errors.js";
import type {RequestOptions} from "../../runtime/job.js";
import type {ChatMessage, GenerateRequest, ReasoningRequest, ToolDefinition} from "../../runtime/protocol.js";
import {parseOptions} from "../../runtime/sampling.js";
import {checkOutputSchema} from "../shared/constraints.js";
import type {Body} from "../shared/parse.js";

/** `format`: "json" or a JSON-schema object. */
export function parseFormat(v: unknown): GenerateRequest["format"] {
    if (v == null || v === "") return undefined;
    if (v === "json") return "json";
    if (typeof v === "object" && !Array.isArray(v)) return checkOutputSchema(v, "format");
    throw badRequest(`invalid format: expected "json" or a JSON schema object, got ${JSON.stringify(v).slice(0, 100)}`, "format");
}

export function parseTools(v: unknown): ToolDefinition[] | undefined {
    if (v == null) return undefined;
    if (!Array.isArray(v)) throw badRequest("\"tools\" must be an array", "tools");
    return v.map((t, i) => {
        const fn = (t as {function?: Record<string, unknown>})?.function ?? t;
        if (fn == null || typeof fn !== "object" || typeof (fn as Body).name !== "string" || (fn as Body).name === "")
            throw badRequest(`tools[${i}] needs a function with a name`, "tools");
        const f = fn as Body;
        return {name: f.name as string, description: typeof f.description === "string" ? f.description : undefined,
            parameters: (f.parameters ?? f.input_schema) as Record<string, unknown> | undefined};
    });
}

export function refuseImages(images: unknown): void {
    if (Array.isArray(images) && images.length > 0)
        throw badRequest("images are not supported: this engine version has no vision input; send text only", "images");
}

export function parseMessages(v: unknown): ChatMessage[] {
    if (v == null) return [];
    if (!Array.isArray(v)) throw badRequest("\"messages\" must be an array", "messages");
    return v.map((m, i) => {
        if (m == null || typeof m !== "object") throw badRequest(`messages[${i}] must be an object`, "messages");
        const msg = m as Body;
        const role = typeof msg.role === "string" ? msg.role.toLowerCase() : "";
        if (!["system", "user", "assistant", "tool"].includes(role)) throw badRequest(`messages[${i}].role must be one of system, user, assistant, tool`, "messages");
        if (msg.content != null && typeof msg.content !== "string") throw badRequest(`messages[${i}].content must be a string`, "messages");
        refuseImages(msg.images);
        const out: ChatMessage = {role: role as ChatMessage["role"], content: (msg.content as string | undefined) ?? ""};
        if (Array.isArray(msg.tool_calls))
            out.tool_calls = msg.tool_calls.map((tc: unknown, j: number) => {
                const fn = (tc as {function?: Body})?.function;
                if (!fn || typeof fn.name !== "string") throw badRequest(`messages[${i}].tool_calls[${j}] needs function.name`, "messages");
                let args = fn.arguments ?? {};
                if (typeof args === "string") {
                    try {
                        args = JSON.parse(args);
                    } catch {
                        throw badRequest(`messages[${i}].tool_calls[${j}].function.arguments is not valid JSON`, "messages");
                    }
                }
                return {id: typeof (tc as Body).id === "string" ? (tc as Body).id as string : `call_${j}`, name: fn.name, arguments: args as Record<string, unknown>};
            });
        if (role === "assistant" && msg.thinking != null) {
            if (typeof msg.thinking !== "string") throw badRequest(`messages[${i}].thinking must be a string`, "messages");
            if (msg.thinking !== "") out.thinking = msg.thinking;
        }
        if (typeof msg.tool_call_id === "string") out.tool_call_id = msg.tool_call_id;
        if (typeof msg.tool_name === "string") out.tool_name = msg.tool_name;
        else if (typeof msg.name === "string" && role === "tool") out.tool_name = msg.name;
        return out;
    });
}

/**
 * `options`, plus the length limits clients send at the top level instead (`max_tokens` from editor examples,
 * `max_output_tokens` from the Vercel AI SDK's Ollama provider), used when `options.num_predict` is not set.
 */
export function requestOptions(body: Body): RequestOptions {
    const opts = parseOptions(body.options);
    for (const key of ["max_tokens", "max_output_tokens", "num_predict"]) {
        if (opts.num_predict != null || body[key] == null) continue;
        if (typeof body[key] !== "number") throw badRequest(`"${key}" must be a number`, key);
        opts.num_predict = body[key];
    }
    return opts;
}

/**
 * `think`: true or false, or a level ("low", "medium", "high") for models that take one (gpt-oss). Absent: the
 * model's default, with its thoughts in `thinking`.
 */
export function parseThink(v: unknown): ReasoningRequest | undefined {
    if (v == null) return undefined;
    if (typeof v === "boolean") return {enabled: v};
    if (v === "low" || v === "medium" || v === "high") return {enabled: true, effort: v};
    throw badRequest(`invalid think value: ${JSON.stringify(v)}; use true, false, "low", "medium" or "high"`, "think");
}
