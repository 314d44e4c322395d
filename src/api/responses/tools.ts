/**
 * Responses `tools` and `tool_choice` → what the model is offered. Function tools run (the client executes the calls);
 * a `namespace` groups function tools (Codex puts each MCP server's tools in one) and its functions are offered under
 * a joined name; every other type (web_search, image_generation, local_shell, custom, mcp, file_search, …) is a tool
 * this server cannot run: it is dropped and named, never refused, so an agent that always sends them still works.
 */
import {badRequest} from "../../runtime/errors.js";
import type {ToolChoice, ToolDefinition} from "../../runtime/protocol.js";
import type {Body} from "../shared/parse.js";
import type {DroppedTool} from "./wire.js";

/** A function's name as the client knows it. */
export interface WireName {
    name: string;
    namespace?: string;
}

/** The name the model sees for a function declared inside a namespace; Codex's MCP namespaces already end in "__". */
export function joinedName(namespace: string, name: string): string {
    return namespace.endsWith("_") ? namespace + name : `${namespace}__${name}`;
}

export class ToolSet {
    /** What the model is offered. */
    readonly definitions: ToolDefinition[] = [];
    /** The client's tool entries that were kept, as sent (the response repeats them). */
    readonly kept: unknown[] = [];
    readonly dropped: DroppedTool[] = [];
    private readonly wire = new Map<string, WireName>();

    add(definition: ToolDefinition, wire: WireName, where: string): void {
        if (this.wire.has(definition.name))
            throw badRequest(`${where}: a tool named '${definition.name}' was already sent; tool names must be unique`, "tools");
        this.wire.set(definition.name, wire);
        this.definitions.push(definition);
    }

    /** The client's name for a function the model called. */
    wireName(modelName: string): WireName {
        return this.wire.get(modelName) ?? {name: modelName};
    }

    /** The model's name for a function the client names (a call in the input, a forced tool_choice). */
    modelName(name: string, namespace?: string): string {
        return namespace ? joinedName(namespace, name) : name;
    }

    /** Only the named functions stay on offer (tool_choice `allowed_tools`). */
    restrictTo(names: Set<string>): void {
        const keep = this.definitions.filter((d) => names.has(d.name));
        this.definitions.splice(0, this.definitions.length, ...keep);
    }
}

function functionDefinition(t: Body, name: unknown, where: string): ToolDefinition {
    if (typeof name !== "string" || name === "") throw badRequest(`${where}.name is required: a function tool needs a name`, "tools");
    const parameters = t.parameters;
    if (parameters != null && (typeof parameters !== "object" || Array.isArray(parameters)))
        throw badRequest(`${where}.parameters must be a JSON schema object`, "tools");
    return {
        name,
        ...(typeof t.description === "string" && t.description !== "" ? {description: t.description} : {}),
        ...(parameters != null ? {parameters: parameters as Record<string, unknown>} : {})
    };
}

export function parseTools(v: unknown): ToolSet {
    const set = new ToolSet();
    if (v == null) return set;
    if (!Array.isArray(v)) throw badRequest("\"tools\" must be an array", "tools");
    v.forEach((entry, i) => {
        const where = `tools[${i}]`;
        if (entry == null || typeof entry !== "object" || Array.isArray(entry)) throw badRequest(`${where} must be an object`, "tools");
        const t = entry as Body;
        const type = typeof t.type === "string" ? t.type : "function";
        if (type === "function") {
            // Chat Completions' nesting ({type, function: {name, ...}}) is accepted too: clients moved between the two send it
            const fn = t.function != null && typeof t.function === "object" ? t.function as Body : t;
            const def = functionDefinition(fn, fn.name, where);
            set.add(def, {name: def.name}, where);
            set.kept.push(entry);
            return;
        }
        if (type === "namespace") {
            if (typeof t.name !== "string" || t.name === "") throw badRequest(`${where}.name is required: a namespace needs a name`, "tools");
            const namespace = t.name;
            const inner = Array.isArray(t.tools) ? t.tools : [];
            let offered = 0;
            inner.forEach((sub, j) => {
                const s = (sub ?? {}) as Body;
                const subWhere = `${where}.tools[${j}]`;
                if ((s.type ?? "function") !== "function") {
                    set.dropped.push({type: String(s.type), name: typeof s.name === "string" ? joinedName(namespace, s.name) : namespace});
                    return;
                }
                const def = functionDefinition(s, s.name, subWhere);
                set.add({...def, name: joinedName(namespace, def.name)}, {name: def.name, namespace}, subWhere);
                offered++;
            });
            if (offered > 0) set.kept.push(entry);
            return;
        }
        const label = typeof t.name === "string" ? t.name : typeof t.server_label === "string" ? t.server_label : undefined;
        set.dropped.push({type, ...(label ? {name: label} : {})});
    });
    return set;
}

/** What tool_choice asks of the model, with a note when it named a tool this server dropped. */
export interface ChoicePlan {
    choice: ToolChoice | undefined;
    note?: string;
}

const CHOICE_FORMS = "tool_choice must be \"auto\", \"none\", \"required\", {\"type\": \"function\", \"name\"} or {\"type\": \"allowed_tools\", \"mode\", \"tools\"}";

/**
 * Responses' tool_choice. A choice that forces a tool this server dropped (a hosted tool, or "required" when every
 * tool sent was dropped) becomes "auto" with a note for the log, rather than a refusal of the whole request.
 */
export function parseResponsesToolChoice(v: unknown, tools: ToolSet): ChoicePlan {
    if (v == null) return {choice: undefined};
    const offered = () => tools.definitions.length > 0;
    if (v === "auto" || v === "none") return {choice: v};
    if (v === "required") {
        if (offered()) return {choice: "required"};
        if (tools.dropped.length > 0) return {choice: "auto", note: "tool_choice \"required\" with no tool this server can run"};
        throw badRequest("tool_choice \"required\" forces a tool call, but no tools were sent", "tool_choice");
    }
    if (typeof v !== "object" || Array.isArray(v)) throw badRequest(CHOICE_FORMS, "tool_choice");
    const c = v as Body;
    if (c.type === "function") {
        if (typeof c.name !== "string") throw badRequest("tool_choice {\"type\": \"function\"} needs a name", "tool_choice");
        const name = c.name;
        const match = tools.definitions.find((d) => d.name === name || tools.wireName(d.name).name === name);
        if (!match) throw badRequest(`tool_choice names the function '${name}', which is not among the tools sent`, "tool_choice");
        return {choice: {name: match.name}};
    }
    if (c.type === "allowed_tools") {
        const list = Array.isArray(c.tools) ? c.tools as Body[] : [];
        const names = new Set<string>();
        for (const t of list) {
            if (t?.type !== "function" || typeof t.name !== "string") continue;
            const wanted = t.name;
            for (const d of tools.definitions) if (d.name === wanted || tools.wireName(d.name).name === wanted) names.add(d.name);
        }
        tools.restrictTo(names);
        const mode = c.mode ?? "auto";
        if (mode !== "auto" && mode !== "required") throw badRequest("tool_choice.mode must be \"auto\" or \"required\"", "tool_choice");
        if (mode === "required" && !offered()) return {choice: "auto", note: "allowed_tools lists no function this server can run"};
        return {choice: mode};
    }
    if (typeof c.type === "string") return {choice: "auto", note: `tool_choice forces the ${c.type} tool, which this server cannot run`};
    throw badRequest(CHOICE_FORMS, "tool_choice");
}
