import type {Runner, RunnerFactory} from "../../src/runtime/runner.js";
import type {
    ChatMessage, EmbedRequest, EmbedResult, GenerateRequest, GenerationEvent, GenerationStats, LoadedInfo, LoadSpec
} from "../../src/runtime/protocol.js";

/** A promise the test settles. */
export class Gate<T = void> {
    readonly promise: Promise<T>;
    resolve!: (v: T) => void;
    reject!: (e: Error) => void;
    constructor() {
        this.promise = new Promise<T>((resolve, reject) => {
            this.resolve = resolve;
            this.reject = reject;
        });
        this.promise.catch(() => undefined);
    }
}

const STATS: GenerationStats = {
    done_reason: "stop", prompt_eval_count: 1, prompt_tokens: 1, cached_tokens: 0, eval_count: 1,
    prompt_eval_duration_ns: 1, eval_duration_ns: 1, context_size: 0
};

/** One generation the test ends by hand. */
export interface PendingGeneration {
    request: GenerateRequest;
    signal?: AbortSignal;
    finish(): void;
}

let nextPid = 1000;

/**
 * A runner without a process: `load` answers at once (or when `loadGate` opens), a generation runs until the
 * test calls `finish()`, and `crash()` ends it the way a killed process does.
 */
export class FakeRunner implements Runner {
    readonly pid = nextPid++;
    alive = true;
    readonly exited: Promise<string>;
    loadSpec: LoadSpec | null = null;
    stopCalls = 0;
    readonly generations: PendingGeneration[] = [];
    private exit!: (why: string) => void;
    private failures = new Set<(e: Error) => void>();

    constructor(readonly model: string, private readonly behaviourNow: () => FakeBehaviour) {
        this.exited = new Promise((resolve) => {
            this.exit = resolve;
        });
    }

    private gone(why: string): void {
        if (!this.alive) return;
        this.alive = false;
        const err = new Error(`model '${this.model}' stopped unexpectedly (${why}); it will be loaded again on the next request`);
        for (const fail of this.failures) fail(err);
        this.failures.clear();
        this.exit(why);
    }

    /** Tied to the runner's life: rejects when it dies first. */
    private whileAlive<T>(work: Promise<T>): Promise<T> {
        if (!this.alive) return Promise.reject(new Error(`model '${this.model}' is not running`));
        return new Promise<T>((resolve, reject) => {
            this.failures.add(reject);
            work.then(resolve, reject).finally(() => this.failures.delete(reject));
        });
    }

    async load(spec: LoadSpec): Promise<LoadedInfo> {
        this.loadSpec = spec;
        await this.whileAlive(this.behaviourNow().loadGate?.promise ?? Promise.resolve());
        if (this.behaviourNow().failLoad) throw new Error(this.behaviourNow().failLoad);
        return {
            contextSize: spec.contextSize, trainContextSize: spec.contextSize, parallel: spec.parallel, estimateBytes: 0, rssBytes: 0,
            loadMs: 1, phases: {start: 0, engine: 0, model: 0, context: 0, chatWrapper: 0}, infill: false, embeddingLength: 8, chatWrapper: "fake", gpu: false
        };
    }

    generate(request: GenerateRequest, onEvent: (e: GenerationEvent) => void, signal?: AbortSignal): Promise<GenerationStats> {
        const done = new Gate<GenerationStats>();
        this.generations.push({request, signal, finish: () => done.resolve(STATS)});
        return this.whileAlive(done.promise);
    }

    embed(request: EmbedRequest): Promise<EmbedResult> {
        return this.whileAlive(Promise.resolve({vectors: request.inputs.map(() => [0]), prompt_tokens: request.inputs.length}));
    }

    countTokens(text: string, chat?: ChatMessage[]): Promise<number> {
        return this.whileAlive(Promise.resolve(text.length + (chat?.length ?? 0)));
    }

    memory(): Promise<number> {
        return this.whileAlive(Promise.resolve(0));
    }

    async stop(): Promise<void> {
        this.stopCalls++;
        await this.behaviourNow().stopGate?.promise;
        this.gone("stopped");
        await this.exited;
    }

    kill(): void {
        this.gone("killed");
    }

    /** The process died on its own (kill -9, out of memory). */
    crash(): void {
        this.gone("runner process was killed by SIGKILL");
    }
}

export interface FakeBehaviour {
    /** Loads wait until this opens. */
    loadGate?: Gate;
    /** Loads fail with this message. */
    failLoad?: string;
    /** Stops wait until this opens. */
    stopGate?: Gate;
}

/** The factory handed to the manager, with every runner it made. */
export class FakeRunners {
    readonly made: FakeRunner[] = [];
    /** Read by every runner at the moment it acts, so a test may change it for runners already made. */
    behaviour: FakeBehaviour = {};
    readonly factory: RunnerFactory = (model) => {
        const r = new FakeRunner(model, () => this.behaviour);
        this.made.push(r);
        return r;
    };

    of(model: string): FakeRunner[] {
        return this.made.filter((r) => r.model === model);
    }

    last(model: string): FakeRunner {
        const all = this.of(model);
        if (all.length === 0) throw new Error(`no runner was made for '${model}'`);
        return all[all.length - 1]!;
    }
}
