/**
 * A plain walk of a JSON schema that answers "certainly valid" the way Ajv would, for the keywords the config
 * schema uses, so a valid configuration is accepted at start without loading Ajv and compiling the schema (~4 MB of
 * the idle server's RSS for one check). Anything else (an invalid value, or a keyword this walk does not know)
 * answers false, and the caller asks Ajv, whose errors make the message: Ajv stays the judge, this is its fast path.
 * Each rule copies the test Ajv's generated code makes (test/config/quick-check.test.ts compares the two).
 */
type Schema = Record<string, unknown>;

const KNOWN = new Set([
    "type", "properties", "required", "additionalProperties", "patternProperties", "items",
    "minimum", "maximum", "exclusiveMinimum", "minLength", "maxLength", "pattern", "enum", "const", "anyOf"
]);

const patterns = new Map<string, RegExp>();

/** Ajv compiles patterns with the `u` flag (its unicodeRegExp default). */
function regExp(source: string): RegExp {
    let re = patterns.get(source);
    if (!re) patterns.set(source, (re = new RegExp(source, "u")));
    return re;
}

/** String length in code points, as Ajv's ucs2length counts it (a surrogate pair is one). */
function codePoints(s: string): number {
    let n = 0;
    for (const _ of s) n++;
    return n;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
    return Boolean(v) && typeof v === "object" && !Array.isArray(v);
}

function hasType(type: string, v: unknown): boolean | undefined {
    switch (type) {
        // Ajv: `typeof x == "number" && !(x % 1) && !isNaN(x)`, which lets Infinity through
        case "integer": return typeof v === "number" && !(v % 1) && !Number.isNaN(v);
        case "number": return typeof v === "number";
        case "string": return typeof v === "string";
        case "boolean": return typeof v === "boolean";
        case "null": return v === null;
        case "object": return isPlainObject(v);
        case "array": return Array.isArray(v);
        default: return undefined;
    }
}

function isPrimitive(v: unknown): boolean {
    return v === null || (typeof v !== "object" && typeof v !== "function");
}

/** True only when Ajv (allErrors, strict: false, no coercion, no defaults) would accept `data` against `schema`. */
export function surelyValid(schema: unknown, data: unknown): boolean {
    if (!isPlainObject(schema)) return false;
    for (const key of Object.keys(schema)) if (!KNOWN.has(key)) return false;
    const s = schema as Schema;

    if (s.type !== undefined) {
        const types = Array.isArray(s.type) ? s.type : [s.type];
        let any = false;
        for (const t of types) {
            const ok = typeof t === "string" ? hasType(t, data) : undefined;
            if (ok === undefined) return false;
            any ||= ok;
        }
        if (!any) return false;
    }
    if (s.enum !== undefined) {
        // primitive values compare with ===, as Ajv's generated code does; any other value: ask Ajv
        if (!Array.isArray(s.enum) || !s.enum.every(isPrimitive) || !s.enum.some((e) => e === data)) return false;
    }
    if (s.const !== undefined && (!isPrimitive(s.const) || s.const !== data)) return false;
    if (s.anyOf !== undefined && (!Array.isArray(s.anyOf) || !s.anyOf.some((branch) => surelyValid(branch, data)))) return false;

    if (typeof data === "number") {
        if (s.minimum !== undefined && (typeof s.minimum !== "number" || data < s.minimum || Number.isNaN(data))) return false;
        if (s.maximum !== undefined && (typeof s.maximum !== "number" || data > s.maximum || Number.isNaN(data))) return false;
        if (s.exclusiveMinimum !== undefined && (typeof s.exclusiveMinimum !== "number" || data <= s.exclusiveMinimum || Number.isNaN(data))) return false;
    }
    if (typeof data === "string") {
        if (s.minLength !== undefined && (typeof s.minLength !== "number" || codePoints(data) < s.minLength)) return false;
        if (s.maxLength !== undefined && (typeof s.maxLength !== "number" || codePoints(data) > s.maxLength)) return false;
        if (s.pattern !== undefined && (typeof s.pattern !== "string" || !regExp(s.pattern).test(data))) return false;
    }
    if (Array.isArray(data) && s.items !== undefined) {
        for (const item of data) if (!surelyValid(s.items, item)) return false;
    }
    if (isPlainObject(data)) return objectValid(s, data);
    return true;
}

function objectValid(s: Schema, data: Record<string, unknown>): boolean {
    const properties = s.properties ?? {};
    const patternProperties = s.patternProperties ?? {};
    if (!isPlainObject(properties) || !isPlainObject(patternProperties)) return false;
    if (s.required !== undefined) {
        if (!Array.isArray(s.required)) return false;
        // Ajv counts a key holding undefined as missing
        for (const key of s.required) if (typeof key !== "string" || data[key] === undefined) return false;
    }
    // as Ajv's generated code: each declared property read as `data[key]` and checked unless undefined ...
    for (const [key, sub] of Object.entries(properties)) {
        const value = data[key];
        if (value !== undefined && !surelyValid(sub, value)) return false;
    }
    // ... and the object's keys walked with for...in for the additional and pattern properties
    const patternList = Object.entries(patternProperties).map(([p, sub]) => [regExp(p), sub] as const);
    if (s.additionalProperties !== undefined && s.additionalProperties !== false) return false;
    for (const key in data) {
        let matched = false;
        for (const [re, sub] of patternList) {
            if (!re.test(key)) continue;
            matched = true;
            if (!surelyValid(sub, data[key])) return false;
        }
        if (s.additionalProperties === false && !matched && !Object.hasOwn(properties, key)) return false;
    }
    return true;
}
