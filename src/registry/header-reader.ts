/**
 * Where GGUF headers are read. Reading needs node-llama-cpp, whose JavaScript costs about 35 MB RSS once imported
 * and is never given back; the server needs it only when a scan meets a new or changed file (the index caches the
 * facts of unchanged ones). So the compiled build reads headers in a child process that lives for one scan and
 * takes that memory with it when it exits. Under the TypeScript source (tests, `npm run dev`) a child would have
 * to start tsx, which costs more than the memory is worth there, so headers are read in this process, the engine's
 * module imported once on the first read.
 */
import {fork, type ChildProcess} from "node:child_process";
import {currentLayout, engineEntry, type NodeEntry} from "../build-layout.js";
import {InvalidGgufError, type HeaderFacts} from "./gguf-header.js";

export type HeaderReading = "in-process" | "child";

export interface HeaderReader {
    read(filePath: string): Promise<HeaderFacts>;
    /** Ends the child process, if one was started; reads still pending fail. */
    close(): void;
}

/** A request to the child, and its answer: `invalid` carries an InvalidGgufError's message across the process line. */
export interface HeaderRequest {
    id: number;
    path: string;
}
export type HeaderAnswer = {id: number; facts: HeaderFacts} | {id: number; error: string; invalid: boolean};

/** The reading mode this process uses unless told otherwise. */
export function defaultHeaderReading(): HeaderReading {
    return currentLayout === "build" ? "child" : "in-process";
}

let engineModule: Promise<typeof import("./gguf-read.js")> | undefined;

/** One import for the whole process: a per-call `await import()` made a 1,000-file scan three times slower. */
function readInProcess(filePath: string): Promise<HeaderFacts> {
    engineModule ??= import("./gguf-read.js");
    return engineModule.then((m) => m.readHeaderFacts(filePath));
}

const inProcess: HeaderReader = {read: readInProcess, close: () => undefined};

/** `childEntry` is how node starts the child: `registry/header-child` of this tree unless a test says otherwise. */
export function createHeaderReader(mode: HeaderReading = defaultHeaderReading(), childEntry?: NodeEntry): HeaderReader {
    return mode === "child" ? new ChildHeaderReader(childEntry ?? engineEntry("registry/header-child")) : inProcess;
}

interface Pending {
    path: string;
    resolve: (facts: HeaderFacts) => void;
    reject: (err: Error) => void;
}

/**
 * Reads headers in one child process, started on the first read. If the child cannot start or dies, the reads it
 * owed are done in this process instead: a file must never be marked invalid (and cached so) because of a child.
 */
class ChildHeaderReader implements HeaderReader {
    private child: ChildProcess | null = null;
    private failed = false;
    private nextId = 1;
    private readonly pending = new Map<number, Pending>();

    constructor(private readonly entry: NodeEntry) {}

    read(filePath: string): Promise<HeaderFacts> {
        const child = this.failed ? null : this.child ?? this.start();
        if (!child) return readInProcess(filePath);
        return new Promise<HeaderFacts>((resolve, reject) => {
            const id = this.nextId++;
            this.pending.set(id, {path: filePath, resolve, reject});
            const request: HeaderRequest = {id, path: filePath};
            child.send(request, (err) => {
                if (err) this.fallBack();
            });
        });
    }

    close(): void {
        const child = this.child;
        this.child = null;
        if (child && child.connected) child.disconnect();
    }

    private start(): ChildProcess | null {
        const entry = this.entry;
        try {
            const child = fork(entry.script, [], {execArgv: entry.execArgv, stdio: ["ignore", "ignore", "inherit", "ipc"], serialization: "json"});
            child.on("message", (answer: HeaderAnswer) => this.answer(answer));
            child.on("error", () => this.fallBack());
            child.on("exit", () => this.fallBack());
            this.child = child;
            return child;
        } catch {
            this.failed = true;
            return null;
        }
    }

    private answer(answer: HeaderAnswer): void {
        const p = this.pending.get(answer.id);
        if (!p) return;
        this.pending.delete(answer.id);
        if ("facts" in answer) p.resolve(answer.facts);
        else p.reject(answer.invalid ? new InvalidGgufError(answer.error) : new Error(answer.error));
    }

    /** The child is gone (or never came): what it owed is read here, and so is every later read of this scan. */
    private fallBack(): void {
        this.failed = true;
        this.child = null;
        const owed = [...this.pending.values()];
        this.pending.clear();
        for (const p of owed) readInProcess(p.path).then(p.resolve, p.reject);
    }
}
