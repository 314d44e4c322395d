/**
 * Tool calls written as text in a model's own syntax, parsed into calls.
 *
 * node-llama-cpp's function calling drives the syntax of the wrappers it knows (Qwen2.5/Qwen3 and Hermes
 * `<tool_call>` JSON, Llama 3.1, Mistral, Harmony, ...): it notices the call prefix, writes the fixed parts itself and
 * constrains the arguments with a grammar. The syntaxes below reach the answer text instead: XML-style calls
 * (Qwen3-Coder, GLM), which node-llama-cpp cannot express, and any native syntax a model writes where its wrapper
 * did not expect one. ToolCallFilter holds such text back while it streams, so no call text leaks into the answer.
 */
import type {ToolDefinition} from "../runtime/protocol.js";

export interface ParsedCall {
    name: string;
    arguments: Record<string, unknown>;
}

export type CallParse = {ok: true; calls: ParsedCall[]} | {ok: false; reason: string};

/** How a block of call text starts, and how it ends. */
interface BlockSyntax {
    readonly name: string;
    readonly start: string;
    /** The text that closes the block; null: it runs to the end of the generation. */
    readonly end: string | null;
    parse(inner: string, tools: ToolIndex): CallParse;
}

/** The tools a request offered, by name, with their parameter schemas (to type XML-style argument values). */
export class ToolIndex {
    private readonly byName = new Map<string, ToolDefinition>();

    constructor(tools: readonly ToolDefinition[]) {
        for (const t of tools) this.byName.set(t.name, t);
    }

    has(name: string): boolean {
        return this.byName.has(name);
    }

    /** The JSON-schema type of one parameter, when the tool declares it. */
    parameterType(tool: string, parameter: string): string | undefined {
        const props = (this.byName.get(tool)?.parameters as {properties?: Record<string, {type?: unknown}>} | undefined)?.properties;
        const type = props?.[parameter]?.type;
        if (typeof type === "string") return type;
        if (Array.isArray(type)) return type.find((t): t is string => typeof t === "string" && t !== "null");
        return undefined;
    }
}

const fail = (reason: string): CallParse => ({ok: false, reason});

function isObject(v: unknown): v is Record<string, unknown> {
    return v != null && typeof v === "object" && !Array.isArray(v);
}

function parseJson(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return undefined;
    }
}

/** `{"name": …, "arguments": {…}}`, also with `parameters` (Llama 3.x) or arguments as a JSON string. */
function jsonCall(v: unknown, tools: ToolIndex): ParsedCall | string {
    if (!isObject(v)) return "the call is not a JSON object";
    const fn = isObject(v.function) ? v.function : v;
    const name = fn.name;
    if (typeof name !== "string" || name === "") return "the call has no name";
    if (!tools.has(name)) return `the model called '${name}', which is not among the tools sent`;
    let args: unknown = fn.arguments ?? fn.parameters ?? {};
    if (typeof args === "string") args = args.trim() === "" ? {} : parseJson(args);
    if (!isObject(args)) return `the arguments of '${name}' are not a JSON object`;
    return {name, arguments: args};
}

function jsonCalls(text: string, tools: ToolIndex): CallParse {
    const v = parseJson(text.trim());
    if (v === undefined) return fail("the call is not valid JSON");
    const calls: ParsedCall[] = [];
    for (const item of Array.isArray(v) ? v : [v]) {
        const call = jsonCall(item, tools);
        if (typeof call === "string") return fail(call);
        calls.push(call);
    }
    return calls.length > 0 ? {ok: true, calls} : fail("the call list is empty");
}

/**
 * An XML-style argument value as the model wrote it (always text), typed by the tool's schema: numbers, booleans,
 * objects and arrays are read as JSON; a string parameter keeps the exact text. Without a declared type, JSON that
 * parses is taken as such, anything else stays text.
 */
function typedValue(raw: string, type: string | undefined): unknown {
    // the syntax puts the value on lines of its own
    const text = raw.replace(/^\r?\n/, "").replace(/\r?\n$/, "");
    if (type === "string") return text;
    const trimmed = text.trim();
    if (type === "integer" || type === "number") {
        const n = Number(trimmed);
        return trimmed !== "" && Number.isFinite(n) ? n : text;
    }
    if (type === "boolean") return trimmed === "true" ? true : trimmed === "false" ? false : text;
    if (type === "null") return trimmed === "null" || trimmed === "" ? null : text;
    const json = parseJson(trimmed);
    if (type === "object" || type === "array") return json !== undefined ? json : text;
    return json !== undefined && typeof json !== "string" ? json : text;
}

/**
 * `<function=NAME>` blocks: Qwen3-Coder's `<parameter=KEY>VALUE</parameter>`… inside, or one JSON object
 * (Llama 3.1's custom tool-call format).
 */
function xmlFunctionCalls(text: string, tools: ToolIndex): CallParse {
    const calls: ParsedCall[] = [];
    const fnRe = /<function=([^>\n]+)>([\s\S]*?)(?:<\/function>|$)/g;
    let rest = text;
    for (let m = fnRe.exec(text); m; m = fnRe.exec(text)) {
        const name = m[1]!.trim();
        if (!tools.has(name)) return fail(`the model called '${name}', which is not among the tools sent`);
        rest = rest.replace(m[0], "");
        const body = m[2]!;
        if (body.trim().startsWith("{")) {
            const args = parseJson(body.trim());
            if (!isObject(args)) return fail(`the arguments of '${name}' are not a JSON object`);
            calls.push({name, arguments: args});
            continue;
        }
        const args: Record<string, unknown> = {};
        const paramRe = /<parameter=([^>\n]+)>([\s\S]*?)(?:<\/parameter>|(?=<parameter=)|$)/g;
        let leftover = body;
        for (let p = paramRe.exec(body); p; p = paramRe.exec(body)) {
            const key = p[1]!.trim();
            args[key] = typedValue(p[2]!, tools.parameterType(name, key));
            leftover = leftover.replace(p[0], "");
        }
        if (leftover.trim() !== "") return fail(`the call of '${name}' has text outside its <parameter> tags`);
        calls.push({name, arguments: args});
    }
    if (calls.length === 0) return fail("no <function=…> in the call");
    if (rest.trim() !== "") return fail("the call has text outside its <function> tags");
    return {ok: true, calls};
}

/** GLM-4.5: `NAME` then `<arg_key>KEY</arg_key><arg_value>VALUE</arg_value>`…, inside `<tool_call>`. */
function argKeyCall(text: string, tools: ToolIndex): CallParse {
    const at = text.indexOf("<arg_key>");
    const name = (at < 0 ? text : text.slice(0, at)).trim();
    if (name === "" || /\s/.test(name)) return fail("the call has no function name");
    if (!tools.has(name)) return fail(`the model called '${name}', which is not among the tools sent`);
    const args: Record<string, unknown> = {};
    if (at >= 0) {
        const pairRe = /<arg_key>([\s\S]*?)<\/arg_key>\s*<arg_value>([\s\S]*?)(?:<\/arg_value>|$)/g;
        let leftover = text.slice(at);
        for (let p = pairRe.exec(text); p; p = pairRe.exec(text)) {
            const key = p[1]!.trim();
            args[key] = typedValue(p[2]!, tools.parameterType(name, key));
            leftover = leftover.replace(p[0], "");
        }
        if (leftover.trim() !== "") return fail(`the call of '${name}' has text outside its argument tags`);
    }
    return {ok: true, calls: [{name, arguments: args}]};
}

/** What is inside `<tool_call>…</tool_call>`: JSON (Qwen2.5/Qwen3, Hermes), Qwen3-Coder XML, or GLM's arg_key pairs. */
function toolCallBlock(inner: string, tools: ToolIndex): CallParse {
    const text = inner.trim();
    if (text.startsWith("{") || text.startsWith("[")) return jsonCalls(text, tools);
    if (text.startsWith("<function=")) return xmlFunctionCalls(text, tools);
    if (text === "") return fail("the <tool_call> block is empty");
    return argKeyCall(text, tools);
}

/**
 * Mistral: `[TOOL_CALLS]` then a JSON list of calls (v3), or `NAME[ARGS]{…}` per call (v11 and later), or
 * `NAME{…}`; several calls may follow one another, each after its own `[TOOL_CALLS]`.
 */
function mistralCalls(inner: string, tools: ToolIndex): CallParse {
    const calls: ParsedCall[] = [];
    for (const part of inner.split("[TOOL_CALLS]").map((p) => p.trim()).filter((p) => p !== "")) {
        if (part.startsWith("[") || part.startsWith("{")) {
            const r = jsonCalls(part, tools);
            if (!r.ok) return r;
            calls.push(...r.calls);
            continue;
        }
        const m = /^([A-Za-z0-9_.:-]+)\s*(?:\[ARGS\]|\[CALL_ID\][A-Za-z0-9]*\[ARGS\])?\s*([\s\S]*)$/.exec(part);
        if (!m) return fail("the [TOOL_CALLS] text has no function name");
        const name = m[1]!;
        if (!tools.has(name)) return fail(`the model called '${name}', which is not among the tools sent`);
        const args = m[2]!.trim() === "" ? {} : parseJson(m[2]!.trim());
        if (!isObject(args)) return fail(`the arguments of '${name}' are not a JSON object`);
        calls.push({name, arguments: args});
    }
    return calls.length > 0 ? {ok: true, calls} : fail("[TOOL_CALLS] is followed by no call");
}

/** Llama 3.1: `<|python_tag|>` then one JSON call, or several separated by `;`. */
function pythonTagCalls(inner: string, tools: ToolIndex): CallParse {
    const whole = jsonCalls(inner, tools);
    if (whole.ok) return whole;
    const calls: ParsedCall[] = [];
    for (const part of inner.split(";").map((p) => p.trim()).filter((p) => p !== "")) {
        const r = jsonCalls(part, tools);
        if (!r.ok) return whole;
        calls.push(...r.calls);
    }
    return calls.length > 0 ? {ok: true, calls} : whole;
}

/** The block syntaxes ToolCallFilter recognises, longest start first where starts overlap. */
export const BLOCK_SYNTAXES: readonly BlockSyntax[] = [
    {name: "tool_call", start: "<tool_call>", end: "</tool_call>", parse: toolCallBlock},
    // Qwen3-Coder sometimes leaves out the <tool_call> around its function block
    {name: "function", start: "<function=", end: "</function>", parse: (inner, tools) => xmlFunctionCalls("<function=" + inner + "</function>", tools)},
    {name: "mistral", start: "[TOOL_CALLS]", end: null, parse: mistralCalls},
    {name: "python_tag", start: "<|python_tag|>", end: null, parse: pythonTagCalls}
];

/**
 * A call as the whole answer, in bare JSON: Llama 3.x writes `{"name": …, "parameters": …}`, and where the
 * tokenizer hides a control token that starts a call (Llama 3.1's `<|python_tag|>`, Mistral's `[TOOL_CALLS]`)
 * the text that reaches the answer is the JSON alone. Only an answer that starts with `{` or `[` can be one, and only
 * a whole answer that parses to calls of offered tools is taken.
 */
export function bareJsonCalls(text: string, tools: ToolIndex): CallParse {
    const r = jsonCalls(text, tools);
    if (!r.ok) return r;
    return r.calls.every((c) => tools.has(c.name)) ? r : fail("not a call of an offered tool");
}

export interface ToolCallFilterOptions {
    tools: readonly ToolDefinition[];
    onText(text: string): void;
    onCalls(calls: ParsedCall[]): void;
    /** A block that looked like a call but did not parse: it went out as text. */
    onUnparsed(syntax: string, reason: string, raw: string): void;
    /** At most this many calls are returned; onLimit is called when the last one is complete. */
    maxCalls: number;
    onLimit?(): void;
}

/** The longest end of `text` that is the beginning of `marker` (a marker split across chunks). */
function partialSuffix(text: string, marker: string): number {
    for (let n = Math.min(marker.length - 1, text.length); n > 0; n--)
        if (marker.startsWith(text.slice(text.length - n))) return n;
    return 0;
}

/**
 * Streams answer text through, holding back what may be a tool call: from the start of a call marker until the
 * block closes (then its calls are sent) or the generation ends (then an unclosed block is parsed as it is). A
 * block that does not parse is sent as the text it was, and reported through onUnparsed; it never fails the
 * generation. Whitespace between calls is not answer text.
 */
export class ToolCallFilter {
    private readonly tools: ToolIndex;
    private pending = "";
    /** The call text being collected, and the whitespace before it (answer text again if the call does not parse). */
    private block: {syntax: BlockSyntax; inner: string; lead: string} | null = null;
    /** Nothing but whitespace has been seen so far: the answer may be a bare JSON call (Llama 3.x). */
    private atStart = true;
    private bareJson: string | null = null;
    /** Whitespace at the end of the text so far: sent once more answer text follows, dropped before a call. */
    private heldWhitespace = "";
    private callsSent = 0;
    private done = false;

    constructor(private readonly opts: ToolCallFilterOptions) {
        this.tools = new ToolIndex(opts.tools);
    }

    /** Calls sent so far. */
    get calls(): number {
        return this.callsSent;
    }

    push(chunk: string): void {
        if (this.done || chunk === "") return;
        if (this.bareJson != null) {
            this.bareJson += chunk;
            return;
        }
        let text = this.pending + chunk;
        this.pending = "";
        if (this.atStart) {
            const lead = /^\s*/.exec(text)![0];
            if (lead.length === text.length) {
                this.pending = text;
                return;
            }
            const head = text.slice(lead.length);
            // "[TOOL_CALLS]" begins like a JSON list: wait until the two can be told apart
            if (BLOCK_SYNTAXES.some((s) => s.start.startsWith(head) && head.length < s.start.length)) {
                this.pending = text;
                return;
            }
            this.atStart = false;
            const marker = BLOCK_SYNTAXES.some((s) => head.startsWith(s.start));
            if (!marker && (head[0] === "{" || head[0] === "[") && this.block == null) {
                this.bareJson = text;
                return;
            }
        }
        while (text !== "" && !this.done) {
            if (this.block) {
                text = this.feedBlock(text);
                continue;
            }
            text = this.feedText(text);
        }
    }

    /** The generation ended: sends what is held back. */
    finish(): void {
        if (this.done) return;
        if (this.bareJson != null) {
            const raw = this.bareJson;
            this.bareJson = null;
            const r = bareJsonCalls(raw, this.tools);
            if (r.ok) this.sendCalls(r.calls);
            else this.opts.onText(raw);
        } else if (this.block) {
            const {syntax, inner, lead} = this.block;
            this.block = null;
            this.closeBlock(syntax, inner, lead, false);
        } else if (this.pending !== "") {
            // a marker's beginning at the very end is just text
            this.sendText(this.pending);
        }
        // an answer's own trailing whitespace is kept; whitespace around calls is not answer text
        if (this.callsSent === 0 && this.heldWhitespace !== "") this.opts.onText(this.heldWhitespace);
        this.pending = "";
        this.heldWhitespace = "";
        this.done = true;
    }

    /** Text mode: sends text up to the next marker (or a marker's possible beginning) and returns what follows. */
    private feedText(text: string): string {
        let first: {at: number; syntax: BlockSyntax} | null = null;
        for (const syntax of BLOCK_SYNTAXES) {
            const at = text.indexOf(syntax.start);
            if (at >= 0 && (first == null || at < first.at)) first = {at, syntax};
        }
        if (first) {
            this.sendText(text.slice(0, first.at));
            this.block = {syntax: first.syntax, inner: "", lead: this.heldWhitespace};
            this.heldWhitespace = "";
            return text.slice(first.at + first.syntax.start.length);
        }
        const hold = Math.max(...BLOCK_SYNTAXES.map((s) => partialSuffix(text, s.start)));
        this.sendText(text.slice(0, text.length - hold));
        this.pending = text.slice(text.length - hold);
        return "";
    }

    /** Block mode: collects call text until the block's end marker, then parses it; returns what follows the block. */
    private feedBlock(text: string): string {
        const block = this.block!;
        const all = block.inner + text;
        if (block.syntax.end == null) {
            block.inner = all;
            return "";
        }
        const at = all.indexOf(block.syntax.end);
        if (at < 0) {
            block.inner = all;
            return "";
        }
        this.block = null;
        this.closeBlock(block.syntax, all.slice(0, at), block.lead, true);
        return all.slice(at + block.syntax.end.length);
    }

    private closeBlock(syntax: BlockSyntax, inner: string, lead: string, closed: boolean): void {
        const r = syntax.parse(inner, this.tools);
        if (r.ok) {
            this.sendCalls(r.calls);
            return;
        }
        const raw = syntax.start + inner + (closed && syntax.end != null ? syntax.end : "");
        this.opts.onUnparsed(syntax.name, r.reason, raw);
        this.heldWhitespace = lead;
        this.sendText(raw);
    }

    private sendText(text: string): void {
        if (text === "") return;
        const body = text.replace(/\s+$/, "");
        if (body === "") {
            this.heldWhitespace += text;
            return;
        }
        const out = this.heldWhitespace + body;
        this.heldWhitespace = text.slice(body.length);
        this.opts.onText(out);
    }

    private sendCalls(calls: ParsedCall[]): void {
        const room = this.opts.maxCalls - this.callsSent;
        const sent = calls.slice(0, Math.max(0, room));
        if (sent.length === 0) return;
        this.callsSent += sent.length;
        this.heldWhitespace = "";
        this.opts.onCalls(sent);
        if (this.callsSent >= this.opts.maxCalls) {
            this.done = true;
            this.opts.onLimit?.();
        }
    }
}
