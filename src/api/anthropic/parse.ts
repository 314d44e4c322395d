/** Anthropic Messages bodies → the internal request's parts; errors in Anthropic's own wording. */
import {badRequest} from "../../runtime/errors.js";
import type {ChatMessage, ReasoningRequest, ToolCall, ToolChoice, ToolDefinition} from "../../runtime/protocol.js";
import type {Body} from "../shared/parse.js";
import {withoutAttribution} from "./attribution.js";

const invalid = (message: string) => badRequest(message);

export function number(body: Body, key: string): number | undefined {
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

/**
 * `system`: a string or text blocks (cache_control is accepted and ignored). With `stripAttribution`, Claude Code's
 * rotating attribution line is removed from each block before the blocks are joined (joined first, the line would run
 * into the next block's text).
 */
export function systemText(v: unknown, stripAttribution = false): string | undefined {
    if (v == null) return undefined;
    if (!stripAttribution) return blocksText(v, "system");
    if (typeof v === "string") return withoutAttribution(v);
    if (!Array.isArray(v)) return blocksText(v, "system");
    return blocksText(v.map((b) => {
        const block = b as Body | null;
        return block?.type === "text" && typeof block.text === "string" ? {...block, text: withoutAttribution(block.text)} : b;
    }), "system");
}

/**
 * Anthropic messages → internal ones. A user turn's tool_result blocks become tool messages (they answer the
 * previous assistant turn's tool_use blocks) ahead of its text; an assistant turn's thinking blocks become its
 * thought (the template keeps or drops it; redacted thinking has nothing a local model can read).
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
        let thinking = "";
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
                    if (role === "assistant" && typeof block.thinking === "string") thinking += block.thinking;
                    break;
                case "redacted_thinking":
                    break;
                default:
                    blocksText([block], where);
            }
        });
        out.push(...results);
        if (role === "assistant") out.push({role, content: text, ...(thinking !== "" ? {thinking} : {}), ...(calls.length > 0 ? {tool_calls: calls} : {})});
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

export function parseAnthropicToolChoice(v: unknown, tools: ToolDefinition[] | undefined): ToolChoice | undefined {
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


/**
 * `thinking`: {type: "enabled", budget_tokens} thinks within that budget (below max_tokens, as Anthropic requires),
 * {type: "adaptive"} as the model likes, {type: "disabled"} or no field not at all: Anthropic's models think only
 * when asked, and clients that did not ask do not expect thinking blocks.
 */
export function parseThinking(v: unknown, maxTokens: number): ReasoningRequest {
    if (v == null) return {enabled: false};
    const t = v as Body;
    switch (t.type) {
        case "disabled":
            return {enabled: false};
        case "adaptive":
            return {enabled: true};
        case "enabled": {
            const budget = t.budget_tokens;
            if (typeof budget !== "number" || !Number.isInteger(budget) || budget < 1)
                throw invalid("thinking.budget_tokens: Input should be a positive integer");
            if (budget >= maxTokens) throw invalid("`max_tokens` must be greater than `thinking.budget_tokens`");
            return {enabled: true, budgetTokens: budget};
        }
        default:
            throw invalid("thinking.type: Input should be 'enabled', 'adaptive' or 'disabled'");
    }
}
