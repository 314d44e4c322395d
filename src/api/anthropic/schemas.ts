/** Body schemas for the Anthropic routes: field types only; meaning is checked by the handlers. */
import {arr, bodySchema, bool, nullable, num, obj, oneOf, str} from "../shared/schema.js";

const common = {model: str, system: nullable(oneOf(str, arr)), messages: arr, tools: nullable(arr), tool_choice: nullable(obj)};

export const messagesSchema = bodySchema({
    ...common, max_tokens: num, stream: nullable(bool), temperature: nullable(num), top_p: nullable(num), top_k: nullable(num),
    stop_sequences: nullable(arr), output_config: nullable(obj), metadata: nullable(obj), thinking: nullable(obj)
});
export const countTokensSchema = bodySchema(common);
