/** Body schemas for the Responses routes: field types only; meaning is checked by the handlers. */
import {arr, bodySchema, bool, nullable, num, obj, oneOf, str} from "../shared/schema.js";

const prompt = {
    model: str, input: nullable(oneOf(str, arr)), instructions: nullable(str), tools: nullable(arr), tool_choice: nullable(oneOf(str, obj)),
    text: nullable(obj), reasoning: nullable(obj), parallel_tool_calls: nullable(bool), previous_response_id: nullable(str), truncation: nullable(str)
};

export const createSchema = bodySchema({
    ...prompt, stream: nullable(bool), store: nullable(bool), max_output_tokens: nullable(num), max_tool_calls: nullable(num),
    temperature: nullable(num), top_p: nullable(num), seed: nullable(num), top_k: nullable(num), min_p: nullable(num), repeat_penalty: nullable(num),
    frequency_penalty: nullable(num), presence_penalty: nullable(num), include: nullable(arr), prompt_cache_key: nullable(str),
    metadata: nullable(obj), user: nullable(str), top_logprobs: nullable(num), keep_alive: nullable(oneOf(num, str)), background: nullable(bool)
});
export const inputTokensSchema = bodySchema(prompt);
