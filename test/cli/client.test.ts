/**
 * The zombiecoder client commands against a stand-in provider (node:http): the address and key from the config,
 * the tables they print, the streamed chat and its Ctrl+C, and the message when nothing listens.
 */
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import {afterAll, afterEach, beforeAll, describe, expect, it, vi} from "vitest";
import {errorMessageOf, NoProviderError, ndjsonLines, ProviderClient, providerBaseUrl, ProviderResponseError, sseEvents} from "../../src/cli/client.js";
import {main as listMain} from "../../src/cli/list.js";
import {loadMain, unloadMain} from "../../src/cli/load.js";
import {main as psMain, residentRows, untilText, type ModelStatus} from "../../src/cli/ps.js";
import {main as runMain, parseCommand, statsText, streamAnswer} from "../../src/cli/run.js";
import {describeModel} from "../../src/cli/show.js";
import {closestCommands, COMMANDS, main as zombiecoderMain} from "../../src/cli/zombiecoder.js";
import {runCli} from "./run-cli.js";

const KEY = "client-test-key";
const seen: Array<{method: string; url: string; key: string | undefined; body: string}> = [];
let slowChat = false;

const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
        seen.push({method: req.method ?? "", url: req.url ?? "", key: req.headers["x-api-key"] as string | undefined, body});
        if (req.headers["x-api-key"] !== KEY) {
            res.writeHead(401, {"content-type": "application/json"}).end(JSON.stringify({error: "missing API key"}));
            return;
        }
        const json = (v: unknown) => res.writeHead(200, {"content-type": "application/json"}).end(JSON.stringify(v));
        if (req.url === "/models/installed") return json({models: [
            {name: "tiny", size: 2_500_000, status: "loaded", source: "models_dir", details: {quantization_level: "Q8_0", parameter_size: "1M"}, pinned: true},
            {name: "far-model", size: 0, status: "upstream", upstream: "lan-ollama"}
        ]});
        if (req.url === "/runtime/status") return json({
            models: [
                {name: "tiny", state: "loaded", runner_pid: 4242, pinned: false, in_flight: 1, queued: 2, context_size: 512, estimate_bytes: 1, measured_rss_bytes: 50 * 1024 * 1024, expires_at: "forever"},
                {name: "cold", state: "unloaded", runner_pid: null, pinned: false, in_flight: 0, queued: 0, context_size: 0, estimate_bytes: 0, measured_rss_bytes: 0, expires_at: null}
            ],
            memory: {server_rss_bytes: 70 * 1024 * 1024}
        });
        if (req.url === "/runtime/load/org/My%20Model") return json({model: "org/My Model", status: "loaded", load_ms: 321, context_size: 2048});
        if (req.url === "/runtime/unload/tiny") return json({model: "tiny", status: "unloaded", was_loaded: true});
        if (req.url === "/runtime/load/nope") {
            res.writeHead(404, {"content-type": "application/json"}).end(JSON.stringify({error: "model 'nope' not found; did you mean 'tiny'?"}));
            return;
        }
        if (req.url === "/api/chat") {
            const parsed = JSON.parse(body) as {messages: unknown[]; stream?: boolean};
            if (parsed.messages.length === 0) return json({model: "tiny", done: true, done_reason: "load"});
            res.writeHead(200, {"content-type": "application/x-ndjson"});
            const chunks = ["Hel", "lo", " there"];
            let i = 0;
            const next = (): void => {
                if (i < chunks.length) {
                    res.write(`${JSON.stringify({message: {role: "assistant", content: chunks[i++]}, done: false})}\n`);
                    setTimeout(next, slowChat ? 200 : 1);
                } else res.end(`${JSON.stringify({done: true, eval_count: 3, eval_duration: 3e8, prompt_eval_count: 5, prompt_eval_duration: 1e8, total_duration: 5e8, load_duration: 1e6})}\n`);
            };
            next();
            return;
        }
        res.writeHead(404).end("{}");
    });
});

let home: string;
let url: string;
const temp = fs.mkdtempSync(path.join(os.tmpdir(), "zc-client-"));

beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as {port: number}).port;
    url = `http://127.0.0.1:${port}`;
    home = path.join(temp, "home");
    fs.mkdirSync(path.join(home, "config"), {recursive: true});
    fs.writeFileSync(path.join(home, "config", "key.txt"), `${KEY}\n`);
    fs.writeFileSync(path.join(home, "config", "provider_config.json"), JSON.stringify({server_port: port, auth: {enable_api_key: true, api_key: null, api_key_file: "config/key.txt"}}));
});
afterAll(() => {
    server.close();
    fs.rmSync(temp, {recursive: true, force: true});
});

/** Runs a command's main with stdout and stderr captured. */
async function capture(run: () => Promise<number | void>): Promise<{code: number | void; out: string; err: string}> {
    let out = "";
    let err = "";
    const o = vi.spyOn(process.stdout, "write").mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
    const e = vi.spyOn(process.stderr, "write").mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
    try {
        return {code: await run(), out, err};
    } finally {
        o.mockRestore();
        e.mockRestore();
    }
}

afterEach(() => {
    seen.length = 0;
    slowChat = false;
});

describe("client commands against a running provider", () => {
    it("list reads the key from the home's key file and prints one row per model", async () => {
        const r = await capture(() => listMain(["--home", home]));
        expect(r.code).toBe(0);
        expect(seen[0]).toMatchObject({method: "GET", url: "/models/installed", key: KEY});
        const rows = r.out.trim().split("\n");
        expect(rows[0]).toMatch(/^NAME\s+SIZE\s+QUANT\s+PARAMS\s+STATUS\s+SOURCE$/);
        expect(r.out).toMatch(/tiny\s+2\.4 MB\s+Q8_0\s+1M\s+loaded, pinned\s+models_dir/);
        expect(r.out).toMatch(/far-model\s+-\s+-\s+-\s+upstream\s+upstream lan-ollama/);
    });

    it("ZOMBIECODER_API_KEY wins over the key file", async () => {
        vi.stubEnv("ZOMBIECODER_API_KEY", "wrong-key");
        try {
            const r = await capture(() => listMain(["--home", home]));
            expect(seen[0]?.key).toBe("wrong-key");
            expect(r.code).toBe(1);
            expect(r.err).toBe("error: missing API key\n");
        } finally {
            vi.unstubAllEnvs();
        }
    });

    it("ps shows only resident models, with memory, queue, runner and expiry, and the server's own memory", async () => {
        const r = await capture(() => psMain(["--home", home]));
        expect(r.code).toBe(0);
        expect(r.out).toMatch(/tiny\s+loaded\s+50\.0 MB\s+512\s+1 \(\+2 queued\)\s+4242\s+forever/);
        expect(r.out).not.toContain("cold");
        expect(r.out).toContain("server process: 70.0 MB resident");
    });

    it("load escapes the name per path segment; unload says what happened; a refusal is the provider's message", async () => {
        const l = await capture(() => loadMain(["org/My Model", "--home", home]));
        expect(l.out).toBe("org/My Model: loaded in 321 ms (context 2048 tokens)\n");
        const u = await capture(() => unloadMain(["tiny", "--home", home]));
        expect(u.out).toBe("tiny: unloaded\n");
        const n = await capture(() => loadMain(["nope", "--home", home]));
        expect(n.code).toBe(1);
        expect(n.err).toBe("error: model 'nope' not found; did you mean 'tiny'?\n");
    });

    it("run with a prompt loads the model first, streams the answer and exits 0", async () => {
        const r = await capture(() => runMain(["tiny", "say", "hello", "--home", home, "--system", "be brief"]));
        expect(r.code).toBe(0);
        expect(r.out).toBe("Hello there\n");
        const chats = seen.filter((s) => s.url === "/api/chat").map((s) => JSON.parse(s.body) as {messages: unknown[]});
        expect(chats[0]!.messages).toEqual([]);
        expect(chats[1]!.messages).toEqual([{role: "system", content: "be brief"}, {role: "user", content: "say hello"}]);
    });

    it("an aborted answer stops the stream and keeps what was written", async () => {
        slowChat = true;
        const abort = new AbortController();
        let written = "";
        const client = new ProviderClient(url, KEY);
        const r = await streamAnswer(client, "tiny", [{role: "user", content: "hi"}], (t) => {
            written += t;
            abort.abort();
        }, abort.signal);
        expect(r.stopped).toBe(true);
        expect(r.text).toBe("Hel");
        expect(written).toBe("Hel");
    });
});

describe("no provider running", () => {
    it("says where it looked and how to start one", async () => {
        const closed = http.createServer();
        await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
        const port = (closed.address() as {port: number}).port;
        await new Promise<void>((resolve) => closed.close(() => resolve()));
        const client = new ProviderClient(providerBaseUrl("0.0.0.0", port), null);
        await expect(client.request("GET", "/api/tags")).rejects.toThrow(new NoProviderError(`http://127.0.0.1:${port}`));
        expect(new NoProviderError("http://127.0.0.1:8007").message).toBe("no provider is listening on http://127.0.0.1:8007: start it with `zombiecoder serve` (or `npm start`)");
        expect(await client.isListening(500)).toBe(false);
    });
});

describe("formatting", () => {
    it("reads every error shape the provider writes", () => {
        expect(errorMessageOf(404, JSON.stringify({error: "not found"}))).toBe("not found");
        expect(errorMessageOf(400, JSON.stringify({error: {message: "bad", type: "invalid_request_error"}}))).toBe("bad");
        expect(errorMessageOf(500, "plain text")).toBe("plain text");
        expect(errorMessageOf(502, "")).toBe("HTTP 502");
        expect(new ProviderResponseError(404, "x").status).toBe(404);
    });

    it("says when a model unloads in words", () => {
        const now = Date.parse("2026-01-01T00:00:00Z");
        expect(untilText("forever", now)).toBe("forever");
        expect(untilText(null, now)).toBe("-");
        expect(untilText("2026-01-01T00:00:30Z", now)).toBe("in 30 seconds");
        expect(untilText("2026-01-01T00:05:00Z", now)).toBe("in 5 minutes");
        expect(untilText("2025-12-31T23:59:00Z", now)).toBe("now");
        const loading: ModelStatus = {name: "m", state: "loading", runner_pid: null, pinned: false, in_flight: 0, queued: 0, context_size: 0, estimate_bytes: 3 * 1024 * 1024, measured_rss_bytes: 0, expires_at: null};
        expect(residentRows([loading], now)).toEqual([["m", "loading", "~3.0 MB", "-", "0", "-", "-"]]);
    });

    it("prints a model like ollama show", () => {
        const text = describeModel("tiny", {
            details: {family: "llama", parameter_size: "1M", quantization_level: "Q8_0"}, model_info: {"llama.context_length": 4096},
            capabilities: ["completion", "tools"], parameters: "temperature 0.7\nstop \"<|im_end|>\""
        });
        expect(text).toMatch(/^tiny\n\n {2}Model\n {4}architecture\s+llama\n {4}parameters\s+1M\n {4}context length\s+4096\n {4}quantization\s+Q8_0\n/);
        expect(text).toContain("  Capabilities\n    completion");
        expect(text).toMatch(/stop\s+"<\|im_end\|>"/);
    });

    it("parses chat commands and prints speeds from nanoseconds", () => {
        expect(parseCommand("/bye")).toEqual({command: "bye", rest: ""});
        expect(parseCommand("/SET system hi")).toEqual({command: "set", rest: "system hi"});
        expect(parseCommand("hello /bye")).toBeNull();
        expect(statsText({done: true, eval_count: 10, eval_duration: 2e9})).toMatch(/eval rate:\s+5\.00 tokens\/s/);
    });

    it("splits NDJSON and SSE bodies however the chunks fall", async () => {
        const body = (parts: string[]) => new Response(new ReadableStream({start(c) {
            for (const p of parts) c.enqueue(new TextEncoder().encode(p));
            c.close();
        }}));
        const lines: unknown[] = [];
        for await (const l of ndjsonLines(body(["{\"a\":", "1}\n{\"b\"", ":2}\n\n{\"c\":3}"]))) lines.push(l);
        expect(lines).toEqual([{a: 1}, {b: 2}, {c: 3}]);
        const events: unknown[] = [];
        for await (const e of sseEvents(body(["event: progress\r\ndata: {\"x\"", ":1}\r\n\r\n: keep-alive\n\n", "data: {\"y\":2}\n\n"]))) events.push(e);
        expect(events).toEqual([{event: "progress", data: {x: 1}}, {event: "message", data: {y: 2}}]);
    });
});

describe("the zombiecoder dispatcher", () => {
    it("lists every subcommand the product names, and suggests the nearest for a typo", async () => {
        for (const name of ["serve", "setup", "list", "ps", "pull", "load", "unload", "show", "run", "scan", "audit", "service", "watchdog", "bench"])
            expect(Object.keys(COMMANDS)).toContain(name);
        expect(closestCommands("lsit")).toContain("list");
        expect(closestCommands("serv")[0]).toBe("serve");
        const r = await capture(() => zombiecoderMain(["frobnicate"]));
        expect(r.code).toBe(2);
        expect(r.err).toMatch(/^error: unknown command "frobnicate"/);
    });

    it("as a program: --version, and a client command with no provider running", async () => {
        const manifest = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, "..", "..", "package.json"), "utf8")) as {version: string};
        const empty = path.join(temp, "empty-home");
        fs.mkdirSync(path.join(empty, "config"), {recursive: true});
        const closed = http.createServer();
        await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
        const port = (closed.address() as {port: number}).port;
        await new Promise<void>((resolve) => closed.close(() => resolve()));
        fs.writeFileSync(path.join(empty, "config", "provider_config.json"), JSON.stringify({server_port: port}));
        const [version, ps] = await Promise.all([
            runCli("src/cli/zombiecoder.ts", ["--version"]),
            runCli("src/cli/zombiecoder.ts", ["ps", "--home", empty])
        ]);
        expect(version.stdout).toBe(`zombiecoder ${manifest.version}\n`);
        expect(version.code).toBe(0);
        expect(ps.code).toBe(1);
        expect(ps.stderr).toBe(`error: no provider is listening on http://127.0.0.1:${port}: start it with \`zombiecoder serve\` (or \`npm start\`)\n`);
    });
});
