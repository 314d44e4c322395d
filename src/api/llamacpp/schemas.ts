/** Body schema for llama.cpp's /infill: field types only; meaning is checked by the handler. */
import {arr, bodySchema, bool, nullable, num, str, strOrStrings} from "../shared/schema.js";

export const infillSchema = bodySchema({
    model: nullable(str), input_prefix: nullable(str), input_suffix: nullable(str), prompt: nullable(str), input_extra: nullable(arr),
    n_predict: nullable(num), temperature: nullable(num), top_k: nullable(num), top_p: nullable(num), min_p: nullable(num), seed: nullable(num),
    repeat_penalty: nullable(num), repeat_last_n: nullable(num), presence_penalty: nullable(num), frequency_penalty: nullable(num),
    stop: nullable(strOrStrings), stream: nullable(bool)
});
