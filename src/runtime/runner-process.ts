import {fork, type ChildProcess} from "node:child_process";
import {ProviderError} from "./errors.js";
import {runnerEntry} from "./runner-entry.js";
import type {
    ChatMessage, EmbedRequest, EmbedResult, GenerateRequest, GenerationEvent, GenerationStats, LoadedInfo, LoadSpec, RunnerMessage, RunnerStatus,
    ServerMessage, ToolDefinition
} from "./protocol.js";
import type {Runner} from "./runner.js";

// the same tree as this server: dist/runner/main.js as it is, or src/runner/main.ts under tsx's loader
const RUNNER_ENTRY = runnerEntry();

/**
 * libuv's thread pool in a runner. node-llama-cpp runs every decode and every sampling call as a task on that pool
 * (four threads by default); with more than one pool thread, the samplings of a batch's sequences and ggml's own
 * compute threads, still spinning after the decode, compete for the cores. Raw node-llama-cpp on the 0.5B shape,
 * 2 threads on 2 cores (bench/batching.ts): one stream 32.9 tokens/s with the default pool, 63.2 with one thread;
 * four streams 57.9 against 76.7. The runner has no other use for the pool worth a thread of its own (file writes
 * of saved prompt states wait for the decode in progress). ZOMBIECODER_RUNNER_UV_THREADS overrides it for a
 * measurement.
 */
const RUNNER_UV_THREADS = "1";

/** A runner's environment: the server's, with the engine's log level and the runner's libuv pool size. */
export function runnerEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
    return {
        ...env,
        NODE_LLAMA_CPP_LOG_LEVEL: env.NODE_LLAMA_CPP_LOG_LEVEL ?? "error",
        UV_THREADPOOL_SIZE: env.ZOMBIECODER_RUNNER_UV_THREADS ?? RUNNER_UV_THREADS
    };
}

/** The runner process died or could not start: every request it had fails with this. */
export class RunnerCrashedError extends ProviderError {
    constructor(message: string) {
        super("crashed", message, {code: "runner_crashed"});
        this.name = "RunnerCrashedError";
    }
}

type Pending = {
    onEvent?: (e: GenerationEvent) => void;
    resolve: (v: unknown) => void;
    reject: (e: Error) => void;
};

/**
 * The server's handle on one runner child process. Every request gets an id; events come back tagged with it.
 * When the process dies, every pending request fails with RunnerCrashedError.
 */
export class RunnerProcess implements Runner {
    private child: ChildProcess;
    private nextId = 1;
    private pending = new Map<number, Pending>();
    private exitReason: string | null = null;
    readonly exited: Promise<string>;
    private loadWaiter: {resolve: (i: LoadedInfo) => void; reject: (e: Error) => void} | null = null;

    constructor(readonly modelName: string, onStderr?: (line: string) => void) {
        this.child = fork(RUNNER_ENTRY.script, [], {
            execArgv: RUNNER_ENTRY.execArgv,
            stdio: ["ignore", "ignore", "pipe", "ipc"],
            serialization: "advanced",
            env: runnerEnv()
        });
        this.child.stderr?.setEncoding("utf8");
        this.child.stderr?.on("data", (d: string) => {
            for (const line of d.split("\n")) if (line.trim() !== "") onStderr?.(line);
        });
        this.child.on("message", (m: RunnerMessage) => this.onMessage(m));
        this.exited = new Promise((resolve) => {
            this.child.on("exit", (code, signal) => {
                this.exitReason = signal ? `runner process was killed by ${signal}` : `runner process exited with code ${code}`;
                const err = new RunnerCrashedError(`model '${this.modelName}' stopped unexpectedly (${this.exitReason}); it will be loaded again on the next request`);
                this.loadWaiter?.reject(err);
                this.loadWaiter = null;
                for (const p of this.pending.values()) p.reject(err);
                this.pending.clear();
                resolve(this.exitReason);
            });
        });
        // a process that cannot be started reports "error" and may never report "exit": fail what waits on it
        this.child.on("error", (e) => {
            if (this.exitReason != null) return;
            this.exitReason = `runner process could not start: ${e.message}`;
            const err = new RunnerCrashedError(`model '${this.modelName}': ${this.exitReason}`);
            this.loadWaiter?.reject(err);
            this.loadWaiter = null;
            for (const p of this.pending.values()) p.reject(err);
            this.pending.clear();
        });
    }

    get pid(): number | undefined {
        return this.child.pid;
    }

    get alive(): boolean {
        return this.exitReason == null;
    }

    private send(msg: ServerMessage): void {
        if (this.child.connected) this.child.send(msg);
    }

    private onMessage(m: RunnerMessage): void {
        switch (m.type) {
            case "loaded":
                this.loadWaiter?.resolve(m.info);
                this.loadWaiter = null;
                return;
            case "load_error":
                this.loadWaiter?.reject(new ProviderError("load_failed", m.message));
                this.loadWaiter = null;
                return;
            case "text":
            case "thinking":
            case "tool_calls":
                this.pending.get(m.id)?.onEvent?.(m);
                return;
            case "done": {
                const p = this.pending.get(m.id);
                this.pending.delete(m.id);
                p?.onEvent?.(m);
                p?.resolve(m.stats);
                return;
            }
            case "error": {
                const p = this.pending.get(m.id);
                this.pending.delete(m.id);
                p?.reject(new ProviderError(m.kind, m.message, {code: m.code, param: m.param}));
                return;
            }
            case "embedded":
            case "tokenized":
            case "memory":
            case "status": {
                const p = this.pending.get(m.id);
                this.pending.delete(m.id);
                p?.resolve(m.type === "embedded" ? m.result : m.type === "tokenized" ? m.count : m.type === "memory" ? m.rssBytes : m.status);
                return;
            }
            case "log":
                return;
        }
    }

    load(spec: LoadSpec): Promise<LoadedInfo> {
        if (!this.alive) return Promise.reject(new RunnerCrashedError(`runner for '${this.modelName}' is not running`));
        return new Promise((resolve, reject) => {
            this.loadWaiter = {resolve, reject};
            this.send({type: "load", spec});
        });
    }

    private request<T>(build: (id: number) => ServerMessage, onEvent?: (e: GenerationEvent) => void): {id: number; promise: Promise<T>} {
        const id = this.nextId++;
        const promise = new Promise<T>((resolve, reject) => {
            if (!this.alive) {
                reject(new RunnerCrashedError(`model '${this.modelName}' is not running; it will be loaded again on the next request`));
                return;
            }
            this.pending.set(id, {onEvent, resolve: resolve as (v: unknown) => void, reject});
            this.send(build(id));
        });
        return {id, promise};
    }

    /** Streams one generation; `signal` aborting tells the runner to stop after the token or prompt batch in progress. */
    generate(request: GenerateRequest, onEvent: (e: GenerationEvent) => void, signal?: AbortSignal): Promise<GenerationStats> {
        const {id, promise} = this.request<GenerationStats>((i) => ({type: "generate", id: i, request}), onEvent);
        if (signal) {
            const onAbort = () => this.send({type: "abort", id});
            if (signal.aborted) onAbort();
            else signal.addEventListener("abort", onAbort, {once: true});
            promise.finally(() => signal.removeEventListener("abort", onAbort)).catch(() => undefined);
        }
        return promise;
    }

    embed(request: EmbedRequest): Promise<EmbedResult> {
        return this.request<EmbedResult>((id) => ({type: "embed", id, request})).promise;
    }

    countTokens(text: string, chat?: ChatMessage[], tools?: ToolDefinition[]): Promise<number> {
        return this.request<number>((id) => ({type: "tokenize", id, text, chat, ...(tools?.length ? {tools} : {})})).promise;
    }

    memory(): Promise<number> {
        return this.request<number>((id) => ({type: "memory", id})).promise;
    }

    /** Which request holds each of the runner's sequences: whether a generation really stopped is seen here. */
    status(): Promise<RunnerStatus> {
        return this.request<RunnerStatus>((id) => ({type: "status", id})).promise;
    }

    /** Asks the runner to free its model and exit; kills it if it does not within `graceMs`. */
    async stop(graceMs = 5000): Promise<void> {
        if (!this.alive) return;
        this.send({type: "shutdown"});
        const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
        await this.exited;
        clearTimeout(timer);
    }

    kill(): void {
        if (this.alive) this.child.kill("SIGKILL");
    }
}
