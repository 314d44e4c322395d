/**
 * Anthropic's Messages API (/v1/messages, /v1/messages/count_tokens) over runtime jobs. Claude Code calls both with
 * `?beta=true` and `anthropic-beta` headers; neither changes what is served, so every value is accepted.
 */
import type {FastifyPluginAsync} from "fastify";
import {badRequest} from "../../runtime/errors.js";
import type {RequestOptions} from "../../runtime/job.js";
import type {ChatMessage} from "../../runtime/protocol.js";
import {disconnectSignal} from "../../server/stream.js";
import {checkOutputSchema} from "../shared/constraints.js";
import {MODEL_HEADER, serveGeneration} from "../shared/generation.js";
import {bodyOf, optionalBool, optionalString, parseStop, type Body} from "../shared/parse.js";
import type {ApiPluginOptions} from "../ollama/index.js";
import {countPromptTokens} from "../shared/count.js";
import {stripAttributionSetting} from "./attribution.js";
import {messagesFormat} from "./format.js";
import {number, parseAnthropicMessages, parseAnthropicToolChoice, parseAnthropicTools, parseThinking, systemText} from "./parse.js";
import {countTokensSchema, messagesSchema} from "./schemas.js";

export interface AnthropicPluginOptions extends ApiPluginOptions {
    /** Remove Claude Code's rotating attribution line from system prompts; default: the config's, else on. */
    stripAttribution?: boolean;
}

export const anthropicApi: FastifyPluginAsync<AnthropicPluginOptions> = async (app, {runtime, logger, stripAttribution: option}) => {
    const strip = stripAttributionSetting(runtime.config, option);
    app.post("/v1/messages", {schema: messagesSchema}, async (request, reply) => {
        const body = bodyOf(request);
        const requested = optionalString(body, "model");
        if (!requested) throw badRequest("model: Field required", "model");
        const maxTokens = number(body, "max_tokens");
        if (maxTokens == null) throw badRequest("max_tokens: Field required", "max_tokens");
        if (!Number.isInteger(maxTokens) || maxTokens < 1) throw badRequest("max_tokens: Input should be a positive integer", "max_tokens");
        const stream = optionalBool(body, "stream") ?? false;
        const system = systemText(body.system, strip);
        const messages = parseAnthropicMessages(body.messages);
        const reasoning = parseThinking(body.thinking, maxTokens);
        const tools = parseAnthropicTools(body.tools);
        const toolChoice = parseAnthropicToolChoice(body.tool_choice, tools);
        const usesTools = tools != null && tools.length > 0 && toolChoice !== "none";
        const outputFormat = (body.output_config as Body | undefined)?.format as Body | null | undefined;
        if (outputFormat != null && outputFormat.type !== "json_schema") throw badRequest("output_config.format.type: Input should be 'json_schema'");
        const format = outputFormat != null ? checkOutputSchema(outputFormat.schema, "output_config.format.schema") : undefined;
        if (format && usesTools) throw badRequest("a request cannot combine tools with output_config.format: the engine cannot constrain both at once; send one or the other");
        const options: RequestOptions = {num_predict: maxTokens};
        for (const key of ["temperature", "top_p", "top_k"] as const) {
            const v = number(body, key);
            if (v != null) options[key] = v;
        }
        const stop = parseStop(body.stop_sequences, "stop_sequences");
        if (stop) options.stop = stop;
        const job = await runtime.job(requested, {options, needs: usesTools ? ["completion", "tools"] : ["completion"]});
        const withSystem: ChatMessage[] = system != null && system !== "" ? [{role: "system", content: system}, ...messages] : messages;
        await serveGeneration(request, reply, logger, job, {
            mode: "chat",
            messages: job.withDefaults(withSystem),
            options: job.sampling,
            ...(tools?.length ? {tools} : {}),
            ...(toolChoice ? {tool_choice: toolChoice} : {}),
            // tool_choice.disable_parallel_tool_use: at most one tool_use block
            ...((body.tool_choice as Body | null | undefined)?.disable_parallel_tool_use === true ? {parallelToolCalls: false} : {}),
            ...(format ? {format} : {}),
            reasoning
        }, messagesFormat(job.model), stream);
    });

    app.post("/v1/messages/count_tokens", {schema: countTokensSchema}, async (request, reply) => {
        const body = bodyOf(request);
        const requested = optionalString(body, "model");
        if (!requested) throw badRequest("model: Field required", "model");
        const system = systemText(body.system, strip);
        const messages = parseAnthropicMessages(body.messages);
        const tools = parseAnthropicTools(body.tools);
        const toolChoice = parseAnthropicToolChoice(body.tool_choice, tools);
        const chat: ChatMessage[] = system != null && system !== "" ? [{role: "system", content: system}, ...messages] : messages;
        const job = await runtime.job(requested, {needs: ["completion"]});
        reply.header(MODEL_HEADER, job.model);
        // tools reach the prompt only when the model may call them, as in /v1/messages
        const offered = tools?.length && toolChoice !== "none" ? tools : undefined;
        return {input_tokens: await countPromptTokens(job, chat, offered, disconnectSignal(request, reply))};
    });
};
