/** Body schemas for the OpenAI routes: field types only; meaning is checked by the handlers. */
import {bodySchema, bool, nullable, num, obj, oneOf, str, strOrStrings, arr} from "../shared/schema.js";

const sampling = {
    temperature: nullable(num), top_p: nullable(num), seed: nullable(num), frequency_penalty: nullable(num), presence_penalty: nullable(num),
    top_k: nullable(num), min_p: nullable(num), repeat_penalty: nullable(num), max_tokens: nullable(num), max_completion_tokens: nullable(num),
    n: nullable(num), stop: nullable(strOrStrings), stream: nullable(bool), stream_options: nullable(obj), grammar: str
};

export const chatSchema = bodySchema({...sampling, model: str, messages: arr, parallel_tool_calls: nullable(bool), logprobs: nullable(bool), top_logprobs: nullable(num), tools: nullable(arr), functions: nullable(arr), response_format: nullable(obj), reasoning_effort: nullable(str), chat_template_kwargs: nullable(obj)});
export const completionSchema = bodySchema({...sampling, model: str, prompt: nullable(oneOf(str, arr)), logprobs: nullable(num), suffix: nullable(str), echo: nullable(bool), best_of: nullable(num)});
export const embeddingsSchema = bodySchema({model: str, encoding_format: str, dimensions: nullable(num)});
