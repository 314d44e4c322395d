/**
 * Edits JSON text in place: the value at a key path is replaced, inserted or removed, and every other byte of the
 * text stays as the user wrote it (key order, indentation, one-line objects, blank lines).
 * The text must already be valid JSON; the result is checked against the intended value by the caller.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | {[key: string]: JsonValue};

interface Member {
    key: string;
    /** Offset of the key's opening quote. */
    start: number;
    value: Node;
}

type Node =
    | {kind: "object"; start: number; end: number; members: Member[]}
    | {kind: "other"; start: number; end: number};

class Scanner {
    private pos = 0;

    constructor(private readonly text: string) {}

    root(): Node {
        // a byte-order mark is not JSON, but editors write one
        if (this.text.charCodeAt(0) === 0xfeff) this.pos = 1;
        const node = this.value();
        this.space();
        if (this.pos !== this.text.length) throw new SyntaxError(`unexpected text at offset ${this.pos}`);
        return node;
    }

    private space(): void {
        while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
    }

    private value(): Node {
        this.space();
        const c = this.text[this.pos];
        if (c === "{") return this.object();
        if (c === "[") return this.array();
        const start = this.pos;
        if (c === "\"") this.string();
        else {
            while (this.pos < this.text.length && !/[\s,\]}]/.test(this.text[this.pos]!)) this.pos++;
            if (this.pos === start) throw new SyntaxError(`expected a value at offset ${start}`);
        }
        return {kind: "other", start, end: this.pos};
    }

    private string(): string {
        const start = this.pos++;
        while (this.pos < this.text.length && this.text[this.pos] !== "\"") this.pos += this.text[this.pos] === "\\" ? 2 : 1;
        if (this.pos >= this.text.length) throw new SyntaxError(`unterminated string at offset ${start}`);
        this.pos++;
        return JSON.parse(this.text.slice(start, this.pos)) as string;
    }

    private expect(c: string): void {
        this.space();
        if (this.text[this.pos] !== c) throw new SyntaxError(`expected "${c}" at offset ${this.pos}`);
        this.pos++;
    }

    private object(): Node {
        const start = this.pos++;
        const members: Member[] = [];
        this.space();
        if (this.text[this.pos] === "}") return {kind: "object", start, end: ++this.pos, members};
        for (;;) {
            this.space();
            const keyStart = this.pos;
            if (this.text[this.pos] !== "\"") throw new SyntaxError(`expected a key at offset ${this.pos}`);
            const key = this.string();
            this.expect(":");
            members.push({key, start: keyStart, value: this.value()});
            this.space();
            if (this.text[this.pos] === ",") {
                this.pos++;
                continue;
            }
            this.expect("}");
            return {kind: "object", start, end: this.pos, members};
        }
    }

    private array(): Node {
        const start = this.pos++;
        this.space();
        if (this.text[this.pos] === "]") return {kind: "other", start, end: ++this.pos};
        for (;;) {
            this.value();
            this.space();
            if (this.text[this.pos] === ",") {
                this.pos++;
                continue;
            }
            this.expect("]");
            return {kind: "other", start, end: this.pos};
        }
    }
}

/** The whitespace that starts the line `offset` is on. */
function lineIndent(text: string, offset: number): string {
    const lineStart = text.lastIndexOf("\n", offset - 1) + 1;
    return /^[ \t]*/.exec(text.slice(lineStart))![0];
}

/** The file's own indentation step: the first indented line's, else two spaces. */
export function indentUnit(text: string): string {
    const m = /\n([ \t]+)\S/.exec(text);
    return m ? m[1]! : "  ";
}

function isPrimitive(v: JsonValue): v is null | boolean | number | string {
    return v === null || typeof v !== "object";
}

/** One line, spaced as people write JSON by hand: `{"aliases": ["qwen"], "pinned": true}`. */
function compact(v: JsonValue): string {
    if (Array.isArray(v)) return `[${v.map(compact).join(", ")}]`;
    if (v !== null && typeof v === "object") return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${compact(x)}`).join(", ")}}`;
    return JSON.stringify(v);
}

/** A short object of plain values reads best on one line: `{"temperature": 0.2}`. */
const FLAT_OBJECT_MAX = 60;

/** Objects one key per line, short flat ones and arrays of plain values on one line. `indent` is the indentation of the line it starts on. */
function pretty(v: JsonValue, indent: string, unit: string): string {
    if (isPrimitive(v)) return JSON.stringify(v);
    if (Array.isArray(v)) {
        if (v.every(isPrimitive)) return compact(v);
        return `[\n${v.map((x) => indent + unit + pretty(x, indent + unit, unit)).join(",\n")}\n${indent}]`;
    }
    const entries = Object.entries(v);
    if (entries.length === 0) return "{}";
    const flat = compact(v);
    if (entries.every(([, x]) => isPrimitive(x)) && flat.length <= FLAT_OBJECT_MAX) return flat;
    return `{\n${entries.map(([k, x]) => `${indent + unit}${JSON.stringify(k)}: ${pretty(x, indent + unit, unit)}`).join(",\n")}\n${indent}}`;
}

function splice(text: string, start: number, end: number, insert: string): string {
    return text.slice(0, start) + insert + text.slice(end);
}

/** A value that replaces one written on a single line stays on one line when it is short. */
const ONE_LINE_MAX = 100;

/**
 * The text with the value at `path` set to `value`, or removed when `value` is undefined. Missing objects on the
 * way are created. Removing a key that is not there changes nothing.
 */
export function setJsonPath(text: string, path: readonly string[], value: JsonValue | undefined): string {
    if (path.length === 0) throw new Error("setJsonPath needs a key path");
    const unit = indentUnit(text);
    let node = new Scanner(text).root();
    for (let depth = 0; depth < path.length; depth++) {
        if (node.kind !== "object") throw new Error(`"${path.slice(0, depth).join(".")}" is not an object`);
        const key = path[depth]!;
        const members = node.members;
        const i = members.findIndex((m) => m.key === key);
        const last = depth === path.length - 1;
        if (i === -1) {
            if (value === undefined) return text;
            // the rest of the path becomes nested objects around the value
            let inserted: JsonValue = value;
            for (let k = path.length - 1; k > depth; k--) inserted = {[path[k]!]: inserted};
            return insertMember(text, node, key, inserted, unit);
        }
        const member = members[i]!;
        if (!last) {
            node = member.value;
            continue;
        }
        if (value === undefined) return removeMember(text, node, i);
        const old = text.slice(member.value.start, member.value.end);
        const oneLine = compact(value);
        const written = !old.includes("\n") && oneLine.length <= ONE_LINE_MAX ? oneLine : pretty(value, lineIndent(text, member.start), unit);
        return splice(text, member.value.start, member.value.end, written);
    }
    return text;
}

function insertMember(text: string, node: Extract<Node, {kind: "object"}>, key: string, value: JsonValue, unit: string): string {
    const members = node.members;
    if (members.length === 0) {
        const base = lineIndent(text, node.start);
        const inner = base + unit;
        return splice(text, node.start, node.end, `{\n${inner}${JSON.stringify(key)}: ${pretty(value, inner, unit)}\n${base}}`);
    }
    const lastMember = members.at(-1)!;
    const multiLine = text.slice(node.start, members[0]!.start).includes("\n");
    const addition = multiLine
        ? `,\n${lineIndent(text, members[0]!.start)}${JSON.stringify(key)}: ${pretty(value, lineIndent(text, members[0]!.start), unit)}`
        : `, ${JSON.stringify(key)}: ${compact(value)}`;
    return splice(text, lastMember.value.end, lastMember.value.end, addition);
}

function removeMember(text: string, node: Extract<Node, {kind: "object"}>, i: number): string {
    const members = node.members;
    if (members.length === 1) return splice(text, node.start + 1, node.end - 1, "");
    // with the separator after it (up to the next key), or, for the last one, the separator before it
    if (i < members.length - 1) return splice(text, members[i]!.start, members[i + 1]!.start, "");
    return splice(text, members[i - 1]!.value.end, members[i]!.value.end, "");
}
