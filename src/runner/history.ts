import {LlamaText} from "node-llama-cpp";
import type {ChatHistoryItem, ChatModelFunctionCall, ChatModelFunctions, ChatModelResponse, ChatWrapper} from "node-llama-cpp";
import type {ChatMessage, ToolDefinition} from "../runtime/protocol.js";

/** Tool definitions as node-llama-cpp functions without handlers: calls are returned to the client, never executed. */
export function toFunctions(tools: ToolDefinition[] | undefined): ChatModelFunctions | undefined {
    if (!tools || tools.length === 0) return undefined;
    const out: Record<string, {description?: string; params?: unknown}> = {};
    for (const t of tools) out[t.name] = {description: t.description, ...(t.parameters ? {params: sanitizeSchema(t.parameters)} : {})};
    return out as ChatModelFunctions;
}

/** Keywords that only constrain values of one type. */
const TYPE_KEYWORDS: Record<string, string[]> = {
    string: ["minLength", "maxLength", "format"],
    array: ["items", "prefixItems", "minItems", "maxItems"],
    object: ["properties", "required", "additionalProperties", "minProperties", "maxProperties"]
};

/**
 * `{type: ["string", "null"], maxLength: 8}` → `{oneOf: [{type: "string", maxLength: 8}, {type: "null"}]}`: the grammar
 * compiler drops type-specific keywords on a union type, so a nullable bounded string would become unbounded.
 */
function splitUnionType(schema: Record<string, unknown>): Record<string, unknown> {
    const types = schema.type;
    if (!Array.isArray(types) || types.length < 2) return schema;
    const specific = new Set(Object.values(TYPE_KEYWORDS).flat());
    if (!Object.keys(schema).some((k) => specific.has(k))) return schema;
    const common = Object.fromEntries(Object.entries(schema).filter(([k]) => k !== "type" && !specific.has(k)));
    return {
        ...common,
        oneOf: types.map((t) => ({
            type: t,
            ...Object.fromEntries(Object.entries(schema).filter(([k]) => (TYPE_KEYWORDS[String(t)] ?? []).includes(k)))
        }))
    };
}

/** Schema keywords node-llama-cpp understands under other names (see the reference: anyOf → oneOf, definitions → $defs). */
export function sanitizeSchema(schema: unknown): unknown {
    if (Array.isArray(schema)) return schema.map(sanitizeSchema);
    if (schema == null || typeof schema !== "object") return schema;
    schema = splitUnionType(schema as Record<string, unknown>);
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
 * A view of `wrapper` whose answer must start with a function call (tool_choice "required" or a named function).
 * node-llama-cpp has no option for this; a context state with `noPrefixTrigger: functionCall` injects the call prefix
 * and lets the name grammar pick the function. The prompt still documents every tool the client sent (`documented`),
 * while the `functions` given to generateResponse (the name grammar) may be narrowed to one.
 */
export function forceFunctionCall(wrapper: ChatWrapper, documented: ChatModelFunctions): ChatWrapper {
    const call = wrapper.settings.functions?.call;
    // Object.create keeps every other method and setting of the real wrapper (they use no #private fields)
    const forced = Object.create(wrapper) as ChatWrapper;
    forced.generateContextState = (options) => {
        const state = wrapper.generateContextState({...options, availableFunctions: options.availableFunctions ? documented : undefined});
        if (options.availableFunctions == null || call == null) return state;
        return {
            contextText: state.contextText,
            stopGenerationTriggers: state.stopGenerationTriggers,
            detectFunctionCalls: true,
            noPrefixTrigger: {type: "functionCall", inject: LlamaText(call.prefix)}
        };
    };
    return forced;
}

/** The tool a tool_choice forces, or null when the model may choose; throws when the named tool was not sent. */
export function forcedFunctions(functions: ChatModelFunctions, choice: unknown): ChatModelFunctions | null {
    if (choice === "required") return functions;
    if (choice != null && typeof choice === "object" && typeof (choice as {name?: unknown}).name === "string") {
        const name = (choice as {name: string}).name;
        if (!Object.hasOwn(functions, name)) throw new Error(`tool_choice names the function '${name}', which is not among the tools sent`);
        return {[name]: functions[name]!} as ChatModelFunctions;
    }
    return null;
}

/** An assistant answer that carries its thought inline, as clients that keep the raw text send it back. */
const INLINE_THOUGHT = /^\s*<think>([\s\S]*?)<\/think>\s*/;

/** The thought and the answer of an assistant message: its `thinking`, else a leading `<think>…</think>` of its content. */
function splitThought(m: ChatMessage): {thought: string; content: string} {
    if (m.thinking != null) return {thought: m.thinking, content: m.content};
    const inline = INLINE_THOUGHT.exec(m.content);
    return inline ? {thought: inline[1]!.trim(), content: m.content.slice(inline[0].length)} : {thought: "", content: m.content};
}

export interface HistoryOptions {
    /**
     * The chat wrapper separates thought segments: an assistant message's thought becomes one, and the wrapper
     * keeps or drops it as the model's template does (most keep only the turn being continued). Without, thoughts
     * are left out: a template without a thought syntax has no place for them.
     */
    thoughts: boolean;
}

/**
 * Converts API messages to node-llama-cpp's chat history. Assistant tool calls become functionCall items,
 * and the following `tool` messages fill in their results.
 */
export function toChatHistory(messages: ChatMessage[], options: HistoryOptions = {thoughts: false}): ChatHistoryItem[] {
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
            const {thought, content} = options.thoughts ? splitThought(m) : {thought: "", content: m.content};
            if (thought !== "") response.push({type: "segment", segmentType: "thought", text: thought, ended: true});
            if (content) response.push(content);
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
