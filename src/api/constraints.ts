import {Ajv} from "ajv";
import {HttpError} from "../runtime/errors.js";
import {unenforcedSchemaKeywords} from "../runner/history.js";

const ajv = new Ajv({strict: false, allErrors: false, validateSchema: true});

/**
 * The structured-output schema policy, shared by Ollama's `format` and OpenAI's `response_format`: the schema must be
 * valid JSON Schema, and may not use a constraint keyword the grammar would silently ignore (pattern, minimum, ...).
 * A 400 names them, so an accepted schema is one every complete output satisfies.
 */
export function checkOutputSchema(schema: unknown, param: string): Record<string, unknown> {
    if (schema == null || typeof schema !== "object" || Array.isArray(schema))
        throw new HttpError(400, `${param} must be a JSON schema object`, "invalid_request_error", param);
    try {
        ajv.compile(schema as Record<string, unknown>);
    } catch (err) {
        throw new HttpError(400, `${param} is not a valid JSON schema: ${(err as Error).message}`, "invalid_request_error", param);
    }
    const unenforced = unenforcedSchemaKeywords(schema);
    if (unenforced.length > 0)
        throw new HttpError(400, `${param} uses JSON-schema keywords that structured output cannot enforce: ${unenforced.join(", ")}. ` +
            "Remove them (enum, const, maxLength, minLength, maxItems, minItems, required and additionalProperties are enforced) or check them yourself",
        "invalid_request_error", param);
    return schema as Record<string, unknown>;
}
