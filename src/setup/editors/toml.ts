/**
 * Merging tables of our own into a TOML file (Codex CLI's config.toml) without rewriting the rest: a table setup
 * owns (`[model_providers.zombiecoder]`) is replaced where it stands, or appended at the end; every other line,
 * comments included, stays as it was. A file that defines our table in another form (dotted keys, an inline table)
 * is refused rather than guessed at.
 */

export class TomlMergeError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "TomlMergeError";
    }
}

export type TomlValue = string | number | boolean | Record<string, string>;

/** A TOML basic string. */
export function tomlString(s: string): string {
    return `"${s.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t")}"`;
}

function tomlValue(v: TomlValue): string {
    if (typeof v === "string") return tomlString(v);
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    return `{ ${Object.entries(v).map(([k, x]) => `${tomlKey(k)} = ${tomlString(x)}`).join(", ")} }`;
}

function tomlKey(k: string): string {
    return /^[A-Za-z0-9_-]+$/.test(k) ? k : tomlString(k);
}

/** `[a.b]`, `[ a . "b" ]` → ["a", "b"]; null for a line that is not a table header. */
export function tableHeader(line: string): string[] | null {
    const m = /^\s*\[(?!\[)(.*)\]\s*(#.*)?$/.exec(line);
    if (!m) return null;
    const parts: string[] = [];
    const re = /\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*(\.|$)/y;
    const inner = m[1]!;
    let i = 0;
    while (i < inner.length) {
        re.lastIndex = i;
        const p = re.exec(inner);
        if (!p) return null;
        parts.push(p[1] != null ? (JSON.parse(`"${p[1]}"`) as string) : p[2] ?? p[3]!);
        i = re.lastIndex;
        if (p[4] === "") break;
    }
    return parts;
}

/** A `[table]` or `[[array of tables]]` header line. */
function isAnyHeader(line: string): boolean {
    return tableHeader(line) != null || /^\s*\[\[.*\]\]\s*(#.*)?$/.test(line);
}

export interface TomlTable {
    path: string[];
    values: Record<string, TomlValue>;
}

function same(a: readonly string[], b: readonly string[]): boolean {
    return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Sets each table: an existing `[path]` has its body replaced in place (up to the comments and blank lines that lead
 * into the next table), a missing one is appended with `comment` above it.
 */
export function mergeTomlTables(text: string, tables: readonly TomlTable[], comment: string): string {
    const eol = text.includes("\r\n") ? "\r\n" : "\n";
    let lines = text === "" ? [] : text.replace(/\r\n/g, "\n").replace(/\n$/, "").split("\n");
    for (const t of tables) refuseOtherForms(lines, t.path);
    const appended: string[] = [];
    for (const t of tables) {
        const body = Object.entries(t.values).map(([k, v]) => `${tomlKey(k)} = ${tomlValue(v)}`);
        const header = `[${t.path.map(tomlKey).join(".")}]`;
        const at = lines.findIndex((l) => {
            const h = tableHeader(l);
            return h != null && same(h, t.path);
        });
        if (at === -1) {
            appended.push("", header, ...body);
            continue;
        }
        let end = at + 1;
        while (end < lines.length && !isAnyHeader(lines[end]!)) end++;
        // Comments and blank lines right before the next header belong to it.
        let keep = end;
        while (keep > at + 1 && (lines[keep - 1]!.trim() === "" || lines[keep - 1]!.trim().startsWith("#"))) keep--;
        lines = [...lines.slice(0, at + 1), ...body, ...lines.slice(keep)];
    }
    if (appended.length > 0) {
        // `appended` opens every table with a blank line; the comment takes the first one's place.
        const block = [`# ${comment}`, ...appended.slice(1)];
        lines = lines.length === 0 ? block : [...lines, "", ...block];
    }
    return lines.join(eol) + eol;
}

/** Our table written as dotted keys or an inline table elsewhere: replacing only the `[table]` would leave two definitions. */
function refuseOtherForms(lines: readonly string[], path: readonly string[]): void {
    let current: string[] = [];
    for (const [n, line] of lines.entries()) {
        const h = tableHeader(line);
        if (h) {
            if (h.length > path.length && same(h.slice(0, path.length), path))
                throw new TomlMergeError(`line ${n + 1} opens [${h.join(".")}] inside ${path.join(".")}; setup writes ${path.join(".")} as one table. Remove that table by hand first.`);
            current = h;
            continue;
        }
        if (/^\s*\[\[/.test(line)) {
            current = [];
            continue;
        }
        const key = /^\s*([^=#]+?)\s*=/.exec(line)?.[1];
        if (!key) continue;
        const dotted = [...current, ...key.split(".").map((k) => k.trim().replace(/^["']|["']$/g, ""))];
        const inside = dotted.length > path.length && same(dotted.slice(0, path.length), path) && !same(current, path);
        if (inside || same(dotted, path))
            throw new TomlMergeError(`line ${n + 1} defines ${path.join(".")} outside a [${path.join(".")}] table; setup only edits that table. Change it by hand, or move it into [${path.join(".")}].`);
    }
}
