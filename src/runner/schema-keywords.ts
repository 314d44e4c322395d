/**
 * What a structured-output schema asks that the grammar would not enforce. Plain data, no engine import: the
 * server checks requests with it (src/api/shared/constraints.ts) and must not load node-llama-cpp to do so.
 */
/**
 * Constraint keywords the JSON-schema grammar compiler accepts but does not enforce (node-llama-cpp's GbnfJsonSchema
 * subset); annotations such as title or description are harmless and not listed.
 */
const UNENFORCED_KEYWORDS = new Set([
    "pattern", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "uniqueItems", "contains", "minContains",
    "maxContains", "patternProperties", "propertyNames", "dependentRequired", "dependentSchemas", "dependencies", "if", "then", "else",
    "not", "allOf", "unevaluatedProperties", "unevaluatedItems", "contentEncoding", "contentMediaType", "contentSchema"
]);
const ENFORCED_STRING_FORMATS = new Set(["date", "time", "date-time"]);

/**
 * Constraint keywords of a structured-output schema that the grammar would silently ignore, as JSON pointers
 * ("/properties/age/minimum"). Only schema positions are walked, so a property named "pattern" is not a keyword.
 */
export function unenforcedSchemaKeywords(schema: unknown, at = ""): string[] {
    if (schema == null || typeof schema !== "object" || Array.isArray(schema)) return [];
    const out: string[] = [];
    const s = schema as Record<string, unknown>;
    for (const [k, v] of Object.entries(s)) {
        if (UNENFORCED_KEYWORDS.has(k)) out.push(`${at}/${k}`);
        else if (k === "format" && typeof v === "string" && !ENFORCED_STRING_FORMATS.has(v)) out.push(`${at}/format (${v})`);
        else if (k === "$ref" && typeof v === "string" && !/^#\/(\$defs|definitions)\/[^/]+$/.test(v)) out.push(`${at}/$ref (${v})`);
    }
    const each = (v: unknown, path: string) => out.push(...unenforcedSchemaKeywords(v, path));
    for (const key of ["properties", "$defs", "definitions"])
        if (s[key] != null && typeof s[key] === "object")
            for (const [name, sub] of Object.entries(s[key] as Record<string, unknown>)) each(sub, `${at}/${key}/${name}`);
    for (const key of ["oneOf", "anyOf", "prefixItems"])
        if (Array.isArray(s[key])) (s[key] as unknown[]).forEach((sub, i) => each(sub, `${at}/${key}/${i}`));
    if (Array.isArray(s.items)) s.items.forEach((sub, i) => each(sub, `${at}/items/${i}`));
    else each(s.items, `${at}/items`);
    each(s.additionalProperties, `${at}/additionalProperties`);
    return out;
}
