/**
 * Replays of what real clients send (paths, bodies, headers), from the reference's notes on Continue, Zed,
 * VS Code Copilot, litellm/aider, Cursor and Claude Code, checked with each client's own expectations.
 */
import {Ollama} from "ollama";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {OLLAMA_DEFAULT_CORS_ORIGINS} from "../../src/config/schema.js";
import {addModel, makeHome, removeHome, TEST_KEY} from "../helpers/home.js";
import {ndjson, sse, startTestServer, type TestServer} from "../helpers/server.js";

let home: string;
let server: TestServer;

const MODEL = "qwen2.5-coder-1.5b-instruct";
const EMBED = "nomic-embed-text";

beforeAll(async () => {
    home = await makeHome("zc-clients-");
    await addModel(home, `${MODEL}-gguf/${MODEL}-q8_0.gguf`, {tools: true, fim: true, seed: 61});
    await addModel(home, `${EMBED}/${EMBED}-f16.gguf`, {embedding: true, quantization: "f16", seed: 62});
    // the shipped CORS defaults (Ollama's list), which include Cursor's vscode-file:// origin
    server = await startTestServer(home, {auth: {enable_api_key: true, api_key: TEST_KEY, api_key_file: null, allow_loopback_without_key: false, cors_origins: [...OLLAMA_DEFAULT_CORS_ORIGINS]}});
});

afterAll(async () => {
    await server?.close(1000);
    await removeHome(home);
});

/** A raw request as the client sends it: its headers only, no helper defaults. */
function send(path: string, method: string, headers: Record<string, string>, body?: unknown, base = server.url): Promise<Response> {
    return fetch(base + path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
}

const bearer = {Authorization: `Bearer ${TEST_KEY}`};
const json = {"Content-Type": "application/json", Accept: "application/json"};

describe("Continue (core/llm/llms/Ollama.ts)", () => {
    const headers = {...json, ...bearer, "User-Agent": "node-fetch"};

    it("lists, shows, chats, autocompletes with FIM, survives an aborted stream and embeds", async () => {
        const tags = await (await send("/api/tags", "GET", headers)).json() as {models: Array<{name: string}>};
        expect(tags.models.map((m) => m.name)).toContain(MODEL);

        const show = await (await send("/api/show", "POST", headers, {name: MODEL})).json() as {parameters: string; template: string};
        expect(show.parameters).toMatch(/^num_ctx\s+\d+/m);
        expect(show.template.includes(".Suffix")).toBe(true);

        const chat = await send("/api/chat", "POST", headers, {
            model: MODEL,
            messages: [{role: "system", content: "You are a coding assistant."}, {role: "user", content: "Write hello world in Python"}],
            options: {temperature: 0.7, top_p: 0.9, top_k: 40, num_predict: 12, stop: ["<|im_end|>"], num_ctx: 8192, mirostat: 0, num_thread: 4, use_mmap: true, min_p: 0.05},
            think: false,
            keep_alive: 1800,
            stream: true
        });
        expect(chat.status).toBe(200);
        const lines = await ndjson(chat);
        expect(lines.every((l) => l.error === undefined)).toBe(true);
        expect(lines.at(-1)!.done).toBe(true);
        expect(lines.slice(0, -1).map((l) => (l.message as {content: string}).content).join("").length).toBeGreaterThan(0);

        const fim = await send("/api/generate", "POST", headers, {
            model: MODEL, prompt: "def add(a, b):\n    ", suffix: "\n\nprint(add(1, 2))\n", raw: true,
            options: {temperature: 0.01, num_predict: 16, stop: ["\n\n"], num_ctx: 8192}, keep_alive: 1800, stream: true
        });
        const fimLines = await ndjson(fim);
        expect(fimLines.at(-1)!.done).toBe(true);
        expect(fimLines.every((l) => typeof l.response === "string")).toBe(true);

        // autocomplete cancels constantly: abort a stream after its first chunk, then the next request still works
        const ac = new AbortController();
        const aborted = await fetch(server.url + "/api/generate", {method: "POST", headers, signal: ac.signal,
            body: JSON.stringify({model: MODEL, prompt: "x = ", suffix: "\n", raw: true, options: {num_predict: 2000}, keep_alive: 1800, stream: true})});
        const reader = aborted.body!.getReader();
        await reader.read();
        ac.abort();
        const after = await send("/api/generate", "POST", headers, {model: MODEL, prompt: "y = ", suffix: "\n", raw: true, options: {num_predict: 3}, stream: false});
        expect(after.status).toBe(200);

        const embed = await (await send("/api/embed", "POST", headers, {model: EMBED, input: ["first chunk", "second chunk"]})).json() as {embeddings: number[][]};
        expect(embed.embeddings).toHaveLength(2);
    });
});

describe("Zed (crates/ollama)", () => {
    const headers = {"Content-Type": "application/json", ...bearer};

    it("/api/tags has every field Zed's strict deserializer requires", async () => {
        const tags = await (await send("/api/tags", "GET", headers)).json() as {models: Array<Record<string, unknown>>};
        for (const m of tags.models) {
            expect(typeof m.name).toBe("string");
            expect(typeof m.modified_at).toBe("string");
            expect(typeof m.size).toBe("number");
            expect(typeof m.digest).toBe("string");
            const d = m.details as Record<string, unknown>;
            for (const k of ["format", "family", "parameter_size", "quantization_level"]) expect(typeof d[k], k).toBe("string");
            expect(d.families === null || Array.isArray(d.families)).toBe(true);
        }
        const show = await (await send("/api/show", "POST", headers, {model: MODEL})).json() as {capabilities: string[]; model_info: Record<string, unknown>};
        expect(show.capabilities).toContain("tools");
        expect(show.model_info["llama.context_length"]).toEqual(expect.any(Number));
    });

    it("every /api/chat line carries model, created_at, a role-tagged message and done; tool turns use tool_name", async () => {
        const tools = [{type: "function", function: {name: "read_file", description: "Read a file", parameters: {type: "object", properties: {path: {type: "string", maxLength: 20}}, required: ["path"]}}}];
        const check = (lines: Array<Record<string, unknown>>) => {
            expect(lines.length).toBeGreaterThan(1);
            for (const l of lines) {
                expect(typeof l.model).toBe("string");
                expect(typeof l.created_at).toBe("string");
                expect(typeof l.done).toBe("boolean");
                const m = l.message as {role: string; content: string};
                expect(m.role).toBe("assistant");
                expect(typeof m.content).toBe("string");
                if (l.done) {
                    expect(typeof l.done_reason).toBe("string");
                    expect(typeof l.prompt_eval_count).toBe("number");
                    expect(typeof l.eval_count).toBe("number");
                }
            }
            expect(lines.at(-1)!.done).toBe(true);
        };
        const first = await send("/api/chat", "POST", headers, {
            model: MODEL,
            messages: [{role: "system", content: "You are Zed's assistant."}, {role: "user", content: "Open main.rs"}],
            stream: true, keep_alive: -1, options: {num_ctx: 4096, num_predict: 10, stop: [], temperature: 0.5}, tools
        });
        check(await ndjson(first));
        const second = await send("/api/chat", "POST", headers, {
            model: MODEL,
            messages: [
                {role: "user", content: "Open main.rs"},
                {role: "assistant", content: "", tool_calls: [{function: {name: "read_file", arguments: {path: "main.rs"}}}]},
                {role: "tool", content: "fn main() {}", tool_name: "read_file"}
            ],
            stream: true, keep_alive: -1, options: {num_ctx: 4096, num_predict: 6}, tools
        });
        check(await ndjson(second));
    });

    it("edit prediction: raw /api/generate with Zed's own FIM prompt, stream false, reads response", async () => {
        const res = await send("/api/generate", "POST", headers, {
            model: MODEL, prompt: "<|fim_prefix|>fn main() {\n    <|fim_suffix|>\n}<|fim_middle|>", raw: true, stream: false,
            options: {num_predict: 64, temperature: 0.2, stop: ["<|endoftext|>", "<|file_sep|>", "<|fim_pad|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"]}
        });
        expect(res.status).toBe(200);
        const body = await res.json() as {response: string; done: boolean};
        expect(typeof body.response).toBe("string");
        expect(body.done).toBe(true);
    });
});

describe("VS Code Copilot (BYOK Ollama provider, no API key)", () => {
    it("version, tags, show with Copilot's User-Agent, then /v1/chat/completions with tools over SSE", async () => {
        // Copilot's Ollama provider cannot send a key: the guide enables loopback without a key
        const copilot = await startTestServer(home, {auth: {enable_api_key: true, api_key: TEST_KEY, api_key_file: null, allow_loopback_without_key: true, cors_origins: []}});
        try {
            const headers = {"Content-Type": "application/json", "User-Agent": "GitHubCopilotChat/0.30.0"};
            const version = await (await send("/api/version", "GET", headers, undefined, copilot.url)).json() as {version: string};
            const [maj, min, patch] = version.version.split(".").map(Number);
            expect(maj! * 10000 + min! * 100 + patch!).toBeGreaterThanOrEqual(604);
            const tags = await (await send("/api/tags", "GET", headers, undefined, copilot.url)).json() as {models: Array<{model: string}>};
            expect(tags.models.map((m) => m.model)).toContain(MODEL);
            const show = await (await send("/api/show", "POST", headers, {model: MODEL}, copilot.url)).json() as {capabilities: string[]; model_info: Record<string, unknown>};
            expect(show.capabilities).toContain("tools");
            const arch = show.model_info["general.architecture"] as string;
            expect(show.model_info[`${arch}.context_length`]).toEqual(expect.any(Number));
            expect(show.model_info["general.basename"]).toBe(MODEL);
            const res = await send("/v1/chat/completions", "POST", headers, {
                model: MODEL, n: 1, temperature: 0.1, top_p: 1, max_tokens: 16, stream: true, stream_options: {include_usage: true},
                messages: [{role: "system", content: "You are GitHub Copilot."}, {role: "user", content: [{type: "text", text: "Explain this file"}]}],
                tools: [{type: "function", function: {name: "read_file", description: "Read a file", parameters: {type: "object", properties: {filePath: {type: "string"}}, required: ["filePath"]}}}],
                tool_choice: "auto"
            }, copilot.url);
            expect(res.status).toBe(200);
            const events = await sse(res);
            expect(events.at(-1)!.data).toBe("[DONE]");
            for (const e of events.slice(0, -1)) expect((JSON.parse(e.data) as {object: string}).object).toBe("chat.completion.chunk");
        } finally {
            await copilot.close(1000);
        }
    });
});

describe("litellm / aider (ollama_chat/ and ollama/ providers, OLLAMA_API_KEY as Bearer)", () => {
    const headers = {"Content-Type": "application/json", ...bearer};

    it("/api/show for model info, /api/chat streamed and not with the keys litellm reads, /api/generate with format json", async () => {
        const show = await (await send("/api/show", "POST", headers, {name: MODEL})).json() as {template: string; model_info: Record<string, unknown>};
        expect(typeof show.template).toBe("string");
        expect(Object.keys(show.model_info).some((k) => k.includes("context_length"))).toBe(true);
        const body = {
            model: MODEL, messages: [{role: "user", content: "Refactor this function"}],
            options: {num_predict: 10, temperature: 0.3, seed: 7, top_p: 0.9, repeat_penalty: 1.1, stop: ["\n\n\n"], num_ctx: 8192},
            keep_alive: "5m"
        };
        const streamed = await ndjson(await send("/api/chat", "POST", headers, {...body, stream: true}));
        for (const l of streamed) for (const k of ["message", "done", "model"]) expect(l, k).toHaveProperty(k);
        const whole = await (await send("/api/chat", "POST", headers, {...body, stream: false})).json() as Record<string, unknown>;
        for (const k of ["message", "done", "prompt_eval_count", "eval_count", "done_reason"]) expect(whole, k).toHaveProperty(k);
        const gen = await (await send("/api/generate", "POST", headers, {model: MODEL, prompt: "Give me a JSON object", options: {num_predict: 200, seed: 3}, format: "json", stream: false})).json() as {done: boolean; response: string; done_reason: string};
        expect(gen.done).toBe(true);
        if (gen.done_reason === "stop") expect(() => JSON.parse(gen.response) as unknown).not.toThrow();
    });
});

describe("Cursor (OpenAI base-URL override) and Claude Code (ANTHROPIC_BASE_URL)", () => {
    it("Cursor: /v1/models and a streamed chat with the verify request's Origin", async () => {
        const models = await (await send("/v1/models", "GET", {...bearer})).json() as {data: Array<{id: string}>};
        expect(models.data.map((m) => m.id)).toContain(MODEL);
        const res = await send("/v1/chat/completions", "POST", {"Content-Type": "application/json", ...bearer, Origin: "vscode-file://vscode-app"},
            {model: MODEL, messages: [{role: "user", content: "Test prompt"}], stream: true, max_tokens: 4});
        expect(res.status).toBe(200);
        expect(res.headers.get("access-control-allow-origin")).toBe("vscode-file://vscode-app");
        expect((await sse(res)).at(-1)!.data).toBe("[DONE]");
    });

    it("Claude Code: POST /v1/messages?beta=true with its headers, system blocks, tools and a stream", async () => {
        const res = await send("/v1/messages?beta=true", "POST", {
            "Content-Type": "application/json", Authorization: `Bearer ${TEST_KEY}`, "anthropic-version": "2023-06-01",
            "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14", "x-app": "cli", "User-Agent": "claude-cli/2.0.0 (external, cli)"
        }, {
            model: MODEL,
            messages: [{role: "user", content: [{type: "text", text: "What does main.py do?", cache_control: {type: "ephemeral"}}]}],
            temperature: 1,
            system: [{type: "text", text: "You are Claude Code, Anthropic's official CLI for Claude.", cache_control: {type: "ephemeral"}}],
            tools: [{
                name: "Read", description: "Reads a file",
                input_schema: {type: "object", properties: {file_path: {type: "string"}, offset: {type: "number"}, limit: {type: "number"}},
                    required: ["file_path"], additionalProperties: false, $schema: "http://json-schema.org/draft-07/schema#"}
            }],
            metadata: {user_id: "user_abc_account__session_123"},
            max_tokens: 32,
            stream: true
        });
        expect(res.status).toBe(200);
        const events = await sse(res);
        expect(events[0]!.event).toBe("message_start");
        expect(events.at(-1)!.event).toBe("message_stop");
        const count = await send("/v1/messages/count_tokens?beta=true", "POST", {"Content-Type": "application/json", "x-api-key": TEST_KEY, "anthropic-version": "2023-06-01"},
            {model: MODEL, messages: [{role: "user", content: "hi"}]});
        expect(((await count.json()) as {input_tokens: number}).input_tokens).toBeGreaterThan(0);
    });
});

describe("ollama-js", () => {
    it("list, show, chat (streamed and not), generate, embed: every stream parses and ends with done", async () => {
        const ollama = new Ollama({host: server.url, headers: {Authorization: `Bearer ${TEST_KEY}`}});
        expect((await ollama.list()).models.map((m) => m.name)).toContain(MODEL);
        expect((await ollama.show({model: MODEL})).capabilities).toContain("insert");
        const chat = await ollama.chat({model: MODEL, messages: [{role: "user", content: "hi"}], options: {num_predict: 5}});
        expect(chat.done).toBe(true);
        let text = "";
        for await (const part of await ollama.chat({model: MODEL, messages: [{role: "user", content: "hi"}], stream: true, options: {num_predict: 5}})) text += part.message.content;
        expect(text.length).toBeGreaterThan(0);
        let gen = "";
        for await (const part of await ollama.generate({model: MODEL, prompt: "def f(", suffix: "):\n    pass\n", stream: true, options: {num_predict: 5}})) gen += part.response;
        expect(gen.length).toBeGreaterThan(0);
        const emb = await ollama.embed({model: EMBED, input: ["a", "b", "c"]});
        expect(emb.embeddings).toHaveLength(3);
        for (const v of emb.embeddings) expect(Math.hypot(...v)).toBeCloseTo(1, 4);
        await expect(ollama.chat({model: "missing-model", messages: [{role: "user", content: "hi"}]})).rejects.toMatchObject({status_code: 404, error: expect.stringMatching(/^model 'missing-model' not found/)});
    });
});
