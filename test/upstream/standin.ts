import http from "node:http";
import net from "node:net";

/** What the stand-in saw of one request. */
export interface SeenRequest {
    method: string;
    path: string;
    headers: http.IncomingHttpHeaders;
    body: Record<string, unknown> | null;
}

export interface OllamaStandIn {
    url: string;
    seen: SeenRequest[];
    /** Lets the next gated stream write its second line. */
    openGate(): void;
    /** Resolves when a client of the "held" model went away (the abort reached the stand-in). */
    aborted: Promise<void>;
    close(): Promise<void>;
}

const now = () => new Date().toISOString();

function tag(name: string) {
    return {
        name, model: name, modified_at: "2026-11-01T10:00:00.000000000+00:00", size: 1234567, digest: "d".repeat(64),
        details: {parent_model: "", format: "gguf", family: "llama", families: ["llama"], parameter_size: "7B", quantization_level: "Q4_K_M"}
    };
}

/**
 * A small Ollama-API server on 127.0.0.1 whose models misbehave on purpose:
 * `remote-llama` streams one line, waits for the test to open a gate, then finishes; `dying` breaks off after one line;
 * `silent` never answers; `held` streams one line and holds the response open until the client leaves.
 */
export async function startOllamaStandIn(models = ["remote-llama:latest", "shared:latest", "dying:latest", "silent:latest", "held:latest"]): Promise<OllamaStandIn> {
    const seen: SeenRequest[] = [];
    let gate: () => void = () => undefined;
    let gateOpen = new Promise<void>((resolve) => {
        gate = resolve;
    });
    let markAborted: () => void = () => undefined;
    const aborted = new Promise<void>((resolve) => {
        markAborted = resolve;
    });
    const server = http.createServer((req, res) => {
        let raw = "";
        req.on("data", (d: Buffer) => {
            raw += d.toString();
        });
        req.on("end", () => {
            const body = raw === "" ? null : JSON.parse(raw) as Record<string, unknown>;
            const path = (req.url ?? "").split("?")[0]!;
            seen.push({method: req.method ?? "", path, headers: req.headers, body});
            const model = String(body?.model ?? "");
            const json = (status: number, obj: unknown) => {
                res.writeHead(status, {"Content-Type": "application/json; charset=utf-8"});
                res.end(JSON.stringify(obj));
            };
            if (path === "/api/tags") return json(200, {models: models.map(tag)});
            if (!models.includes(model)) return json(404, {error: `model '${model}' not found`});
            if (path === "/api/show") return json(200, {license: "", modelfile: "", parameters: "", template: "{{ .Prompt }}", details: tag(model).details, model_info: {"general.architecture": "llama", "llama.context_length": 8192}, capabilities: ["completion", "tools"], modified_at: now()});
            if (path === "/api/embed") return json(200, {model, embeddings: ((Array.isArray(body?.input) ? body.input : [body?.input]) as unknown[]).map(() => [0.6, 0.8]), prompt_eval_count: 3});
            if (path !== "/api/chat" && path !== "/api/generate") return json(404, {error: "no route"});
            if (model === "silent:latest") return;
            const chat = path === "/api/chat";
            const chunk = (text: string, done = false) => JSON.stringify({
                model, created_at: now(), ...(chat ? {message: {role: "assistant", content: text}} : {response: text}), done,
                ...(done ? {done_reason: "stop", total_duration: 1000, load_duration: 0, prompt_eval_count: 5, prompt_eval_duration: 10, eval_count: 2, eval_duration: 20} : {})
            }) + "\n";
            if (body?.stream === false) return json(200, JSON.parse(chunk("Hello from upstream", true)));
            res.writeHead(200, {"Content-Type": "application/x-ndjson"});
            res.write(chunk("Hello"));
            if (model === "dying:latest") {
                // a partial line, then the process "dies"
                res.write("{\"model\":\"dying:lat");
                setTimeout(() => res.socket?.destroy(), 20);
                return;
            }
            if (model === "held:latest") {
                res.on("close", () => markAborted());
                return;
            }
            void gateOpen.then(() => {
                res.write(chunk(" from upstream"));
                res.end(chunk("", true));
            });
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    return {
        url: `http://127.0.0.1:${port}`,
        seen,
        aborted,
        openGate() {
            gate();
            gateOpen = new Promise<void>((resolve) => {
                gate = resolve;
            });
        },
        close: () => new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
        })
    };
}

/** A TCP server that accepts connections and never says a word: an upstream that hangs. */
export async function startBlackHole(): Promise<{url: string; close(): Promise<void>}> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((s) => {
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
        s.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    return {
        url: `http://127.0.0.1:${port}`,
        close: () => new Promise<void>((resolve) => {
            for (const s of sockets) s.destroy();
            server.close(() => resolve());
        })
    };
}

/** A port nothing listens on (bound, then released). */
export async function closedPortUrl(): Promise<string> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return `http://127.0.0.1:${port}`;
}

/**
 * An upstream that is half dead: it accepts every request and sends 200 with its headers at once, then never
 * finishes the body. `trickle` sends the start of a JSON body and then a space every 100 ms (so no stall timer that
 * restarts on each byte ever fires); `silent` sends nothing after the headers.
 */
export async function startHalfDeadUpstream(mode: "trickle" | "silent"): Promise<{url: string; requests: string[]; close(): Promise<void>}> {
    const timers = new Set<NodeJS.Timeout>();
    const requests: string[] = [];
    const server = http.createServer((req, res) => {
        requests.push(req.url ?? "");
        res.writeHead(200, {"Content-Type": "application/json; charset=utf-8"});
        res.flushHeaders();
        if (mode === "silent") return;
        res.write(req.url?.startsWith("/v1/") ? "{\"object\":\"list\",\"data\":[" : "{\"models\":[");
        const t = setInterval(() => res.write(" "), 100);
        timers.add(t);
        res.on("close", () => {
            clearInterval(t);
            timers.delete(t);
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    return {
        url: `http://127.0.0.1:${port}`,
        requests,
        close: () => new Promise<void>((resolve) => {
            for (const t of timers) clearInterval(t);
            server.closeAllConnections();
            server.close(() => resolve());
        })
    };
}

/**
 * A small OpenAI-compatible server (the vLLM / llama-server shape): `/v1/models` lists `oa-ok` and `oa-dying`;
 * `/v1/chat/completions` streams SSE. `oa-ok` sends "Hello", " there", a finish and [DONE]; `oa-dying` sends "Hello",
 * half of the next event, and then its connection is destroyed (the process "dies").
 */
export async function startOpenAIStandIn(): Promise<{url: string; seen: SeenRequest[]; close(): Promise<void>}> {
    const seen: SeenRequest[] = [];
    const server = http.createServer((req, res) => {
        let raw = "";
        req.on("data", (d: Buffer) => {
            raw += d.toString();
        });
        req.on("end", () => {
            const body = raw === "" ? null : JSON.parse(raw) as Record<string, unknown>;
            const path = (req.url ?? "").split("?")[0]!;
            seen.push({method: req.method ?? "", path, headers: req.headers, body});
            const json = (status: number, obj: unknown) => {
                res.writeHead(status, {"Content-Type": "application/json"});
                res.end(JSON.stringify(obj));
            };
            if (path === "/v1/models") return json(200, {object: "list", data: ["oa-ok", "oa-dying"].map((id) => ({id, object: "model", created: 1_760_000_000, owned_by: "standin"}))});
            const model = String(body?.model ?? "");
            if (path !== "/v1/chat/completions") return json(404, {error: {message: "no route", type: "not_found_error"}});
            if (model !== "oa-ok" && model !== "oa-dying") return json(404, {error: {message: `model '${model}' not found`, type: "not_found_error"}});
            const event = (delta: Record<string, unknown>, finish: string | null = null) =>
                `data: ${JSON.stringify({id: "chatcmpl-1", object: "chat.completion.chunk", created: 1_760_000_000, model, choices: [{index: 0, delta, finish_reason: finish}]})}\n\n`;
            res.writeHead(200, {"Content-Type": "text/event-stream"});
            res.write(event({role: "assistant", content: "Hello"}));
            if (model === "oa-dying") {
                res.write("data: {\"id\":\"chatcmpl-1\",\"obj");
                setTimeout(() => res.socket?.destroy(), 20);
                return;
            }
            res.write(event({content: " there"}));
            res.write(event({}, "stop"));
            res.write(`data: ${JSON.stringify({id: "chatcmpl-1", object: "chat.completion.chunk", created: 1_760_000_000, model, choices: [], usage: {prompt_tokens: 4, completion_tokens: 2, total_tokens: 6}})}\n\n`);
            res.end("data: [DONE]\n\n");
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    return {
        url: `http://127.0.0.1:${port}`,
        seen,
        close: () => new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
        })
    };
}
