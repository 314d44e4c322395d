/**
 * Ollama's `/api/create` body (and the legacy `modelfile` text) → the variant it describes: a name, what it is
 * built from, and the defaults it sets. What a local provider cannot do (new weights, adapters, quantising) is
 * refused with the way to get there instead.
 */
import type {ModelOverride} from "../../config/schema.js";
import {parseModelfile} from "../../registry/modelfile.js";
import {badRequest} from "../../runtime/errors.js";
import {parseOptions} from "../../runtime/sampling.js";
import type {Body} from "../shared/parse.js";
import {commandHint} from "../../command-hint.js";

export interface CreateRequest {
    name: string;
    /** A model name, or a path or digest that the route must turn into an installed model (or refuse). */
    from: string;
    /** The defaults the variant sets: written as `models.<name>` next to `from`. */
    defaults: Pick<ModelOverride, "system" | "options" | "stop" | "messages">;
    /** What was accepted but has no effect here, said to the client as status lines. */
    notices: string[];
}

/** Where a model can come from instead, for every refusal that is about getting new weights. */
export function alternatives(modelsDir: string): string {
    return `put the GGUF file in the models folder (${modelsDir}) or download one with \`${commandHint("pull", "<org>/<repo>")}\` ` +
        "(or POST /api/pull {\"model\": \"hf.co/<org>/<repo>:<quant>\"}); it is then served under its own name, " +
        "and POST /api/create {\"model\": \"<new name>\", \"from\": \"<that name>\"} makes variants of it";
}

const MAX_NAME = 256;

/** Ollama's name shape (`[host/][namespace/]model[:tag]`): printable, no spaces, at most 256 characters. */
export function checkModelName(name: string, field: string): string {
    const n = name.trim();
    if (n === "") throw badRequest(`"${field}" is required`, field);
    if (n.length > MAX_NAME || !/^[A-Za-z0-9_][A-Za-z0-9._:/+-]*$/.test(n) || n.includes("..") || n.endsWith(":") || n.endsWith("/"))
        throw badRequest(`invalid model name ${JSON.stringify(name.slice(0, 80))} in "${field}": use letters, digits and . _ - : / + (at most ${MAX_NAME})`, field);
    return n;
}

/** Parameter values as Ollama keeps them: numbers and booleans as such, anything else refused. */
function parseParameters(raw: unknown, field: string): {options: Record<string, unknown>; stop?: string[]} {
    if (raw == null) return {options: {}};
    if (typeof raw !== "object" || Array.isArray(raw)) throw badRequest(`"${field}" must be an object of Ollama options`, field);
    const src = {...(raw as Body)};
    let stop: string[] | undefined;
    if (src.stop != null) {
        const list = typeof src.stop === "string" ? [src.stop] : src.stop;
        if (!Array.isArray(list) || !list.every((s) => typeof s === "string")) throw badRequest(`"${field}.stop" must be a string or an array of strings`, field);
        stop = list.filter((s) => s !== "");
    }
    delete src.stop;
    // the options the engine reads must have their type; the rest are kept for /api/show as Ollama keeps them
    parseOptions(src, field);
    const options: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(src)) {
        if (value == null) continue;
        if (typeof value !== "number" && typeof value !== "boolean" && typeof value !== "string")
            throw badRequest(`"${field}.${key}" must be a number, a string or true/false`, field);
        options[key] = value;
    }
    return {options, ...(stop ? {stop} : {})};
}

function parseMessages(raw: unknown): NonNullable<ModelOverride["messages"]> | undefined {
    if (raw == null) return undefined;
    if (!Array.isArray(raw)) throw badRequest("\"messages\" must be an array", "messages");
    return raw.map((m, i) => {
        const msg = (m ?? {}) as Body;
        const role = typeof msg.role === "string" ? msg.role.toLowerCase() : "";
        if (role !== "system" && role !== "user" && role !== "assistant")
            throw badRequest(`messages[${i}].role must be one of system, user, assistant`, "messages");
        if (typeof msg.content !== "string") throw badRequest(`messages[${i}].content must be a string`, "messages");
        if (Array.isArray(msg.images) && msg.images.length > 0) throw badRequest(`messages[${i}].images: this engine version has no vision input`, "messages");
        return {role, content: msg.content};
    });
}

function nonEmpty(v: unknown): boolean {
    if (v == null || v === "") return false;
    if (Array.isArray(v)) return v.length > 0;
    if (typeof v === "object") return Object.keys(v).length > 0;
    return true;
}

/** A legacy Modelfile's FROM and ADAPTER lines (parseModelfile reads the rest). */
function modelfileSources(text: string): {from?: string; adapter: boolean} {
    let from: string | undefined;
    let adapter = false;
    let inBlock = false;
    for (const line of text.replace(/\r\n/g, "\n").split("\n")) {
        // the inside of a """ block is text, not instructions
        const quotes = line.split("\"\"\"").length - 1;
        if (!inBlock) {
            const m = /^\s*(FROM|ADAPTER)\s+(.+?)\s*$/i.exec(line);
            if (m?.[1]!.toUpperCase() === "FROM") from ??= m[2]!.replace(/^"(.*)"$/, "$1");
            else if (m) adapter = true;
        }
        if (quotes % 2 === 1) inBlock = !inBlock;
    }
    return {from, adapter};
}

/** Reads a create body. Checks only the body itself; the route resolves `from` and checks the name is free. */
export function parseCreateRequest(body: Body, modelsDir: string): CreateRequest {
    const rawName = typeof body.model === "string" && body.model !== "" ? body.model : body.name;
    if (rawName == null || rawName === "") throw badRequest("model is required", "model");
    if (typeof rawName !== "string") throw badRequest("\"model\" must be a string", "model");
    const name = checkModelName(rawName, "model");
    const notices: string[] = [];

    if (nonEmpty(body.quantize) || nonEmpty(body.quantization))
        throw badRequest(`quantize is not supported: this provider does not rewrite weights. To use another quantisation, ${alternatives(modelsDir)}`, "quantize");
    if (nonEmpty(body.files))
        throw badRequest(`files (uploaded blobs) are not supported: this provider serves GGUF files in place and has no blob store. Instead, ${alternatives(modelsDir)}`, "files");
    if (nonEmpty(body.adapters))
        throw badRequest("adapters are not supported: the engine loads one GGUF per model without LoRA adapters; merge the adapter into the GGUF, then " +
            alternatives(modelsDir), "adapters");

    let fromModelfile: ReturnType<typeof parseModelfile>["defaults"] = {};
    let modelfileFrom: string | undefined;
    if (body.modelfile != null) {
        if (typeof body.modelfile !== "string") throw badRequest("\"modelfile\" must be a string", "modelfile");
        const sources = modelfileSources(body.modelfile);
        if (sources.adapter)
            throw badRequest("ADAPTER is not supported: the engine loads one GGUF per model without LoRA adapters; merge the adapter into the GGUF, then " +
                alternatives(modelsDir), "modelfile");
        modelfileFrom = sources.from;
        const parsed = parseModelfile(body.modelfile);
        fromModelfile = parsed.defaults;
        for (const w of parsed.warnings) if (!w.startsWith("TEMPLATE")) notices.push(`modelfile: ${w}`);
    } else if (typeof body.path === "string" && body.path !== "") {
        throw badRequest("\"path\" (a Modelfile on the server) is not read: send the Modelfile's text as \"modelfile\", or its fields (from, system, parameters, messages)", "path");
    }

    if (body.from != null && typeof body.from !== "string") throw badRequest("\"from\" must be a string", "from");
    const from = (body.from as string | undefined) || modelfileFrom;
    if (from == null || from.trim() === "")
        throw badRequest(`"from" is required: name the installed model this variant is built on. A new model file cannot be created here: ${alternatives(modelsDir)}`, "from");

    if (body.system != null && typeof body.system !== "string") throw badRequest("\"system\" must be a string", "system");
    const params = parseParameters(body.parameters, "parameters");
    const messages = parseMessages(body.messages) ?? fromModelfile.messages?.map((m) => {
        if (m.role !== "system" && m.role !== "user" && m.role !== "assistant") throw badRequest(`modelfile: MESSAGE role ${m.role} is not one of system, user, assistant`, "modelfile");
        return {role: m.role, content: m.content};
    });

    const template = body.template ?? fromModelfile.template;
    if (template != null && template !== "")
        notices.push("template is not used: the GGUF's own chat template formats every conversation (a Go template cannot run here)");
    if (nonEmpty(body.license)) notices.push("license is not stored");
    for (const key of ["renderer", "parser"]) if (nonEmpty(body[key])) notices.push(`${key} is not used: the GGUF's own chat template decides`);

    const system = (body.system as string | undefined) ?? fromModelfile.system;
    const options = {...fromModelfile.options, ...params.options};
    const stop = params.stop ?? fromModelfile.stop;
    const defaults: CreateRequest["defaults"] = {};
    if (system != null) defaults.system = system;
    if (Object.keys(options).length > 0) {
        parseOptions(options, "modelfile PARAMETER");
        defaults.options = options;
    }
    if (stop != null) defaults.stop = stop;
    if (messages != null && messages.length > 0) defaults.messages = messages;
    return {name, from: from.trim(), defaults, notices};
}
