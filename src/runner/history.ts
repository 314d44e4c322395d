import type {ChatHistoryItem, ChatModelFunctionCall, ChatModelFunctions, ChatModelResponse} from "node-llama-cpp";
import type {ChatMessage, ToolDefinition} from "../runtime/protocol.js";

/** Tool definitions as node-llama-cpp functions without handlers: calls are returned to the client, never executed. */
export function toFunctions(tools: ToolDefinition[] | undefined): ChatModelFunctions | undefined {
    if (!tools || tools.length === 0) return undefined;
    const out: Record<string, {description?: string; params?: unknown}> = {};
    for (const t of tools) out[t.name] = {description: t.description, ...(t.parameters ? {params: sanitizeSchema(t.parameters)} : {})};
    return out as ChatModelFunctions;
}

/** Schema keywords node-llama-cpp understands under other names (see the reference: anyOf → oneOf, definitions → $defs). */
export function sanitizeSchema(schema: unknown): unknown {
    if (Array.isArray(schema)) return schema.map(sanitizeSchema);
    if (schema == null || typeof schema !== "object") return schema;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(schema as Record<string, unknown>)) {
        if (k === "anyOf") out.oneOf = sanitizeSchema(v);
        else if (k === "definitions") out.$defs = sanitizeSchema(v);
        else if (k === "$ref" && typeof v === "string") out.$ref = v.replace("#/definitions/", "#/$defs/");
        else out[k] = sanitizeSchema(v);
    }
    return out;
}

/**
 * Converts API messages to node-llama-cpp's chat history. Assistant tool calls become functionCall items,
 * and the following `tool` messages fill in their results.
 */
export function toChatHistory(messages: ChatMessage[]): ChatHistoryItem[] {
    const history: ChatHistoryItem[] = [];
    let pendingCalls: ChatModelFunctionCall[] = [];
    for (const m of messages) {
        if (m.role === "tool") {
            const call = pendingCalls.find((c) => c.result === undefined && (m.tool_call_id == null || (c as {id?: string}).id === m.tool_call_id) && (m.tool_name == null || c.name === m.tool_name))
                ?? pendingCalls.find((c) => c.result === undefined);
            if (call) call.result = m.content;
            else history.push({type: "user", text: m.content});
            continue;
        }
        if (m.role === "system") history.push({type: "system", text: m.content});
        else if (m.role === "user") history.push({type: "user", text: m.content});
        else {
            const response: ChatModelResponse["response"] = [];
            if (m.content) response.push(m.content);
            pendingCalls = [];
            for (const [i, tc] of (m.tool_calls ?? []).entries()) {
                const call: ChatModelFunctionCall & {id?: string} = {
                    type: "functionCall", name: tc.name, params: tc.arguments, result: undefined, startsNewChunk: i === 0, id: tc.id
                };
                pendingCalls.push(call);
                response.push(call);
            }
            history.push({type: "model", response});
        }
    }
    // calls the client never answered still need a result for the template
    for (const item of history)
        if (item.type === "model")
            for (const r of item.response)
                if (typeof r === "object" && r.type === "functionCall" && r.result === undefined) r.result = "";
    return history;
}
