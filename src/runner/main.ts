/**
 * Runner process: hosts one model for the server and talks to it over IPC. A crash here is a crash of one model;
 * the server notices the exit, fails this runner's requests and loads the model again on the next request.
 */
import {Engine} from "./engine.js";
import {ProviderError} from "../runtime/errors.js";
import type {RunnerMessage, ServerMessage} from "../runtime/protocol.js";

// the runner's warnings reach the server's log as log messages
const engine = new Engine((level, msg, data) => send({type: "log", level, msg, ...(data ? {data} : {})}));
const aborts = new Map<number, AbortController>();
let loaded = false;

function send(msg: RunnerMessage): void {
    if (process.connected) process.send!(msg);
}

/** A request's failure as the server will rebuild it: by kind; anything that is not a ProviderError is internal. */
function sendError(id: number, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof ProviderError) send({type: "error", id, message, kind: err.kind, code: err.code, param: err.param});
    else send({type: "error", id, message, kind: "internal"});
}

async function handle(msg: ServerMessage): Promise<void> {
    switch (msg.type) {
        case "load":
            try {
                // performance.now() counts from the process's start: Node's boot and the engine's import
                const info = await engine.load(msg.spec, performance.now());
                loaded = true;
                send({type: "loaded", info});
            } catch (err) {
                send({type: "load_error", message: (err as Error).message});
            }
            return;
        case "generate": {
            const ac = new AbortController();
            aborts.set(msg.id, ac);
            try {
                if (!loaded) throw new ProviderError("internal", "model is not loaded");
                await engine.generate(msg.id, msg.request, send, ac.signal);
            } catch (err) {
                sendError(msg.id, err);
            } finally {
                aborts.delete(msg.id);
            }
            return;
        }
        case "abort":
            aborts.get(msg.id)?.abort(new Error("client went away"));
            return;
        case "embed":
            try {
                send({type: "embedded", id: msg.id, result: await engine.embed(msg.request)});
            } catch (err) {
                sendError(msg.id, err);
            }
            return;
        case "tokenize":
            try {
                send({type: "tokenized", id: msg.id, count: engine.countTokens(msg.text, msg.chat, msg.tools)});
            } catch (err) {
                sendError(msg.id, err);
            }
            return;
        case "memory":
            send({type: "memory", id: msg.id, rssBytes: process.memoryUsage().rss});
            return;
        case "status":
            send({type: "status", id: msg.id, status: engine.status()});
            return;
        case "shutdown":
            await engine.dispose().catch(() => undefined);
            process.exit(0);
    }
}

process.on("message", (msg: ServerMessage) => {
    void handle(msg);
});

// The server is gone (closed channel, or killed without closing it): never hold gigabytes for nobody.
process.on("disconnect", () => process.exit(0));
const parentPid = process.ppid;
setInterval(() => {
    try {
        process.kill(parentPid, 0);
    } catch {
        process.exit(0);
    }
}, 2000).unref();
