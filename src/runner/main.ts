/**
 * Runner process: hosts one model for the server and talks to it over IPC. A crash here is a crash of one model;
 * the server notices the exit, fails this runner's requests and loads the model again on the next request.
 */
import {Engine, EngineError} from "./engine.js";
import type {RunnerMessage, ServerMessage} from "../runtime/protocol.js";

const engine = new Engine();
const aborts = new Map<number, AbortController>();
let loaded = false;

function send(msg: RunnerMessage): void {
    if (process.connected) process.send!(msg);
}

function errorStatus(err: unknown): number {
    return err instanceof EngineError ? err.status : 500;
}

async function handle(msg: ServerMessage): Promise<void> {
    switch (msg.type) {
        case "load":
            try {
                const info = await engine.load(msg.spec);
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
                if (!loaded) throw new EngineError("model is not loaded", 500);
                await engine.generate(msg.id, msg.request, send, ac.signal);
            } catch (err) {
                send({type: "error", id: msg.id, message: (err as Error).message, status: errorStatus(err)});
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
                send({type: "error", id: msg.id, message: (err as Error).message, status: errorStatus(err)});
            }
            return;
        case "tokenize":
            try {
                send({type: "tokenized", id: msg.id, count: engine.countTokens(msg.text, msg.chat)});
            } catch (err) {
                send({type: "error", id: msg.id, message: (err as Error).message, status: errorStatus(err)});
            }
            return;
        case "memory":
            send({type: "memory", id: msg.id, rssBytes: process.memoryUsage().rss});
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
