/**
 * Lets node-llama-cpp skip its binary load test when the same test passed before (binary-test-cache.ts).
 *
 * node-llama-cpp has no option for this: getLlama always runs `testBindingBinary`, which forks its own module as a
 * child process (env TEST_BINDING_CP=true) and talks to it over IPC: ready → start {bindingBinaryPath,
 * extBackendsPath, gpu} → loaded → test → done → exit, exit code 0 meaning compatible. While getLlama runs,
 * `child_process.fork` is replaced (syncBuiltinESMExports carries the replacement into ES module imports of it) by
 * one that answers that conversation itself when the cache holds a pass for the binary named in `start`, and forks
 * the real test otherwise, relaying its messages and recording a pass. Every other fork goes to Node's own.
 * An ESM loader hook that replaces the test module would do the same, but in Node 20 hooks run on a separate
 * thread that every import then crosses: importing node-llama-cpp took seconds longer and 20 MB more with an
 * empty hook registered.
 */
import childProcess, {type ChildProcess, type ForkOptions} from "node:child_process";
import {EventEmitter} from "node:events";
import path from "node:path";
import {syncBuiltinESMExports} from "node:module";
import {binaryTestKey, type BinaryTestCache, type BinaryTestSubject} from "./binary-test-cache.js";

type Fork = typeof childProcess.fork;
type TestMessage = {type: "ready" | "loaded" | "done"} | ({type: "start" | "test"} & BinaryTestSubject) | {type: "exit"};

/** Whether a fork is node-llama-cpp's binary test (its module file, in test mode). */
function isBinaryTest(modulePath: unknown, options: ForkOptions | undefined): boolean {
    const file = modulePath instanceof URL ? modulePath.pathname : String(modulePath);
    return path.basename(file).startsWith("testBindingBinary") && options?.env?.TEST_BINDING_CP === "true";
}

/**
 * Stands in for the test's child process: the parts testBindingBinary uses (on/off, send, kill, exitCode, killed,
 * stdout/stderr, which it reads with `?.`). Until `start` names the binary it cannot know whether to fork.
 */
class BinaryTestProcess extends EventEmitter {
    exitCode: number | null = null;
    killed = false;
    readonly stdout = null;
    readonly stderr = null;
    private real: ChildProcess | null = null;
    private realReady: Promise<void> | null = null;
    private key: string | null = null;

    constructor(private readonly cache: BinaryTestCache, private readonly spawnReal: () => ChildProcess) {
        super();
        setImmediate(() => this.emit("message", {type: "ready"}));
    }

    /** The real test's process id; undefined while (or when) the cache answers. */
    get pid(): number | undefined {
        return this.real?.pid;
    }

    send(message: TestMessage): boolean {
        if (message.type === "start") {
            this.key = binaryTestKey(message);
            if (this.key != null && this.cache.passed(this.key)) {
                setImmediate(() => this.emit("message", {type: "loaded"}));
                return true;
            }
            this.forkReal();
        }
        if (this.real) {
            const real = this.real;
            void this.realReady!.then(() => {
                if (real.connected) real.send(message);
            });
            return true;
        }
        // answered from the cache
        if (message.type === "test") setImmediate(() => this.emit("message", {type: "done"}));
        else if (message.type === "exit") setImmediate(() => this.exit(0));
        return true;
    }

    /** The real test from here on: its own `ready` is swallowed (ours was sent), the rest is relayed. */
    private forkReal(): void {
        const real = this.spawnReal();
        this.real = real;
        let done = false;
        this.realReady = new Promise((resolve) => {
            real.on("message", (m: TestMessage) => {
                if (m.type === "ready") return resolve();
                if (m.type === "done") done = true;
                this.emit("message", m);
            });
        });
        real.on("exit", (code) => {
            if (code === 0 && done && this.key != null) this.cache.recordPass(this.key);
            this.exit(code ?? -1);
        });
    }

    private exit(code: number): void {
        if (this.exitCode != null) return;
        this.exitCode = code;
        this.emit("exit", code, null);
    }

    kill(signal?: NodeJS.Signals | number): boolean {
        this.killed = true;
        if (this.real) return this.real.kill(signal);
        this.exit(1);
        return true;
    }
}

/**
 * The node-llama-cpp versions whose binary-test conversation this module imitates (read in their
 * bindings/utils/testBindingBinary.js). Another version may talk differently, so its test always runs for real;
 * whoever upgrades node-llama-cpp re-reads that file and adds the version here (a test names the installed one).
 */
export const BINARY_TEST_PROTOCOL_VERSIONS: readonly string[] = ["3.21.1"];

/** The cache to answer node-llama-cpp's binary test from, or null where this version's test must run for real. */
export function binaryTestCacheFor(engineVersion: string, cache: BinaryTestCache | null): BinaryTestCache | null {
    return BINARY_TEST_PROTOCOL_VERSIONS.includes(engineVersion) ? cache : null;
}

/** Runs `load` (getLlama) with node-llama-cpp's binary test answered from `cache` where it can be. */
export async function withBinaryTestCache<T>(cache: BinaryTestCache | null, load: () => Promise<T>): Promise<T> {
    if (cache == null) return load();
    const cp = childProcess as {fork: Fork};
    const real = cp.fork;
    const patched = ((modulePath: string, args?: readonly string[] | ForkOptions, options?: ForkOptions): ChildProcess => {
        const opts = Array.isArray(args) ? options : (args as ForkOptions | undefined) ?? options;
        if (!isBinaryTest(modulePath, opts)) return real(modulePath, args as readonly string[], options);
        return new BinaryTestProcess(cache, () => real(modulePath, args as readonly string[], options)) as unknown as ChildProcess;
    }) as Fork;
    cp.fork = patched;
    syncBuiltinESMExports();
    try {
        return await load();
    } finally {
        cp.fork = real;
        syncBuiltinESMExports();
    }
}
