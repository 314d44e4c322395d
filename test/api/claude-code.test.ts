import {randomBytes} from "node:crypto";
import Anthropic from "@anthropic-ai/sdk";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {withoutAttribution} from "../../src/api/anthropic/attribution.js";
import {systemText} from "../../src/api/anthropic/parse.js";
import {addModel, makeHome, removeHome, TEST_KEY} from "../helpers/home.js";
import {sse, startTestServer, type TestServer} from "../helpers/server.js";

let home: string;
let server: TestServer;
let client: Anthropic;

beforeAll(async () => {
    home = await makeHome("zc-claude-code-");
    // random weights with the Qwen2.5-style tools template: counts and cache hits are what is checked, never text
    await addModel(home, "toolsy/toolsy-q8_0.gguf", {tools: true, seed: 33});
    server = await startTestServer(home);
    client = new Anthropic({baseURL: server.url, apiKey: TEST_KEY, maxRetries: 0});
});

afterAll(async () => {
    await server?.close(1000);
    await removeHome(home);
});

const hex = (n: number) => randomBytes(n).toString("hex").slice(0, n);
/** Claude Code's attribution line: both its version suffix and its cch value change on every request. */
const attribution = () => `x-anthropic-billing-header: cc_version=2.1.42.${hex(3)}; cc_entrypoint=cli; cch=${hex(5)};`;

const INSTRUCTIONS = [
    "You are an interactive CLI tool that helps users with software engineering tasks.",
    "Use the instructions below and the tools available to you to assist the user.",
    "When you run a non-trivial bash command, explain what it does and why you are running it.",
    "Keep your answers short; the terminal is narrow. Prefer editing existing files to creating new ones.",
    "Never guess file contents: read a file before you change it, and check the result after."
].join("\n");

/** A system prompt the way Claude Code sends it: the attribution block first, then cached instruction blocks. */
const claudeSystem = (): Anthropic.Beta.BetaTextBlockParam[] => [
    {type: "text", text: attribution()},
    {type: "text", text: "You are Claude Code, Anthropic's official CLI for Claude.", cache_control: {type: "ephemeral"}},
    {type: "text", text: INSTRUCTIONS, cache_control: {type: "ephemeral"}}
];

const tools: Anthropic.Beta.BetaTool[] = [
    {name: "Bash", description: "Executes a bash command", input_schema: {type: "object", properties: {command: {type: "string", maxLength: 16}}, required: ["command"]}},
    {name: "Read", description: "Reads a file", input_schema: {type: "object", properties: {file_path: {enum: ["README.md", "package.json"]}}, required: ["file_path"]},
        cache_control: {type: "ephemeral"}}
];

/** The betas Claude Code sends, plus one no server has heard of. */
const betas = ["claude-code-20250219", "interleaved-thinking-2025-05-14", "fine-grained-tool-streaming-2025-05-14", "context-management-2025-06-27",
    "oauth-2025-04-20", "some-future-beta-2099-01-01"];

const total = (u: Anthropic.Beta.BetaUsage) => u.input_tokens + (u.cache_read_input_tokens ?? 0);

describe("Claude Code end to end", () => {
    it("the second turn of a Claude-Code-shaped conversation evaluates only its new tokens", async () => {
        const ask: Anthropic.Beta.BetaMessageParam = {role: "user", content: [{type: "text", text: "What files are in this folder?", cache_control: {type: "ephemeral"}}]};
        const common = {model: "toolsy", tools, betas, metadata: {user_id: "user_0a1b_account__session_9f8e"}, ...({temperature: 1} as object)};
        const first = await client.beta.messages.stream({...common, max_tokens: 24, system: claudeSystem(), messages: [ask]}).finalMessage();
        const firstPrompt = total(first.usage);
        expect(firstPrompt).toBeGreaterThan(100);

        // the answer goes back as the assistant turn; a tool_use is answered by a tool_result, as Claude Code does
        const uses = first.content.filter((b): b is Anthropic.Beta.BetaToolUseBlock => b.type === "tool_use");
        const reply: Anthropic.Beta.BetaMessageParam = {role: "user", content: [
            ...uses.map((u) => ({type: "tool_result" as const, tool_use_id: u.id, content: "README.md\npackage.json"})),
            {type: "text", text: "Thanks. Which one is the manifest?"}
        ]};
        const history: Anthropic.Beta.BetaMessageParam[] = [ask, {role: "assistant", content: first.content as Anthropic.Beta.BetaContentBlockParam[]}, reply];
        const second = await client.beta.messages.stream({...common, max_tokens: 4, system: claudeSystem(), messages: history}).finalMessage();
        const secondPrompt = total(second.usage);
        expect(secondPrompt).toBeGreaterThan(firstPrompt);
        // the whole first prompt came from the cache (the engine re-evaluates at most the last shared token)...
        expect(second.usage.cache_read_input_tokens).toBeGreaterThanOrEqual(firstPrompt - 1);
        // ...so what was evaluated is only what the second turn added
        expect(second.usage.input_tokens).toBeLessThanOrEqual(secondPrompt - firstPrompt + 1);
        expect(second.usage.cache_creation_input_tokens).toBe(0);
    });

    it("count_tokens?beta=true counts the system with the model's own template, without the attribution line", async () => {
        const messages: Anthropic.Beta.BetaMessageParam[] = [{role: "user", content: "Say hello"}];
        const counted = await client.beta.messages.countTokens({model: "toolsy", betas, system: claudeSystem(), messages});
        const again = await client.beta.messages.countTokens({model: "toolsy", betas, system: claudeSystem(), messages});
        // a different attribution line, the same count: the line is not part of the prompt
        expect(again.input_tokens).toBe(counted.input_tokens);
        const bare = await client.beta.messages.countTokens({model: "toolsy", betas, system: claudeSystem().slice(1), messages});
        expect(counted.input_tokens).toBe(bare.input_tokens);
        // and the count is what the model is then given
        const msg = await client.beta.messages.create({model: "toolsy", betas, max_tokens: 1, system: claudeSystem(), messages});
        expect(counted.input_tokens).toBe(total(msg.usage));
    });

    it("count_tokens counts tools when the model may call them", async () => {
        const messages: Anthropic.Beta.BetaMessageParam[] = [{role: "user", content: "List the files"}];
        const without = await client.beta.messages.countTokens({model: "toolsy", betas, system: claudeSystem(), messages});
        const withTools = await client.beta.messages.countTokens({model: "toolsy", betas, system: claudeSystem(), messages, tools});
        expect(withTools.input_tokens).toBeGreaterThan(without.input_tokens + 40);
        const none = await client.beta.messages.countTokens({model: "toolsy", betas, system: claudeSystem(), messages, tools, tool_choice: {type: "none"}});
        expect(none.input_tokens).toBe(without.input_tokens);
        // exactly the prompt a request with those tools is then given: the tools rendered as the template renders them
        const msg = await client.beta.messages.create({model: "toolsy", betas, max_tokens: 1, system: claudeSystem(), messages, tools});
        expect(withTools.input_tokens).toBe(total(msg.usage));
    });

    it("every anthropic-beta value and ?beta=true are accepted on /v1/messages and /v1/messages/count_tokens", async () => {
        const headers = {"anthropic-version": "2023-06-01", "anthropic-beta": "made-up-beta-1,another-one-2026-13-45", "x-api-key": TEST_KEY};
        const body = {model: "toolsy", max_tokens: 2, stream: true, system: claudeSystem(), messages: [{role: "user", content: "hi"}]};
        const streamed = await server.api("/v1/messages?beta=true", {method: "POST", headers, json: body});
        expect(streamed.status).toBe(200);
        expect((await sse(streamed)).at(-1)!.event).toBe("message_stop");
        const counted = await server.api("/v1/messages/count_tokens?beta=true", {method: "POST", headers, json: {model: "toolsy", messages: body.messages}});
        expect(counted.status).toBe(200);
        expect(((await counted.json()) as {input_tokens: number}).input_tokens).toBeGreaterThan(0);
    });
});

describe("the attribution line", () => {
    it("is removed from the block or string that carries it, and only that line", () => {
        const line = "x-anthropic-billing-header: cc_version=2.1.37.0d9; cc_entrypoint=cli; cch=fa690;";
        expect(withoutAttribution(line)).toBe("");
        expect(withoutAttribution(`${line}\nYou are Claude Code.`)).toBe("You are Claude Code.");
        expect(withoutAttribution(`Intro\n  X-Anthropic-Billing-Header: cch=1;\nRest`)).toBe("Intro\nRest");
        expect(withoutAttribution("Mentioning x-anthropic-billing-header: inline stays")).toBe("Mentioning x-anthropic-billing-header: inline stays");
        const blocks = [{type: "text", text: line}, {type: "text", text: "You are Claude Code."}, {type: "text", text: "\nBe brief."}];
        expect(systemText(blocks, true)).toBe("You are Claude Code.\nBe brief.");
        // switched off, the prompt is exactly as sent
        expect(systemText(blocks, false)).toBe(`${line}You are Claude Code.\nBe brief.`);
    });
});
