/**
 * JSON schemas for request bodies, checked by Fastify before a handler runs. They say what type each field has
 * (so a wrong type is a 400 in the family's error shape without any handler code); the handlers check meaning.
 */
import type {FastifySchemaValidationError} from "fastify";

type Schema = Record<string, unknown>;

export const str: Schema = {type: "string"};
export const bool: Schema = {type: "boolean"};
export const num: Schema = {type: "number"};
export const int: Schema = {type: "integer"};
export const obj: Schema = {type: "object"};
export const arr: Schema = {type: "array"};
export const nullable = (s: Schema): Schema => ({anyOf: [s, {type: "null"}]});
export const oneOf = (...schemas: Schema[]): Schema => ({anyOf: schemas});
export const strOrStrings: Schema = oneOf(str, {type: "array", items: str});
export const arrayOf = (items: Schema): Schema => ({type: "array", items});

/** A body schema: an object whose listed fields have these types; other fields are allowed (clients send many). */
export function bodySchema(properties: Record<string, Schema>, extra: Schema = {}): {body: Schema} {
    return {body: {type: "object", properties, ...extra}};
}

/** `/messages/0/role` → `messages[0].role`, the spelling the handlers' own errors use. */
function fieldPath(instancePath: string): string {
    return instancePath.split("/").filter((p) => p !== "").map((p, i) => /^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`).join("");
}

const TYPE_WORDS: Record<string, string> = {
    string: "a string", boolean: "true or false", number: "a number", integer: "an integer", object: "an object", array: "an array", null: "null"
};

/** One readable sentence for the first schema failure, e.g. `"stream" must be true or false`. */
export function schemaErrorMessage(errors: FastifySchemaValidationError[]): string {
    const first = errors[0];
    if (!first) return "the request body is not valid";
    const field = fieldPath(first.instancePath);
    if (field === "" && first.keyword === "type") return "the request body must be a JSON object";
    // an anyOf reports each branch's failure at the same path: together they name every accepted type
    const samePath = errors.filter((e) => e.instancePath === first.instancePath && e.keyword === "type");
    if (samePath.length > 0) {
        const types = [...new Set(samePath.flatMap((e) => String((e.params as {type?: unknown}).type ?? "").split(",")))]
            .filter((t) => t !== "null").map((t) => TYPE_WORDS[t] ?? t);
        return `"${field}" must be ${types.join(" or ")}`;
    }
    const params = first.params as Record<string, unknown>;
    if (first.keyword === "required") return `"${String(params.missingProperty)}" is required`;
    return `"${field || "body"}" ${first.message ?? "is not valid"}`;
}
