/** What a request may ask the engine to enforce: output schemas it can honour, tool choices that name real tools. */
import {Ajv} from "ajv";
import {badRequest} from "../../runtime/errors.js";
import type {ToolChoice, ToolDefinition} from "../../runtime/protocol.js";
import {unenforcedSchemaKeywords} from "../../runner/schema-keywords.js";
import type {Body} from "./parse.js";

// formats are checked by our own keyword policy, so Ajv must not warn about the ones it does not know
const ajv = new Ajv({strict: false, allErrors: false, validateSchema: true, validateFormats: false, logger: false});

/**
 * The structured-output schema policy, shared by Ollama's `format` and OpenAI's `response_format`: the schema must be
 * valid JSON Schema, and may not use a constraint keyword the grammar would silently ignore (pattern, minimum, ...).
 * A 400 names them, so an accepted schema is one every complete output satisfies.
 */
export function checkOutputSchema(schema: unknown, param: string): Record<string, unknown> {
    if (schema == null || typeof schema !== "object" || Array.isArray(schema))
        throw badRequest(`${param} must be a JSON schema object`, param);
    try {
        ajv.compile(schema as Record<string, unknown>);
    } catch (err) {
        throw badRequest(`${param} is not a valid JSON schema: ${(err as Error).message}`, param);
    }
    const unenforced = unenforcedSchemaKeywords(schema);
    if (unenforced.length > 0)
        throw badRequest(`${param} uses JSON-schema keywords that structured output cannot enforce: ${unenforced.join(", ")}. ` +
            "Remove them (enum, const, maxLength, minLength, maxItems, minItems, required and additionalProperties are enforced) or check them yourself",
        param);
    return schema as Record<string, unknown>;
}

/** OpenAI's tool_choice (and the legacy function_call); a forced choice needs tools, a named one a tool of that name. */
export function parseToolChoice(v: unknown, legacy: unknown, tools: ToolDefinition[] | undefined): ToolChoice | undefined {
    const raw = v ?? legacy;
    if (raw == null) return undefined;
    let choice: ToolChoice;
    if (raw === "auto" || raw === "none" || raw === "required") choice = raw;
    else if (typeof raw === "object" && raw !== null) {
        const r = raw as Body;
        const name = (r.function as Body | undefined)?.name ?? r.name;
        if (typeof name !== "string") throw badRequest("tool_choice must be \"auto\", \"none\", \"required\" or {\"type\":\"function\",\"function\":{\"name\"}}", "tool_choice");
        choice = {name};
    } else throw badRequest("tool_choice must be \"auto\", \"none\", \"required\" or {\"type\":\"function\",\"function\":{\"name\"}}", "tool_choice");
    if (choice !== "auto" && choice !== "none" && (!tools || tools.length === 0))
        throw badRequest("tool_choice forces a tool call, but no tools were sent", "tool_choice");
    if (typeof choice === "object" && !tools!.some((t) => t.name === choice.name))
        throw badRequest(`tool_choice names the function '${choice.name}', which is not among the tools sent`, "tool_choice");
    return choice;
}

/**
 * Token log-probabilities: node-llama-cpp's chat and completion loops never hand the sampler's probabilities out, so
 * they cannot be reported; a request that asks for them is told so instead of getting a silent null.
 */
export function refuseLogprobs(body: Body): void {
    const asked = body.logprobs === true || (typeof body.logprobs === "number" && body.logprobs > 0) ||
        (typeof body.top_logprobs === "number" && body.top_logprobs > 0);
    if (asked) throw badRequest("logprobs are not supported: this engine does not report token probabilities; remove logprobs/top_logprobs", "logprobs");
}
