/**
 * Editing a JSON-with-comments file (Zed's settings.json, Claude Code's settings.json) without rewriting it: the file
 * is parsed with the position of every value, and a change replaces one value's text or inserts one property, so the
 * user's comments, order, spacing and trailing commas stay exactly as they were everywhere else.
 *
 * The grammar is JSON plus `//` and `/* *\/` comments and trailing commas, which is what these editors accept.
 */

export class JsoncError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "JsoncError";
    }
}

interface Span {
    start: number;
    end: number;
}

export interface JsoncProperty {
    key: string;
    keySpan: Span;
    value: JsoncNode;
}

export type JsoncNode =
    | ({kind: "object"; properties: JsoncProperty[]} & Span)
    | ({kind: "array"; items: JsoncNode[]} & Span)
    | ({kind: "scalar"; value: string | number | boolean | null} & Span);

class Parser {
    private i = 0;

    constructor(private readonly text: string) {}

    parseDocument(): JsoncNode | null {
        this.skip();
        if (this.i >= this.text.length) return null;
        const node = this.value();
        this.skip();
        if (this.i < this.text.length) this.fail("unexpected text after the top-level value");
        return node;
    }

    private fail(what: string): never {
        const before = this.text.slice(0, this.i);
        const line = before.split("\n").length;
        const col = this.i - before.lastIndexOf("\n");
        throw new JsoncError(`${what} at line ${line}, column ${col}`);
    }

    /** Whitespace and comments. */
    private skip(): void {
        const t = this.text;
        for (;;) {
            while (this.i < t.length && /\s/.test(t[this.i]!)) this.i++;
            if (t.startsWith("//", this.i)) {
                const nl = t.indexOf("\n", this.i);
                this.i = nl === -1 ? t.length : nl;
            } else if (t.startsWith("/*", this.i)) {
                const end = t.indexOf("*/", this.i + 2);
                if (end === -1) this.fail("unterminated /* comment");
                this.i = end + 2;
            } else return;
        }
    }

    private value(): JsoncNode {
        const c = this.text[this.i];
        if (c === "{") return this.object();
        if (c === "[") return this.array();
        if (c === "\"") {
            const start = this.i;
            return {kind: "scalar", value: this.string(), start, end: this.i};
        }
        const m = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(this.text.slice(this.i, this.i + 400));
        if (!m) this.fail("expected a value");
        const start = this.i;
        this.i += m[0].length;
        const raw = m[0];
        return {kind: "scalar", value: raw === "true" ? true : raw === "false" ? false : raw === "null" ? null : Number(raw), start, end: this.i};
    }

    private string(): string {
        const start = this.i;
        this.i++;
        while (this.i < this.text.length) {
            const c = this.text[this.i]!;
            if (c === "\\") this.i += 2;
            else if (c === "\"") {
                this.i++;
                return JSON.parse(this.text.slice(start, this.i)) as string;
            } else if (c === "\n") this.fail("unterminated string");
            else this.i++;
        }
        this.fail("unterminated string");
    }

    private object(): JsoncNode {
        const start = this.i;
        this.i++;
        const properties: JsoncProperty[] = [];
        for (;;) {
            this.skip();
            if (this.text[this.i] === "}") {
                this.i++;
                return {kind: "object", properties, start, end: this.i};
            }
            if (this.text[this.i] !== "\"") this.fail("expected a property name in quotes");
            const keyStart = this.i;
            const key = this.string();
            const keySpan = {start: keyStart, end: this.i};
            this.skip();
            if (this.text[this.i] !== ":") this.fail("expected ':'");
            this.i++;
            this.skip();
            properties.push({key, keySpan, value: this.value()});
            this.skip();
            if (this.text[this.i] === ",") this.i++;
            else if (this.text[this.i] !== "}") this.fail("expected ',' or '}'");
        }
    }

    private array(): JsoncNode {
        const start = this.i;
        this.i++;
        const items: JsoncNode[] = [];
        for (;;) {
            this.skip();
            if (this.text[this.i] === "]") {
                this.i++;
                return {kind: "array", items, start, end: this.i};
            }
            items.push(this.value());
            this.skip();
            if (this.text[this.i] === ",") this.i++;
            else if (this.text[this.i] !== "]") this.fail("expected ',' or ']'");
        }
    }
}

export function parseJsonc(text: string): JsoncNode | null {
    // A byte-order mark is read as a space: one character for one, so every offset still points into the original text.
    return new Parser(text.replace(/^\uFEFF/, " ")).parseDocument();
}

/** The plain value of a node (comments dropped). */
export function nodeValue(node: JsoncNode): unknown {
    if (node.kind === "scalar") return node.value;
    if (node.kind === "array") return node.items.map(nodeValue);
    return Object.fromEntries(node.properties.map((p) => [p.key, nodeValue(p.value)]));
}

/** The value at `path`, or undefined. */
export function getJsonc(text: string, path: readonly string[]): unknown {
    let node = parseJsonc(text);
    for (const seg of path) {
        if (node?.kind !== "object") return undefined;
        node = node.properties.filter((p) => p.key === seg).at(-1)?.value ?? null;
    }
    return node == null ? undefined : nodeValue(node);
}

function lineStart(text: string, at: number): number {
    return text.lastIndexOf("\n", at - 1) + 1;
}

function indentOf(text: string, at: number): string {
    const start = lineStart(text, at);
    return /^[ \t]*/.exec(text.slice(start, at))![0];
}

/** The file's indentation step, from its first indented line; two spaces when it has none. */
function indentUnit(text: string): string {
    const m = /\n([ \t]+)\S/.exec(text);
    return m ? m[1]! : "  ";
}

function eolOf(text: string): string {
    return text.includes("\r\n") ? "\r\n" : "\n";
}

/** JSON for `value`, its continuation lines indented under `base`. */
function render(value: unknown, base: string, unit: string, eol: string): string {
    const json = JSON.stringify(value, null, unit.includes("\t") ? "\t" : unit.length);
    return json.split("\n").map((l, i) => (i === 0 ? l : base + l)).join(eol);
}

/**
 * After a property's value: past a trailing comma, then past spaces and a comment on the same line. Inserting a new
 * property there keeps that comment with the line it belongs to.
 */
function afterValueOnItsLine(text: string, end: number): {comma: boolean; at: number} {
    let i = end;
    while (i < text.length && (text[i] === " " || text[i] === "\t")) i++;
    let comma = false;
    if (text[i] === ",") {
        comma = true;
        i++;
    }
    let j = i;
    while (j < text.length && (text[j] === " " || text[j] === "\t")) j++;
    if (text.startsWith("//", j)) {
        const nl = text.indexOf("\n", j);
        i = nl === -1 ? text.length : nl;
        if (text[i - 1] === "\r") i--;
    } else if (text.startsWith("/*", j)) {
        const close = text.indexOf("*/", j);
        const nl = text.indexOf("\n", j);
        if (close !== -1 && (nl === -1 || close < nl)) i = close + 2;
    }
    return {comma, at: i};
}

/**
 * Sets the value at `path`, creating the objects on the way; every other byte of the file stays as it was. A number
 * in the path is an array index: an existing item is replaced, the index one past the end appends. A file that is
 * empty (or only comments) becomes an object. Throws JsoncError when the file does not parse, or when the path runs
 * through something that is not an object (or an array, for an index).
 */
export function setJsonc(text: string, path: readonly (string | number)[], value: unknown): string {
    if (path.length === 0) throw new JsoncError("no property to set");
    const eol = eolOf(text);
    const unit = indentUnit(text);
    const nest = (rest: readonly (string | number)[]): unknown => {
        let nested: unknown = value;
        for (const seg of [...rest].reverse()) {
            if (typeof seg === "number") throw new JsoncError(`there is no array to put item ${seg} in`);
            nested = {[seg]: nested};
        }
        return nested;
    };
    const root = parseJsonc(text);
    if (root == null) {
        const body = render(nest(path), "", unit, eol);
        return text.trim() === "" ? `${body}${eol}` : `${text.replace(/\s*$/, "")}${eol}${body}${eol}`;
    }
    let node: JsoncNode = root;
    for (let depth = 0; depth < path.length; depth++) {
        const seg = path[depth]!;
        const where = path.slice(0, depth).join(".") || "the top level";
        const rest = path.slice(depth + 1);
        if (typeof seg === "number") {
            if (node.kind !== "array") throw new JsoncError(`"${where}" is not an array, so item ${seg} cannot be set in it`);
            const item: JsoncNode | undefined = node.items[seg];
            if (item && rest.length === 0) return text.slice(0, item.start) + render(value, indentOf(text, item.start), unit, eol) + text.slice(item.end);
            if (item) {
                node = item;
                continue;
            }
            if (seg !== node.items.length) throw new JsoncError(`"${where}" has ${node.items.length} item(s): item ${seg} would leave a gap`);
            return insertItem(text, node, nest(rest), unit, eol);
        }
        if (node.kind !== "object") throw new JsoncError(`"${where}" is not an object, so "${seg}" cannot be set inside it`);
        // JSON allows a key twice; the last one wins, as in every parser these editors use.
        const prop: JsoncProperty | undefined = node.properties.filter((p) => p.key === seg).at(-1);
        if (prop && rest.length === 0) {
            const base = indentOf(text, prop.keySpan.start);
            return text.slice(0, prop.value.start) + render(value, base, unit, eol) + text.slice(prop.value.end);
        }
        if (prop) {
            node = prop.value;
            continue;
        }
        return insertProperty(text, node, seg, nest(rest), unit, eol);
    }
    throw new JsoncError("unreachable");
}

/** Appends an item to an array, after its last item (keeping a comment on that line with it), or into an empty one. */
function insertItem(text: string, arr: Extract<JsoncNode, {kind: "array"}>, value: unknown, unit: string, eol: string): string {
    const last = arr.items.at(-1);
    if (last) {
        const base = indentOf(text, last.start);
        const entry = render(value, base, unit, eol);
        const {comma, at} = afterValueOnItsLine(text, last.end);
        if (comma) return `${text.slice(0, at)}${eol}${base}${entry},${text.slice(at)}`;
        return `${text.slice(0, last.end)},${text.slice(last.end, at)}${eol}${base}${entry}${text.slice(at)}`;
    }
    const closeIndent = indentOf(text, arr.end - 1);
    const base = closeIndent + unit;
    return `${text.slice(0, arr.start + 1)}${eol}${base}${render(value, base, unit, eol)}${eol}${closeIndent}${text.slice(arr.end - 1)}`;
}

function insertProperty(text: string, obj: Extract<JsoncNode, {kind: "object"}>, key: string, value: unknown, unit: string, eol: string): string {
    const last = obj.properties.at(-1);
    if (last) {
        const base = indentOf(text, last.keySpan.start);
        const entry = `${JSON.stringify(key)}: ${render(value, base, unit, eol)}`;
        const {comma, at} = afterValueOnItsLine(text, last.value.end);
        // Keep the file's habit: after a trailing comma the new last property gets one too.
        if (comma) return `${text.slice(0, at)}${eol}${base}${entry},${text.slice(at)}`;
        return `${text.slice(0, last.value.end)},${text.slice(last.value.end, at)}${eol}${base}${entry}${text.slice(at)}`;
    }
    // An empty object (perhaps holding comments): the property goes on its own line before the closing brace.
    const closeIndent = indentOf(text, obj.end - 1);
    const base = closeIndent + unit;
    const entry = `${JSON.stringify(key)}: ${render(value, base, unit, eol)}`;
    const inner = text.slice(obj.start + 1, obj.end - 1);
    if (inner.trim() === "") return `${text.slice(0, obj.start + 1)}${eol}${base}${entry}${eol}${closeIndent}${text.slice(obj.end - 1)}`;
    const beforeClose = text.slice(0, obj.end - 1).replace(/[ \t]*$/, "");
    return `${beforeClose}${beforeClose.endsWith("\n") ? "" : eol}${base}${entry}${eol}${closeIndent}${text.slice(obj.end - 1)}`;
}
