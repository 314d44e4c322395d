import path from "node:path";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {activityFamily, ActivityLog} from "../../src/api/ui/activity.js";
import {assetFor, assetsDir} from "../../src/api/ui/assets.js";
import {lineMatches, parseLogFilter, redactSecrets, secretsOf} from "../../src/api/ui/logs.js";
import {createLogger} from "../../src/log/logger.js";
import type {RequestRecord} from "../../src/server/request-log.js";
import {addModel, makeHome, removeHome, TEST_KEY, testConfig} from "../helpers/home.js";
import {startTestServer, type TestServer} from "../helpers/server.js";

/** Reads server-sent events from an open stream until `enough` says so, then lets go of the stream. */
async function readEvents(res: Response, enough: (events: Array<{event: string; data: string}>) => boolean, timeoutMs = 40_000) {
    const events: Array<{event: string; data: string}> = [];
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const timer = setTimeout(() => void reader.cancel(), timeoutMs);
    let buffer = "";
    try {
        while (!enough(events)) {
            const {value, done} = await reader.read();
            if (done) break;
            buffer += value;
            let cut: number;
            while ((cut = buffer.indexOf("\n\n")) >= 0) {
                const block = buffer.slice(0, cut);
                buffer = buffer.slice(cut + 2);
                const event = /^event: (.*)$/m.exec(block)?.[1];
                const data = /^data: (.*)$/m.exec(block)?.[1];
                if (event && data) events.push({event, data});
            }
        }
    } finally {
        clearTimeout(timer);
        await reader.cancel().catch(() => undefined);
    }
    return events;
}

describe("dashboard files", () => {
    it("names files inside the assets folder only: no dot files, no climbing out, never the data routes", () => {
        expect(assetFor("/ui")).toBe(path.join(assetsDir, "index.html"));
        expect(assetFor("/ui/")).toBe(path.join(assetsDir, "index.html"));
        expect(assetFor("/ui/app.js")).toBe(path.join(assetsDir, "app.js"));
        for (const bad of ["/ui/../package.json", "/ui/%2e%2e/package.json", "/ui/.hidden.js", "/ui/a//b.js", "/ui/api/events", "/ui/api", "/ui/app.ts", "/ui/x%00.js", "/uix/app.js", "/ui/%E0%A4%A.js"])
            expect(assetFor(bad), bad).toBeNull();
    });
});

describe("log lines for the dashboard", () => {
    const line = (o: Record<string, unknown>) => JSON.stringify({time: 1, pid: 1, hostname: "h", ...o});

    it("filters by level and by model, and refuses an unknown level", () => {
        const f = parseLogFilter({level: "warn", model: "plain"});
        expect(lineMatches(line({level: 40, model: "plain", msg: "x"}), f)).toBe(true);
        expect(lineMatches(line({level: 50, model: "plain", msg: "x"}), f)).toBe(true);
        expect(lineMatches(line({level: 30, model: "plain", msg: "x"}), f)).toBe(false);
        expect(lineMatches(line({level: 40, model: "other", msg: "x"}), f)).toBe(false);
        expect(lineMatches(line({level: 40, msg: "no model"}), f)).toBe(false);
        expect(lineMatches("not json", parseLogFilter({}))).toBe(false);
        expect(lineMatches(line({level: 10, msg: "x"}), parseLogFilter({}))).toBe(true);
        expect(() => parseLogFilter({level: "loud"})).toThrow(/level must be one of trace, debug, info, warn, error, fatal; got 'loud'/);
    });

    it("replaces every configured secret found in a line's text, the key included", () => {
        const config = testConfig("/nonexistent/zc-ui", {
            downloads: {max_concurrent: 1, hf_token: "hf_abcdefgh", hf_endpoint: null, retries: 0, orphan_part_days: 7},
            upstreams: [{url: "http://127.0.0.1:1", api_key: "up-secret-1"}]
        });
        const secrets = secretsOf(config);
        const out = redactSecrets(`{"msg":"key ${TEST_KEY} token hf_abcdefgh upstream up-secret-1"}`, secrets);
        expect(out).toBe('{"msg":"key [redacted] token [redacted] upstream [redacted]"}');
    });
});

describe("activity", () => {
    const record = (route: string, i: number): RequestRecord => ({id: String(i), time: new Date().toISOString(), method: "POST", route, matched: true, status: 200, ms: 1});

    it("keeps the last records only, and names each one's API", () => {
        const log = new ActivityLog(3);
        for (let i = 0; i < 5; i++) log.add(record("/api/chat", i));
        expect(log.recent().map((r) => r.id)).toEqual(["2", "3", "4"]);
        expect(log.recent()[0]!.family).toBe("ollama");
        expect(["/v1/chat/completions", "/v1/messages", "/infill", "/runtime/load/*", "/download/start", "/api/pull", "/ui/api/events", "/health"].map(activityFamily))
            .toEqual(["openai", "anthropic", "llamacpp", "runtime", "downloads", "downloads", "dashboard", "other"]);
    });
});

describe("the dashboard's routes on a running server", () => {
    let home: string;
    let server: TestServer;

    beforeAll(async () => {
        home = await makeHome("zc-ui-routes-");
        await addModel(home, "plain/plain-q8_0.gguf", {seed: 41});
        const logger = createLogger({level: "info", logsDir: path.join(home, "logs"), quiet: true});
        server = await startTestServer(home, {}, {logger});
    });

    afterAll(async () => {
        await server?.close(1000);
        await removeHome(home);
    });

    it("the page and its files load without the key, with a content policy; no data does", async () => {
        const page = await fetch(`${server.url}/ui`);
        expect(page.status).toBe(200);
        expect(page.headers.get("content-type")).toMatch(/^text\/html/);
        expect(page.headers.get("content-security-policy")).toMatch(/script-src 'self'/);
        const html = await page.text();
        for (const src of [...html.matchAll(/(?:src|href)="(\/ui\/[^"]+)"/g)].map((m) => m[1]!)) {
            const res = await fetch(server.url + src);
            expect(res.status, src).toBe(200);
        }
        const js = await fetch(`${server.url}/ui/app.js`);
        expect(js.headers.get("content-type")).toMatch(/^text\/javascript/);
        const again = await fetch(`${server.url}/ui/app.js`, {headers: {"if-none-match": js.headers.get("etag")!}});
        expect(again.status).toBe(304);
        for (const p of ["/ui/api/events", "/ui/api/logs", "/models/installed", "/runtime/status", "/metrics"])
            expect((await fetch(server.url + p)).status, p).toBe(401);
        expect((await fetch(`${server.url}/ui/missing.js`)).status).toBe(404);
    });

    it("the event stream starts with the activity so far, then brings requests and model events as they happen", async () => {
        await server.api("/api/tags");
        const res = await server.api("/ui/api/events");
        expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
        const reading = readEvents(res, (evs) => evs.some((e) => e.event === "model" && JSON.parse(e.data).type === "loaded"));
        await new Promise((r) => setTimeout(r, 100));
        expect((await server.json("/runtime/load/plain", {})).status).toBe(200);
        const events = await reading;
        const hello = JSON.parse(events[0]!.data) as {activity: Array<{route: string; family: string}>};
        expect(events[0]!.event).toBe("hello");
        expect(hello.activity.some((r) => r.route === "/api/tags" && r.family === "ollama")).toBe(true);
        const phases = events.filter((e) => e.event === "model").map((e) => JSON.parse(e.data) as {type: string; to?: string});
        expect(phases.filter((p) => p.type === "phase").map((p) => p.to)).toEqual(["loading", "loaded"]);
        await server.json("/runtime/unload/plain", {});
    });

    it("a request finished by another client arrives on an open stream with its facts", async () => {
        const res = await server.api("/ui/api/events");
        const reading = readEvents(res, (evs) => evs.some((e) => e.event === "request" && JSON.parse(e.data).route === "/api/generate"));
        await new Promise((r) => setTimeout(r, 100));
        const gen = await server.json<{eval_count: number}>("/api/generate", {model: "plain", prompt: "hi", stream: false, options: {num_predict: 3}});
        expect(gen.status).toBe(200);
        const events = await reading;
        const rec = JSON.parse(events.find((e) => e.event === "request" && JSON.parse(e.data).route === "/api/generate")!.data) as Record<string, unknown>;
        expect(rec).toMatchObject({method: "POST", status: 200, model: "plain", family: "ollama", completion_tokens: gen.body.eval_count});
        expect(rec.first_token_ms).toBeGreaterThan(0);
        expect(rec.first_token_ms as number).toBeLessThanOrEqual(rec.ms as number);
    });

    it("the log stream sends the recent lines, filtered by level, with the key redacted", async () => {
        await fetch(`${server.url}/runtime/status`, {headers: {"x-api-key": "wrong-key"}});
        const res = await server.api("/ui/api/logs?level=warn");
        const events = await readEvents(res, (evs) => evs.some((e) => e.data.includes("/runtime/status")));
        const lines = events.map((e) => JSON.parse(e.data) as {level: number; route?: string; status?: number});
        expect(lines.length).toBeGreaterThan(0);
        for (const l of lines) expect(l.level).toBeGreaterThanOrEqual(40);
        expect(lines.some((l) => l.route === "/runtime/status" && l.status === 401)).toBe(true);
        expect(events.map((e) => e.data).join("\n")).not.toContain(TEST_KEY);
        expect((await server.api("/ui/api/logs?level=loud")).status).toBe(400);
    });

    it("pin and unpin through the runtime routes, shown in both model lists", async () => {
        const pinned = await server.json<{model: string; pinned: boolean}>("/runtime/pin/plain", {});
        expect(pinned.body).toEqual({model: "plain", pinned: true});
        const installed = await server.json<{models: Array<{name: string; pinned: boolean}>}>("/models/installed");
        expect(installed.body.models.find((m) => m.name === "plain")!.pinned).toBe(true);
        const status = await server.json<{models: Array<{name: string; pinned: boolean}>}>("/runtime/status");
        expect(status.body.models.find((m) => m.name === "plain")!.pinned).toBe(true);
        expect((await server.json<{pinned: boolean}>("/runtime/unpin/plain", {})).body.pinned).toBe(false);
        expect((await server.json("/runtime/pin/no-such-model", {})).status).toBe(404);
    });

    it("a shutdown ends open streams at once instead of waiting out its grace period", async () => {
        const home2 = await makeHome("zc-ui-close-");
        const other = await startTestServer(home2);
        try {
            const res = await other.api("/ui/api/events");
            expect(res.status).toBe(200);
            const t0 = Date.now();
            await other.close(20_000);
            expect(Date.now() - t0).toBeLessThan(5000);
            await res.text().catch(() => "");
        } finally {
            await removeHome(home2);
        }
    });
});
