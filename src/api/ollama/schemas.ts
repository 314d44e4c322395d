/** Body schemas for the Ollama routes: field types only; meaning is checked by the handlers. */
import {arr, bodySchema, bool, nullable, num, obj, oneOf, str} from "../shared/schema.js";

const keepAlive = oneOf(num, str);
const format = oneOf(str, obj);
const common = {model: str, stream: bool, keep_alive: keepAlive, options: nullable(obj), format: nullable(format), grammar: str, think: nullable(oneOf(bool, str))};

export const showSchema = bodySchema({model: str, name: str, verbose: bool});
export const generateSchema = bodySchema({...common, prompt: str, suffix: str, system: str, raw: bool, images: nullable(arr), template: str});
export const chatSchema = bodySchema({...common, messages: nullable(arr), tools: nullable(arr)});
export const embedSchema = bodySchema({model: str, truncate: bool, keep_alive: keepAlive, options: nullable(obj)});
export const embeddingsSchema = bodySchema({model: str, prompt: str, keep_alive: keepAlive, options: nullable(obj)});

// model management: copy, create, delete, push and blobs
const name = {model: str, name: str};
export const copySchema = bodySchema({source: str, destination: str});
export const createSchema = bodySchema({
    ...name, from: str, stream: bool, system: str, template: str, license: nullable(oneOf(str, arr)), parameters: nullable(obj),
    messages: nullable(arr), quantize: nullable(str), files: nullable(obj), adapters: nullable(obj), modelfile: str, path: str
});
export const deleteSchema = bodySchema(name);
export const pushSchema = bodySchema({...name, insecure: bool, stream: bool});
export const blobSchema = {params: {type: "object", properties: {digest: str}}};
