/** A Responses request body → the internal request's parts, plus the settings the response repeats back. */
import {badRequest} from "../../runtime/errors.js";
import type {RequestOptions} from "../../runtime/job.js";
import type {ChatMessage, GenerateRequest, ToolChoice} from "../../runtime/protocol.js";
import {checkOutputSchema, refuseLogprobs} from "../shared/constraints.js";
import {parseKeepAlive} from "../shared/keep-alive.js";
import {optionalBool, optionalNumber, optionalString, type Body} from "../shared/parse.js";
import {parseInput} from "./input.js";
import {parseResponsesToolChoice, parseTools, type ToolSet} from "./tools.js";
import type {ResponseEcho} from "./wire.js";

/** Reasoning efforts OpenAI's models accept; accepted here for every model (see reasoningRequest). */
export const REASONING_EFFORTS = ["none", "minimal", "low", "medium", "high", "xhigh"] as const;
export type ReasoningEffort = typeof REASONING_EFFORTS[number];

export interface ResponsesRequest {
    model: string | undefined;
    instructions: string | undefined;
    /** This request's own input as chat messages (a previous response's conversation goes before them). */
    input: ChatMessage[];
    /** Input item types that were skipped. */
    skipped: string[];
    tools: ToolSet;
    toolChoice: ToolChoice | undefined;
    /** Why a tool_choice was relaxed to "auto", for the log. */
    toolChoiceNote?: string;
    format: GenerateRequest["format"];
    options: RequestOptions;
    keepAliveSeconds: number | undefined;
    reasoningEffort: ReasoningEffort | undefined;
    /** At most this many tool calls are returned (parallel_tool_calls: false → 1; max_tool_calls). */
    maxToolCalls: number;
    previousResponseId: string | undefined;
    store: boolean;
    stream: boolean;
    /** What the response repeats; temperature and top_p are filled in from the model's effective sampling. */
    echo: Omit<ResponseEcho, "temperature" | "top_p">;
}

function positiveInteger(body: Body, key: string): number | undefined {
    const v = optionalNumber(body, key);
    if (v != null && (!Number.isInteger(v) || v < 1)) throw badRequest(`"${key}" must be a positive integer`, key);
    return v;
}

/** Sampling: the Responses fields, plus the llama-server extensions the Chat Completions route accepts (seed, top_k, ...). */
function samplingOptions(body: Body): RequestOptions {
    const opts: RequestOptions = {};
    const max = positiveInteger(body, "max_output_tokens");
    if (max != null) opts.num_predict = max;
    for (const key of ["temperature", "top_p", "seed", "top_k", "min_p", "repeat_penalty", "frequency_penalty", "presence_penalty"] as const) {
        const v = optionalNumber(body, key);
        if (v != null) opts[key] = v;
    }
    return opts;
}

/** `text.format`: plain text, any JSON, or a JSON schema checked by the same policy as Chat Completions' response_format. */
function parseTextFormat(text: unknown): GenerateRequest["format"] {
    if (text == null) return undefined;
    if (typeof text !== "object" || Array.isArray(text)) throw badRequest("\"text\" must be an object", "text");
    const format = (text as Body).format;
    if (format == null) return undefined;
    if (typeof format !== "object" || Array.isArray(format) || typeof (format as Body).type !== "string")
        throw badRequest("text.format must be an object with a type", "text.format");
    const f = format as Body;
    if (f.type === "text") return undefined;
    if (f.type === "json_object") return "json";
    if (f.type === "json_schema") return checkOutputSchema(f.schema, "text.format.schema");
    throw badRequest(`text.format.type must be text, json_object or json_schema; got ${JSON.stringify(f.type)}`, "text.format");
}

function parseReasoning(v: unknown): {effort?: ReasoningEffort; summary?: string} | undefined {
    if (v == null) return undefined;
    if (typeof v !== "object" || Array.isArray(v)) throw badRequest("\"reasoning\" must be an object", "reasoning");
    const r = v as Body;
    const effort = r.effort;
    if (effort != null && !(REASONING_EFFORTS as readonly unknown[]).includes(effort))
        throw badRequest(`reasoning.effort must be one of ${REASONING_EFFORTS.join(", ")}; got ${JSON.stringify(effort)}`, "reasoning.effort");
    return {
        ...(effort != null ? {effort: effort as ReasoningEffort} : {}),
        ...(typeof r.summary === "string" ? {summary: r.summary} : {})
    };
}

/** Features of OpenAI's hosted service that have no local meaning; refused by name rather than silently ignored. */
function refuseHostedFeatures(body: Body): void {
    if (body.background === true) throw badRequest("background responses are not supported: send the request and wait for it (or stream it)", "background");
    if (body.conversation != null) throw badRequest("conversations are not supported: continue with previous_response_id, or send the whole input", "conversation");
    if (body.prompt != null && typeof body.prompt === "object") throw badRequest("stored prompt templates are not supported: send instructions and input", "prompt");
}

/** Responses asks for token log-probabilities with top_logprobs or an include entry; the engine reports none. */
function refuseResponsesLogprobs(body: Body): void {
    refuseLogprobs(body);
    if (Array.isArray(body.include) && body.include.includes("message.output_text.logprobs"))
        throw badRequest("logprobs are not supported: this engine does not report token probabilities; remove message.output_text.logprobs from include", "include");
}

export function parseResponsesRequest(body: Body): ResponsesRequest {
    refuseHostedFeatures(body);
    refuseResponsesLogprobs(body);
    const tools = parseTools(body.tools);
    const {choice, note} = parseResponsesToolChoice(body.tool_choice, tools);
    const {messages, skipped} = parseInput(body.input, tools);
    const format = parseTextFormat(body.text);
    const reasoning = parseReasoning(body.reasoning);
    const parallel = optionalBool(body, "parallel_tool_calls") ?? true;
    const maxCalls = positiveInteger(body, "max_tool_calls");
    const store = optionalBool(body, "store") ?? true;
    const instructions = optionalString(body, "instructions");
    const metadata = body.metadata != null && typeof body.metadata === "object" && !Array.isArray(body.metadata) ? body.metadata as Record<string, unknown> : null;
    const text = body.text != null && typeof body.text === "object" ? body.text as Record<string, unknown> : {};
    const options = samplingOptions(body);
    return {
        model: optionalString(body, "model"),
        instructions,
        input: messages,
        skipped,
        tools,
        toolChoice: choice,
        ...(note ? {toolChoiceNote: note} : {}),
        format,
        options,
        keepAliveSeconds: parseKeepAlive(body.keep_alive),
        reasoningEffort: reasoning?.effort,
        maxToolCalls: Math.min(parallel ? Infinity : 1, maxCalls ?? Infinity),
        previousResponseId: optionalString(body, "previous_response_id"),
        store,
        stream: optionalBool(body, "stream") ?? false,
        echo: {
            instructions: instructions ?? null,
            metadata,
            parallel_tool_calls: parallel,
            tool_choice: body.tool_choice ?? "auto",
            tools: tools.kept,
            max_output_tokens: options.num_predict ?? null,
            previous_response_id: optionalString(body, "previous_response_id") ?? null,
            reasoning: reasoning ? {effort: reasoning.effort ?? null, summary: reasoning.summary ?? null} : null,
            store,
            text: {format: {type: "text"}, ...text},
            truncation: optionalString(body, "truncation") ?? "disabled",
            prompt_cache_key: optionalString(body, "prompt_cache_key") ?? null,
            user: optionalString(body, "user") ?? null
        }
    };
}

/**
 * What `reasoning.effort` asks of the generation: "none" turns thinking off, the others are a level ("minimal" is
 * the lowest one, "xhigh" the highest) that bounds the thought segment; absent, the model thinks as its template does.
 */
export function reasoningRequest(effort: ReasoningEffort | undefined): Partial<GenerateRequest> {
    switch (effort) {
        case undefined:
            return {};
        case "none":
            return {reasoning: {enabled: false}};
        case "minimal":
        case "low":
            return {reasoning: {enabled: true, effort: "low"}};
        case "medium":
            return {reasoning: {enabled: true, effort: "medium"}};
        case "high":
        case "xhigh":
            return {reasoning: {enabled: true, effort: "high"}};
    }
}
