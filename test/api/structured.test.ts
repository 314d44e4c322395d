import Anthropic from "@anthropic-ai/sdk";
import {Ajv} from "ajv";
import {Ollama} from "ollama";
import OpenAI from "openai";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {addModel, addScriptedModel, makeHome, removeHome, TEST_KEY} from "../helpers/home.js";
import {startTestServer, type TestServer} from "../helpers/server.js";

let home: string;
let server: TestServer;
let openai: OpenAI;
let ollama: Ollama;

/** Bounded everywhere (enum, maxLength, maxItems), so an untrained model always finishes it. */
const schema = {
    type: "object",
    properties: {
        name: {type: "string", minLength: 1, maxLength: 10},
        level: {enum: ["low", "mid", "high"]},
        ok: {type: "boolean"},
        tags: {type: "array", items: {enum: ["a", "b", "c"]}, maxItems: 3},
        note: {type: ["string", "null"], maxLength: 8},
        size: {$ref: "#/$defs/size"}
    },
    required: ["name", "level", "ok", "tags", "note", "size"],
    additionalProperties: false,
    $defs: {size: {oneOf: [{const: "S"}, {const: "M"}, {const: "L"}]}}
};
const validate = new Ajv().compile(schema);

beforeAll(async () => {
    home = await makeHome("zc-structured-");
    await addModel(home, "plain/plain-q8_0.gguf", {seed: 41});
    // scripted to write an object and then run on in plain words, which a JSON grammar must cut off (on any CPU)
    await addScriptedModel(home, "jsonish/jsonish-q8_0.gguf", "{\"answer\": 42} and then words the grammar must cut off");
    server = await startTestServer(home);
    openai = new OpenAI({baseURL: server.url + "/v1", apiKey: TEST_KEY, maxRetries: 0});
    ollama = new Ollama({host: server.url, headers: {Authorization: `Bearer ${TEST_KEY}`}});
});

afterAll(async () => {
    await server?.close(1000);
    await removeHome(home);
});

const ask = [{role: "user" as const, content: "Describe a thing as JSON."}];

describe("structured output", () => {
    it("OpenAI json_schema: the output parses and validates on 20 seeds", async () => {
        for (let seed = 1; seed <= 20; seed++) {
            const res = await openai.chat.completions.create({
                model: "plain", messages: ask, seed, temperature: 1, max_tokens: 300,
                response_format: {type: "json_schema", json_schema: {name: "thing", strict: true, schema}}
            });
            expect(res.choices[0]!.finish_reason, `seed ${seed}`).toBe("stop");
            const parsed = JSON.parse(res.choices[0]!.message.content!) as unknown;
            expect(validate(parsed), `seed ${seed}: ${res.choices[0]!.message.content}`).toBe(true);
        }
    });

    it("Ollama format schema through ollama-js, streamed and not: parses and validates", async () => {
        for (const seed of [101, 102, 103]) {
            const res = await ollama.chat({model: "plain", messages: ask, format: schema, stream: false, options: {seed, temperature: 1, num_predict: 300}});
            expect(validate(JSON.parse(res.message.content))).toBe(true);
            expect(res.done_reason).toBe("stop");
        }
        let text = "";
        for await (const part of await ollama.generate({model: "plain", prompt: "JSON please", format: schema, stream: true, options: {seed: 104, num_predict: 300}})) text += part.response;
        expect(validate(JSON.parse(text))).toBe(true);
    });

    it("Anthropic output_config.format: the text block parses and validates", async () => {
        const anthropic = new Anthropic({baseURL: server.url, apiKey: TEST_KEY, maxRetries: 0});
        for (let i = 0; i < 3; i++) {
            const msg = await anthropic.messages.create({model: "plain", max_tokens: 300, messages: ask, output_config: {format: {type: "json_schema", schema}}});
            expect(msg.stop_reason).toBe("end_turn");
            expect(validate(JSON.parse((msg.content[0] as Anthropic.TextBlock).text))).toBe(true);
        }
    });

    it("json_object and format json give JSON; a cut-short answer says length", async () => {
        const isObject = (text: string) => {
            const v = JSON.parse(text) as unknown;
            return typeof v === "object" && v !== null && !Array.isArray(v);
        };
        // The scripted model closes its object and would go on in plain words: only the grammar ends it there, so this
        // answer always finishes and is always checked (a random model's answer need not finish within any bound).
        const greedy = await openai.chat.completions.create({model: "jsonish", messages: ask, temperature: 0, max_tokens: 400, response_format: {type: "json_object"}});
        expect(greedy.choices[0]!.finish_reason).toBe("stop");
        expect(isObject(greedy.choices[0]!.message.content!)).toBe(true);
        // Sampled: each answer is either a finished object or cut at exactly max_tokens and says so; some finish.
        let finished = 0;
        for (const seed of [4, 5, 6, 8]) {
            const res = await openai.chat.completions.create({model: "jsonish", messages: ask, seed, max_tokens: 400, response_format: {type: "json_object"}});
            const choice = res.choices[0]!;
            if (choice.finish_reason === "length") {
                expect(res.usage!.completion_tokens).toBe(400);
                continue;
            }
            expect(choice.finish_reason).toBe("stop");
            expect(isObject(choice.message.content!)).toBe(true);
            finished++;
        }
        expect(finished).toBeGreaterThan(0);
        const json = await ollama.chat({model: "jsonish", messages: ask, format: "json", stream: false, options: {temperature: 0, num_predict: 400}});
        expect(json.done_reason).toBe("stop");
        expect(isObject(json.message.content)).toBe(true);
        const cut = await openai.chat.completions.create({model: "plain", messages: ask, seed: 5, max_tokens: 4, response_format: {type: "json_schema", json_schema: {name: "t", schema}}});
        expect(cut.choices[0]!.finish_reason).toBe("length");
        const ollamaCut = await ollama.chat({model: "plain", messages: ask, format: schema, stream: false, options: {seed: 5, num_predict: 4}});
        expect(ollamaCut.done_reason).toBe("length");
    });

    it("a GBNF grammar (llama.cpp's field) constrains /v1/chat/completions and /api/generate", async () => {
        const grammar = "root ::= (\"yes\" | \"no\") \".\"";
        for (const seed of [1, 2, 3]) {
            const res = await server.json<{choices: Array<{message: {content: string}}>}>("/v1/chat/completions", {model: "plain", messages: ask, seed, max_tokens: 10, grammar});
            expect(["yes.", "no."]).toContain(res.body.choices[0]!.message.content);
        }
        const gen = await server.json<{response: string}>("/api/generate", {model: "plain", prompt: "ok?", grammar, stream: false, options: {seed: 9, num_predict: 10}});
        expect(["yes.", "no."]).toContain(gen.body.response);
        const broken = await server.json<{error: {message: string}}>("/v1/chat/completions", {model: "plain", messages: ask, max_tokens: 3, grammar: "root ::= (\"x\""});
        expect(broken.status).toBe(400);
        expect(broken.body.error.message).toMatch(/^invalid grammar/);
    });

    it("keywords the grammar cannot enforce get a 400 naming them, in each family's shape; so does an invalid schema", async () => {
        const withPattern = {type: "object", properties: {code: {type: "string", pattern: "^[A-Z]{3}$"}, n: {type: "integer", minimum: 1}, pattern: {type: "string"}}};
        const oa = await server.json<{error: {message: string; param: string}}>("/v1/chat/completions",
            {model: "plain", messages: ask, response_format: {type: "json_schema", json_schema: {name: "t", schema: withPattern}}});
        expect(oa.status).toBe(400);
        expect(oa.body.error.message).toContain("/properties/code/pattern");
        expect(oa.body.error.message).toContain("/properties/n/minimum");
        // a property that happens to be called "pattern" is not a keyword
        expect(oa.body.error.message).not.toContain("/properties/pattern");
        expect(oa.body.error.param).toBe("response_format.json_schema.schema");
        const ol = await server.json<{error: string}>("/api/chat", {model: "plain", messages: ask, format: withPattern, stream: false});
        expect(ol.status).toBe(400);
        expect(ol.body.error).toContain("/properties/code/pattern");
        const email = await server.json<{error: string}>("/api/chat", {model: "plain", messages: ask, stream: false, format: {type: "object", properties: {e: {type: "string", format: "email"}}}});
        expect(email.body.error).toContain("format (email)");
        const broken = await server.json<{error: {message: string}}>("/v1/chat/completions",
            {model: "plain", messages: ask, response_format: {type: "json_schema", json_schema: {name: "t", schema: {type: "object", properties: {a: {type: "strin"}}}}}});
        expect(broken.status).toBe(400);
        expect(broken.body.error.message).toMatch(/not a valid JSON schema/);
        const dates = await server.json<{choices: Array<{message: {content: string}}>}>("/v1/chat/completions",
            {model: "plain", messages: ask, max_tokens: 60, seed: 3, response_format: {type: "json_schema", json_schema: {name: "t", schema: {type: "object", properties: {d: {type: "string", format: "date"}}, required: ["d"]}}}});
        expect(JSON.parse(dates.body.choices[0]!.message.content).d).toMatch(/^\d{4}-\d\d-\d\d$/);
    });
});
