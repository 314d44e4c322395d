/**
 * OpenAI's Responses API (/v1/responses, /v1/responses/input_tokens, /v1/responses/{id}) over runtime jobs. Responses
 * are stateless for the model: a `previous_response_id` is served by replaying the stored conversation before the new
 * input, and the engine's prefix reuse makes that replay cheap.
 */
import type {FastifyPluginAsync} from "fastify";
import type {ProviderConfig} from "../../config/load.js";
import {badRequest, ProviderError} from "../../runtime/errors.js";
import type {ChatMessage} from "../../runtime/protocol.js";
import type {Runtime} from "../../runtime/runtime.js";
import {disconnectSignal} from "../../server/stream.js";
import {MODEL_HEADER, serveGeneration} from "../shared/generation.js";
import {bodyOf, type Body} from "../shared/parse.js";
import type {ApiPluginOptions} from "../ollama/index.js";
import {randomId} from "../openai/format.js";
import {countPromptTokens} from "../shared/count.js";
import {responsesFormat} from "./format.js";
import {parseResponsesRequest, reasoningRequest, type ResponsesRequest} from "./parse.js";
import {createSchema, inputTokensSchema} from "./schemas.js";
import {conversationOf, DEFAULT_STORE_MAX, ResponseStore, type StoredResponse} from "./store.js";

export interface ResponsesPluginOptions extends ApiPluginOptions {
    /** The store of recent responses (tests pass their own); by default one sized by storeMax. */
    store?: ResponseStore;
    /** How many responses are kept for previous_response_id; default: the config's responses.store_max, else 200. */
    storeMax?: number;
}

/** `responses.store_max` from the config, when the config has that key. */
function configuredStoreMax(config: ProviderConfig): number | undefined {
    const section = (config as unknown as Record<string, unknown>).responses;
    const v = section != null && typeof section === "object" ? (section as Record<string, unknown>).store_max : undefined;
    return typeof v === "number" ? v : undefined;
}

function requireModel(runtime: Runtime, req: ResponsesRequest): string {
    const model = req.model || runtime.config.default_model || "";
    if (!model) throw badRequest("you must provide a model parameter", "model");
    return model;
}

function previousOf(store: ResponseStore, id: string | undefined): StoredResponse | null {
    if (id == null || id === "") return null;
    const entry = store.get(id);
    if (!entry)
        throw new ProviderError("not_found", `previous response '${id}' not found: it expired or was never stored`,
            {code: "previous_response_not_found", param: "previous_response_id"});
    return entry;
}

function responseNotFound(id: string): ProviderError {
    return new ProviderError("not_found", `response '${id}' not found: it expired or was never stored`, {code: "response_not_found"});
}

/** Instructions, then the conversation so far, then this request's input. Instructions never carry over from a previous response. */
function promptMessages(req: ResponsesRequest, previous: StoredResponse | null): ChatMessage[] {
    const messages: ChatMessage[] = [
        ...(req.instructions ? [{role: "system" as const, content: req.instructions}] : []),
        ...(previous ? conversationOf(previous) : []),
        ...req.input
    ];
    // a probe with no input still renders: some templates refuse a conversation without a user turn
    if (!messages.some((m) => m.role === "user" || m.role === "tool")) messages.push({role: "user", content: ""});
    return messages;
}

/** The runner names `messages` in a too-long prompt's 400; a Responses client sent `input`, as OpenAI's error names it. */
function inputParam(err: unknown): unknown {
    if (!(err instanceof ProviderError) || err.code !== "context_length_exceeded" || err.param === "input") return err;
    return new ProviderError(err.kind, err.message, {code: err.code, param: "input"});
}

const usesTools = (req: ResponsesRequest) => req.tools.definitions.length > 0 && req.toolChoice !== "none";

export const responsesApi: FastifyPluginAsync<ResponsesPluginOptions> = async (app, opts) => {
    const {runtime, logger} = opts;
    const store = opts.store ?? new ResponseStore(opts.storeMax ?? configuredStoreMax(runtime.config) ?? DEFAULT_STORE_MAX);

    const parse = (body: Body) => {
        const req = parseResponsesRequest(body);
        if (req.tools.dropped.length > 0 || req.skipped.length > 0 || req.toolChoiceNote)
            logger.info({
                ...(req.tools.dropped.length > 0 ? {dropped_tools: req.tools.dropped} : {}),
                ...(req.skipped.length > 0 ? {skipped_input: req.skipped} : {}),
                ...(req.toolChoiceNote ? {tool_choice: req.toolChoiceNote} : {})
            }, "responses: left out what this server cannot run");
        return req;
    };

    app.post("/v1/responses", {schema: createSchema}, async (request, reply) => {
        const req = parse(bodyOf(request));
        const model = requireModel(runtime, req);
        const previous = previousOf(store, req.previousResponseId);
        const tools = usesTools(req);
        if (tools && req.format != null)
            throw badRequest("a request cannot combine tools with text.format: the engine cannot constrain both at once; send one or the other", "text.format");
        const job = await runtime.job(model, {options: req.options, keepAliveSeconds: req.keepAliveSeconds, needs: tools ? ["completion", "tools"] : ["completion"]});
        const id = randomId("resp_", 24);
        const format = responsesFormat({
            id,
            model: job.model,
            echo: {...req.echo, temperature: job.sampling.temperature, top_p: job.sampling.top_p},
            tools: req.tools,
            dropped: req.tools.dropped,
            maxToolCalls: req.maxToolCalls,
            onComplete: (response, answer) => {
                if (req.store) store.put({id, response, parent: previous, turn: [...req.input, answer]});
            }
        });
        try {
            await serveGeneration(request, reply, logger, job, {
                mode: "chat",
                messages: job.withDefaults(promptMessages(req, previous)),
                options: job.sampling,
                ...(tools ? {tools: req.tools.definitions} : {}),
                ...(req.toolChoice ? {tool_choice: req.toolChoice} : {}),
                ...(req.format != null ? {format: req.format} : {}),
                // the runner stops after one call; the writer's limit still applies to max_tool_calls
                ...(req.echo.parallel_tool_calls ? {} : {parallelToolCalls: false}),
                ...reasoningRequest(req.reasoningEffort),
                // the Responses API's truncation: "auto" drops the oldest input, "disabled" (its default) refuses with a 400
                ...(req.echo.truncation === "auto" ? {truncate: true} : {})
            }, format, req.stream);
        } catch (err) {
            throw inputParam(err);
        }
    });

    app.post("/v1/responses/input_tokens", {schema: inputTokensSchema}, async (request, reply) => {
        const req = parse(bodyOf(request));
        const model = requireModel(runtime, req);
        const previous = previousOf(store, req.previousResponseId);
        const job = await runtime.job(model, {needs: ["completion"]});
        reply.header(MODEL_HEADER, job.model);
        const count = await countPromptTokens(job, promptMessages(req, previous), usesTools(req) ? req.tools.definitions : undefined,
            disconnectSignal(request, reply));
        return {object: "response.input_tokens", input_tokens: count};
    });

    app.get("/v1/responses/:id", async (request) => {
        const id = (request.params as {id: string}).id;
        const entry = store.get(id);
        if (!entry) throw responseNotFound(id);
        return entry.response;
    });

    app.delete("/v1/responses/:id", async (request) => {
        const id = (request.params as {id: string}).id;
        if (!store.delete(id)) throw responseNotFound(id);
        return {id, object: "response", deleted: true};
    });
};
