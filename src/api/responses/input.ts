/**
 * Responses `input` → chat messages. A string is one user message; a list holds items: messages (with
 * input_text/output_text parts), a previous answer's `function_call` items and the client's `function_call_output`
 * results, and Codex's own call kinds (custom_tool_call, local_shell_call) from a conversation another server began.
 * Items that carry nothing a local model can read (reasoning, web_search_call, item_reference, …) are skipped and named.
 */
import {badRequest} from "../../runtime/errors.js";
import type {ChatMessage, ToolCall} from "../../runtime/protocol.js";
import type {Body} from "../shared/parse.js";
import type {ToolSet} from "./tools.js";

export interface ParsedInput {
    messages: ChatMessage[];
    /** Item types that were skipped, once each. */
    skipped: string[];
}

const invalid = (message: string) => badRequest(message, "input");

/** A message's content: a string or text parts; images and files are refused by name (this engine reads text only). */
function messageText(v: unknown, where: string): string {
    if (typeof v === "string") return v;
    if (!Array.isArray(v)) throw invalid(`${where} must be a string or an array of content parts`);
    return v.map((part, i) => {
        const p = (part ?? {}) as Body;
        if ((p.type === "input_text" || p.type === "output_text" || p.type === "text") && typeof p.text === "string") return p.text;
        if (p.type === "refusal" && typeof p.refusal === "string") return p.refusal;
        if (p.type === "input_image" || p.type === "input_file" || p.type === "input_audio")
            throw invalid(`${where}[${i}] is ${p.type}: this engine reads text only (no vision, file or audio input); send text`);
        throw invalid(`${where}[${i}] has type ${JSON.stringify(p.type)}: only input_text and output_text parts are supported`);
    }).join("");
}

/**
 * A tool's output: a string or parts. The client does not choose what a tool returns, so a non-text part becomes a
 * short placeholder instead of failing the whole turn.
 */
function outputText(v: unknown): string {
    if (typeof v === "string") return v;
    if (Array.isArray(v)) return v.map((part) => {
        const p = (part ?? {}) as Body;
        if (typeof p.text === "string") return p.text;
        return `[${String(p.type ?? "content")} omitted: this model reads text only]`;
    }).join("");
    return v == null ? "" : JSON.stringify(v);
}

function callArguments(v: unknown, where: string): Record<string, unknown> {
    if (v == null || v === "") return {};
    if (typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
    if (typeof v !== "string") throw invalid(`${where} must be a JSON string`);
    let parsed: unknown;
    try {
        parsed = JSON.parse(v);
    } catch {
        throw invalid(`${where} is not valid JSON: ${JSON.stringify(v.slice(0, 80))}`);
    }
    if (parsed == null || typeof parsed !== "object" || Array.isArray(parsed)) throw invalid(`${where} must be a JSON object`);
    return parsed as Record<string, unknown>;
}

function requiredString(item: Body, key: string, where: string): string {
    const v = item[key];
    if (typeof v !== "string" || v === "") throw invalid(`${where}.${key} is required`);
    return v;
}

const SKIPPED = new Set([
    "reasoning", "item_reference", "web_search_call", "file_search_call", "image_generation_call", "computer_call", "computer_call_output",
    "code_interpreter_call", "mcp_call", "mcp_list_tools", "mcp_approval_request", "mcp_approval_response", "ghost_snapshot", "compaction",
    "compaction_summary", "tool_search_call", "tool_search_output"
]);

export function parseInput(v: unknown, tools: ToolSet): ParsedInput {
    if (v == null) return {messages: [], skipped: []};
    if (typeof v === "string") return {messages: [{role: "user", content: v}], skipped: []};
    if (!Array.isArray(v)) throw invalid("\"input\" must be a string or an array of input items");
    const messages: ChatMessage[] = [];
    const skipped = new Set<string>();
    const callNames = new Map<string, string>();
    // consecutive calls belong to one assistant turn: the one just written, unless its calls were already answered
    const addCall = (call: ToolCall) => {
        const last = messages.at(-1);
        if (last?.role === "assistant") last.tool_calls = [...(last.tool_calls ?? []), call];
        else messages.push({role: "assistant", content: "", tool_calls: [call]});
        callNames.set(call.id, call.name);
    };
    const addResult = (callId: string, content: string) => {
        const name = callNames.get(callId);
        messages.push({role: "tool", content, tool_call_id: callId, ...(name ? {tool_name: name} : {})});
    };
    v.forEach((entry, i) => {
        const where = `input[${i}]`;
        if (entry == null || typeof entry !== "object" || Array.isArray(entry)) throw invalid(`${where} must be an object`);
        const item = entry as Body;
        const type = typeof item.type === "string" ? item.type : item.role != null ? "message" : undefined;
        switch (type) {
            case "message": {
                const content = messageText(item.content, `${where}.content`);
                const role = item.role;
                if (role === "user") messages.push({role: "user", content});
                else if (role === "system" || role === "developer") messages.push({role: "system", content});
                else if (role === "assistant") messages.push({role: "assistant", content});
                else throw invalid(`${where}.role must be user, assistant, system or developer; got ${JSON.stringify(role)}`);
                break;
            }
            case "function_call": {
                const name = requiredString(item, "name", where);
                const callId = typeof item.call_id === "string" && item.call_id !== "" ? item.call_id : requiredString(item, "id", where);
                const namespace = typeof item.namespace === "string" && item.namespace !== "" ? item.namespace : undefined;
                addCall({id: callId, name: tools.modelName(name, namespace), arguments: callArguments(item.arguments, `${where}.arguments`)});
                break;
            }
            case "function_call_output":
            case "custom_tool_call_output":
                addResult(requiredString(item, "call_id", where), outputText(item.output));
                break;
            case "custom_tool_call":
                addCall({id: requiredString(item, "call_id", where), name: requiredString(item, "name", where), arguments: {input: outputText(item.input)}});
                break;
            case "local_shell_call": {
                const callId = typeof item.call_id === "string" && item.call_id !== "" ? item.call_id : requiredString(item, "id", where);
                const action = item.action != null && typeof item.action === "object" ? item.action as Record<string, unknown> : {};
                addCall({id: callId, name: "local_shell", arguments: action});
                break;
            }
            case "local_shell_call_output":
                addResult(requiredString(item, "id", where), outputText(item.output));
                break;
            default:
                if (type == null) throw invalid(`${where} needs a type (or a role, for a message)`);
                // unknown kinds too: the API grows new item types faster than any server
                if (!SKIPPED.has(type)) skipped.add(`${type} (unknown)`);
                else skipped.add(type);
        }
    });
    return {messages, skipped: [...skipped]};
}
