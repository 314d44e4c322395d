import OpenAI from "openai";
import {pino} from "pino";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import type {ProviderConfigFile} from "../../src/config/schema.js";
import {DEFAULT_UPSTREAM_TIMEOUT_MS, LIST_TIMEOUT_MS} from "../../src/upstream/client.js";
import {OllamaUpstream} from "../../src/upstream/ollama.js";
import {OpenAIUpstream} from "../../src/upstream/openai.js";
import {addModel, makeHome, removeHome, TEST_KEY} from "../helpers/home.js";
import {ndjson, sse, startTestServer, type TestServer} from "../helpers/server.js";
import {startHalfDeadUpstream, startOllamaStandIn, startOpenAIStandIn, type OllamaStandIn} from "./standin.js";

const ask = [{role: "user" as const, content: "hi"}];
/** Far beyond the 600 ms list deadline below: a request still open then is stuck on an upstream (before the fix it hung until the stall timer, which a trickle never trips). */
const CLIENT_GIVES_UP_MS = 8000;

type LogLine = Record<string, unknown>;

function collectingLogger(lines: LogLine[]) {
    return pino({level: "info"}, {write: (line: string) => lines.push(JSON.parse(line) as LogLine)});
}

describe("upstream: a half-dead upstream's model list", () => {
    let home: string;
    let trickle: Awaited<ReturnType<typeof startHalfDeadUpstream>>;
    let trickleOpenAI: Awaited<ReturnType<typeof startHalfDeadUpstream>>;
    let mute: Awaited<ReturnType<typeof startHalfDeadUpstream>>;
    const servers: TestServer[] = [];

    beforeAll(async () => {
        trickle = await startHalfDeadUpstream("trickle");
        trickleOpenAI = await startHalfDeadUpstream("trickle");
        mute = await startHalfDeadUpstream("silent");
        home = await makeHome("zc-up-halfdead-");
        await addModel(home, "local-one/local-one-q8_0.gguf", {seed: 81});
    });

    afterAll(async () => {
        for (const s of servers) await s.close(1000);
        await trickle?.close();
        await trickleOpenAI?.close();
        await mute?.close();
        await removeHome(home);
    });

    /** A fresh server per test, so its first request is the one that waits for the never-fetched lists. */
    async function serverWithHalfDeadUpstreams(log: LogLine[]): Promise<TestServer> {
        // timeout_ms also sets the stall timer between body chunks; the trickle's bytes keep restarting it
        const upstreams: ProviderConfigFile["upstreams"] = [
            {name: "trickle", url: trickle.url, type: "ollama", timeout_ms: 600},
            {name: "trickle-oa", url: trickleOpenAI.url, type: "openai", timeout_ms: 600},
            {name: "mute", url: mute.url, type: "ollama", timeout_ms: 600}
        ];
        const s = await startTestServer(home, {upstreams}, {logger: collectingLogger(log), upstreamListTtlMs: 300});
        servers.push(s);
        return s;
    }

    function warnings(log: LogLine[]): Map<unknown, string> {
        return new Map(log.filter((l) => l.msg === "upstream is unavailable; its models are hidden until it answers").map((l) => [l.upstream, String(l.error)]));
    }

    it("the list deadline is the smaller of timeout_ms and 5 s", () => {
        const cfg = {id: "x", url: "http://127.0.0.1:1", apiKey: null};
        expect(LIST_TIMEOUT_MS).toBe(5000);
        expect(new OllamaUpstream({...cfg, type: "ollama", timeoutMs: DEFAULT_UPSTREAM_TIMEOUT_MS}).listTimeoutMs).toBe(5000);
        expect(new OpenAIUpstream({...cfg, type: "openai", timeoutMs: 600}).listTimeoutMs).toBe(600);
    });

    it("/api/tags and /v1/models answer with the local models once the list deadline (the smaller of timeout_ms and 5 s) covers the body too", async () => {
        const log: LogLine[] = [];
        const server = await serverWithHalfDeadUpstreams(log);
        const res = await server.api("/api/tags", {signal: AbortSignal.timeout(CLIENT_GIVES_UP_MS)});
        expect(res.status).toBe(200);
        const tags = await res.json() as {models: Array<Record<string, unknown>>};
        expect(tags.models.map((m) => m.name)).toEqual(["local-one"]);
        // the stand-ins were asked, sent headers, and were given up on at the deadline
        expect(trickle.requests).toContain("/api/tags");
        expect(trickleOpenAI.requests).toContain("/v1/models");
        const warned = warnings(log);
        expect(warned.get("trickle")).toMatch(/^upstream 'trickle' \(http:\/\/127\.0\.0\.1:\d+\) answered \/api\/tags but did not send the whole list within 600 ms$/);
        expect(warned.get("trickle-oa")).toMatch(/^upstream 'trickle-oa' .* answered \/v1\/models but did not send the whole list within 600 ms$/);
        expect(warned.get("mute")).toMatch(/within 600 ms/);

        const models = await server.api("/v1/models", {signal: AbortSignal.timeout(CLIENT_GIVES_UP_MS)});
        expect(models.status).toBe(200);
        expect(((await models.json()) as {data: Array<{id: string}>}).data.map((m) => m.id)).toEqual(["local-one"]);
        // once per outage, not per request
        expect(log.filter((l) => l.msg === "upstream is unavailable; its models are hidden until it answers")).toHaveLength(3);
    });

    it("resolving a name that is not local waits for the lists only until the deadline, then names the unavailable upstreams", async () => {
        const log: LogLine[] = [];
        const server = await serverWithHalfDeadUpstreams(log);
        const res = await server.api("/api/chat", {method: "POST", json: {model: "somewhere-else", messages: ask, stream: false}, signal: AbortSignal.timeout(CLIENT_GIVES_UP_MS)});
        expect(res.status).toBe(502);
        const body = await res.json() as {error: string};
        expect(body.error).toMatch(/^model 'somewhere-else' not found locally, and upstream 'trickle' .* is unavailable \(.*did not send the whole list within 600 ms\)/);
        expect(warnings(log).size).toBe(3);
    });
});

describe("upstream: killed mid-stream while its stream is being translated", () => {
    let home: string;
    let ollamaStandIn: OllamaStandIn;
    let openaiStandIn: Awaited<ReturnType<typeof startOpenAIStandIn>>;
    let server: TestServer;

    beforeAll(async () => {
        ollamaStandIn = await startOllamaStandIn();
        openaiStandIn = await startOpenAIStandIn();
        home = await makeHome("zc-up-killed-");
        await addModel(home, "local-one/local-one-q8_0.gguf", {seed: 82});
        server = await startTestServer(home, {
            upstreams: [
                {name: "ol", url: ollamaStandIn.url, type: "ollama", timeout_ms: 3000},
                {name: "oa", url: openaiStandIn.url, type: "openai", timeout_ms: 3000}
            ]
        }, {upstreamListTtlMs: 300});
    });

    afterAll(async () => {
        await server?.close(1000);
        await ollamaStandIn?.close();
        await openaiStandIn?.close();
        await removeHome(home);
    });

    async function stillServing(): Promise<void> {
        // the other upstream model, through the same translation, and a local model
        const ok = await server.json<{message: {content: string}; done: boolean}>("/api/chat", {model: "oa-ok", messages: ask, stream: false});
        expect(ok.status).toBe(200);
        expect(ok.body.message.content).toBe("Hello there");
        const local = await server.json<{done: boolean}>("/api/chat", {model: "local-one", messages: ask, stream: false, options: {num_predict: 3}});
        expect(local.status).toBe(200);
        expect(local.body.done).toBe(true);
    }

    it("an OpenAI-compatible upstream dying under /api/chat ends the NDJSON stream with an error line naming it", async () => {
        for (let round = 0; round < 2; round++) {
            const res = await server.api("/api/chat", {method: "POST", json: {model: "oa-dying", messages: ask}, signal: AbortSignal.timeout(CLIENT_GIVES_UP_MS)});
            expect(res.status).toBe(200);
            const lines = await ndjson(res);
            expect((lines[0]!.message as {content: string}).content).toBe("Hello");
            expect(String(lines.at(-1)!.error)).toMatch(/^upstream 'oa' \(http:\/\/127\.0\.0\.1:\d+\) broke off the response mid-stream/);
            expect(lines.some((l) => l.done === true)).toBe(false);
        }
        expect(openaiStandIn.seen.filter((r) => r.path === "/v1/chat/completions" && r.body?.model === "oa-dying")).toHaveLength(2);
        await stillServing();
    });

    it("an Ollama upstream dying under /v1/chat/completions ends the SSE stream with an error event (openai-node throws it), no [DONE]", async () => {
        const res = await server.api("/v1/chat/completions", {method: "POST", json: {model: "dying", messages: ask, stream: true}, signal: AbortSignal.timeout(CLIENT_GIVES_UP_MS)});
        expect(res.status).toBe(200);
        const events = await sse(res);
        const data = events.map((e) => e.data);
        expect(data).not.toContain("[DONE]");
        const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as {choices: Array<{delta: {content?: string}}>});
        expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe("Hello");
        const last = JSON.parse(data.at(-1)!) as {error: {message: string; type: string}};
        expect(last.error.type).toBe("api_error");
        expect(last.error.message).toMatch(/^upstream 'ol' \(http:\/\/127\.0\.0\.1:\d+\) broke off the response mid-stream/);

        const client = new OpenAI({baseURL: server.url + "/v1", apiKey: TEST_KEY, maxRetries: 0});
        const stream = await client.chat.completions.create({model: "dying", messages: ask, stream: true});
        let text = "";
        await expect((async () => {
            for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
        })()).rejects.toThrow(/upstream 'ol' .* broke off the response mid-stream/);
        expect(text).toBe("Hello");
        await stillServing();
    });
});
