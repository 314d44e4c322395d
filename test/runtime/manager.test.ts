import {afterEach, describe, expect, it, vi} from "vitest";
import type {ProviderConfigFile} from "../../src/config/schema.js";
import type {ModelEntry} from "../../src/registry/types.js";
import {ProviderError, QUEUE_FULL_MESSAGE} from "../../src/runtime/errors.js";
import {ModelManager, type Lease, type Ticket} from "../../src/runtime/manager.js";
import {estimateModelBytes, type MemoryProbe} from "../../src/runtime/memory-probe.js";
import {OLLAMA_DEFAULT_OPTIONS, type GenerateRequest} from "../../src/runtime/protocol.js";
import {testConfig} from "../helpers/home.js";
import {FakeRunners, Gate} from "./fake-runner.js";

// everything here settles in milliseconds: a wait that hangs is a bug, so fail fast instead of at the default minute
vi.setConfig({testTimeout: 5000});

/**
 * The manager with stand-in runners: loads, generations and crashes happen when the test says, so every
 * ordering question (who waits, who is evicted, what a crash leaves behind) is asked exactly, in milliseconds.
 */

const MIB = 1024 * 1024;
const META = {block_count: 2, head_count: 4, head_count_kv: 4, embedding_length: 64, vocab_size: 100, context_length: 4096};
const SIZE = 10 * MIB;

function entry(name: string, over: Partial<ModelEntry> = {}): ModelEntry {
    return {
        name, path: `models/${name}/${name}-q8_0.gguf`, abs_path: `/nowhere/${name}-q8_0.gguf`, files: [`/nowhere/${name}-q8_0.gguf`],
        size_bytes: SIZE, status: "unloaded", keep_loaded: true, pinned: false, aliases: [], source: "models_dir", read_only: false,
        projector: null, fingerprint: name, modified_at: new Date(0).toISOString(), mtime_ms: 0, quant_tag: "q8_0", base_name: name,
        metadata: {
            architecture: "llama", parameter_count: null, parameter_size: "1M", quantization: "Q8_0", file_type: 7, embedding_length: META.embedding_length,
            has_chat_template: false, chat_template: null, is_embedding: false, pooling_type: null, has_fim: false, supports_tools: false,
            general_name: name, split_count: 1, context_length: META.context_length, block_count: META.block_count, head_count: META.head_count,
            head_count_kv: META.head_count_kv, vocab_size: META.vocab_size
        },
        ...over
    };
}

/** What the manager estimates for one of these models at context 1024 and one sequence. */
const ESTIMATE = estimateModelBytes({size_bytes: SIZE, ...META}, 1024, 1);

const probe: MemoryProbe = {
    systemAvailableBytes: () => 64 * 1024 * MIB,
    systemTotalBytes: () => 128 * 1024 * MIB,
    runnerRssBytes: (measure) => measure()
};

const REQUEST: GenerateRequest = {mode: "completion", prompt: "x", options: OLLAMA_DEFAULT_OPTIONS};

const managers: ModelManager[] = [];

function harness(overrides: Partial<ProviderConfigFile> = {}) {
    const runners = new FakeRunners();
    // every reading moves the clock on, so "least recently used" is always decided; tests jump it for idle timeouts
    const clock = {t: 1_000_000};
    const manager = new ModelManager(testConfig("/nonexistent/zc-manager-test", {context_size: 1024, parallel: 1, short_reserved_sequences: 0, ...overrides}),
        {createRunner: runners.factory, probe, now: () => clock.t++, sweepIntervalMs: 1e9});
    managers.push(manager);
    return {manager, runners, clock};
}

afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.close()));
});

/** Lets pending promise callbacks and timers of zero run. */
async function settle(): Promise<void> {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

/** Watches a promise without awaiting it. */
function watch<T>(p: Promise<T>): {done: () => boolean; promise: Promise<T>} {
    let done = false;
    p.then(() => (done = true), () => (done = true));
    return {done: () => done, promise: p};
}

async function use(manager: ModelManager, e: ModelEntry): Promise<Lease> {
    return manager.admit(e).ready();
}

async function useAndRelease(manager: ModelManager, e: ModelEntry): Promise<void> {
    (await use(manager, e)).release();
}

function kindOf(fn: () => unknown): string | null {
    try {
        fn();
        return null;
    } catch (err) {
        return err instanceof ProviderError ? err.kind : `not a ProviderError: ${String(err)}`;
    }
}

describe("loading", () => {
    it("concurrent first jobs and explicit loads share one load; a later job reports no load time", async () => {
        const {manager, runners} = harness({parallel: 4});
        const gate = new Gate();
        runners.behaviour = {loadGate: gate};
        const a = entry("a");
        const jobs = Array.from({length: 4}, () => manager.admit(a).ready());
        const loads = Array.from({length: 3}, () => manager.loadModel(a));
        await settle();
        expect(runners.made).toHaveLength(1);
        expect(manager.stateOf("a")).toBe("loading");
        gate.resolve();
        const leases = await Promise.all(jobs);
        expect((await Promise.all(loads)).every((l) => l.state === "loaded")).toBe(true);
        expect(runners.made).toHaveLength(1);
        expect(new Set(leases.map((l) => l.runner)).size).toBe(1);
        expect(leases[0]!.loadMs).toBeGreaterThan(0);
        expect(manager.phaseOf("a")).toBe("busy");
        for (const l of leases) l.release();
        expect(manager.phaseOf("a")).toBe("loaded");
        const again = await use(manager, a);
        expect(again.loadMs).toBe(0);
        again.release();
        expect(manager.status().find((s) => s.name === "a")!.loads).toBe(1);
    });

    it("a failed load leaves the model failed with its reason, and the next job loads it again", async () => {
        const {manager, runners} = harness();
        runners.behaviour = {failLoad: "tensor data is cut short"};
        const a = entry("a");
        const err = await manager.admit(a).ready().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ProviderError);
        expect((err as ProviderError).kind).toBe("load_failed");
        expect((err as ProviderError).message).toBe("model 'a' failed to load: tensor data is cut short");
        expect(manager.stateOf("a")).toBe("failed");
        expect(manager.reasonOf("a")).toBe("tensor data is cut short");
        expect(runners.last("a").alive).toBe(false);
        expect(manager.status()[0]!.in_flight).toBe(0);
        runners.behaviour = {};
        await useAndRelease(manager, a);
        expect(manager.stateOf("a")).toBe("loaded");
        expect(runners.of("a")).toHaveLength(2);
    });

    it("a model the scan found invalid is refused at admission with its reason, before any runner starts", () => {
        const {manager, runners} = harness();
        const bad = entry("bad", {status: "invalid", reason: "truncated tensor data"});
        expect(() => manager.admit(bad)).toThrow("model 'bad' cannot be loaded: truncated tensor data (file: models/bad/bad-q8_0.gguf)");
        expect(kindOf(() => manager.admit(bad))).toBe("load_failed");
        expect(runners.made).toHaveLength(0);
    });

    it("allow_context_growth reloads larger for the only job in flight, and serves within the loaded size when others run", async () => {
        const {manager, runners} = harness({allow_context_growth: true, parallel: 2});
        const a = entry("a");
        await useAndRelease(manager, a);
        expect(runners.last("a").loadSpec!.contextSize).toBe(1024);
        const grown = await manager.admit(a, {numCtx: 2048}).ready();
        expect(runners.of("a")).toHaveLength(2);
        expect(runners.of("a")[0]!.alive).toBe(false);
        expect(grown.contextSize).toBe(2048);
        expect(grown.contextCapped).toBe(false);
        // with a job already running, a reload would cut it off: the second is served within 2048
        const capped = await manager.admit(a, {numCtx: 4096}).ready();
        expect(runners.of("a")).toHaveLength(2);
        expect(capped.contextCapped).toBe(true);
        grown.release();
        capped.release();
    });
});

describe("permits and the queue", () => {
    it("as many jobs run at once as the model has sequences; the rest wait", async () => {
        const {manager} = harness({parallel: 2});
        const a = entry("a");
        const [l1, l2] = await Promise.all([use(manager, a), use(manager, a)]);
        const third = watch(manager.admit(a).ready());
        await settle();
        expect(third.done()).toBe(false);
        expect(manager.status()[0]).toMatchObject({in_flight: 2, queued: 1});
        l1!.release();
        const l3 = await third.promise;
        expect(l3.runner).toBe(l2!.runner);
        expect(manager.status()[0]).toMatchObject({in_flight: 2, queued: 0});
        l2!.release();
        l3.release();
        expect(manager.status()[0]).toMatchObject({in_flight: 0, queued: 0});
        expect(manager.phaseOf("a")).toBe("loaded");
    });

    it("waiters are served in arrival order, and past max_queue a job is refused with Ollama's message", async () => {
        const {manager} = harness({max_queue: 2});
        const a = entry("a");
        const b = entry("b");
        const first = await use(manager, a);
        const order: string[] = [];
        const second = manager.admit(a).ready().then((l) => (order.push("second"), l));
        const third = manager.admit(a).ready().then((l) => (order.push("third"), l));
        let refused: unknown = null;
        try {
            manager.admit(a);
        } catch (err) {
            refused = err;
        }
        expect(refused).toBeInstanceOf(ProviderError);
        expect(refused).toMatchObject({kind: "busy", message: QUEUE_FULL_MESSAGE, code: "server_busy"});
        // the bound counts waiters, not jobs: a model with a free sequence still takes one
        const other = await use(manager, b);
        other.release();
        first.release();
        const l2 = await second;
        await settle();
        expect(order).toEqual(["second"]);
        l2.release();
        (await third).release();
        expect(order).toEqual(["second", "third"]);
    });

    it("a job cancelled while queued leaves the queue with 'request canceled'; an aborted signal does the same", async () => {
        const {manager} = harness();
        const a = entry("a");
        const holder = await use(manager, a);
        const queued: Ticket = manager.admit(a);
        const waiting = queued.ready();
        expect(manager.status()[0]!.queued).toBe(1);
        queued.cancel();
        await expect(waiting).rejects.toMatchObject({kind: "cancelled", message: "request canceled"});
        expect(manager.status()[0]).toMatchObject({in_flight: 1, queued: 0});

        const ac = new AbortController();
        const aborted = manager.admit(a).ready(ac.signal);
        expect(manager.status()[0]!.queued).toBe(1);
        ac.abort();
        await expect(aborted).rejects.toMatchObject({kind: "cancelled"});
        expect(manager.status()[0]!.queued).toBe(0);

        holder.release();
        expect(manager.status()[0]!.in_flight).toBe(0);
        expect(manager.phaseOf("a")).toBe("loaded");
    });

    it("a job cancelled while its model loads gives its permit to the next waiter at once", async () => {
        const {manager, runners} = harness();
        const gate = new Gate();
        runners.behaviour = {loadGate: gate};
        const a = entry("a");
        const first = manager.admit(a);
        const firstReady = first.ready();
        const second = watch(manager.admit(a).ready());
        await settle();
        first.cancel();
        await settle();
        expect(manager.status()[0]).toMatchObject({in_flight: 1, queued: 0});
        gate.resolve();
        await expect(firstReady).rejects.toMatchObject({kind: "cancelled"});
        const lease = await second.promise;
        lease.release();
        expect(runners.made).toHaveLength(1);
    });
});

describe("unloading", () => {
    it("an explicit unload of a busy model stops admitting, lets the admitted jobs finish, then ends the runner", async () => {
        const {manager, runners} = harness();
        const a = entry("a");
        const lease = await use(manager, a);
        const generation = lease.runner.generate(REQUEST, () => undefined);
        const queuedBefore = manager.admit(a).ready();
        const unload = watch(manager.unloadModel("a"));
        await settle();
        expect(manager.phaseOf("a")).toBe("draining");
        expect(manager.stateOf("a")).toBe("loaded");
        expect(() => manager.admit(a)).toThrow("model 'a' is being unloaded on request; try again in a moment");
        expect(kindOf(() => manager.admit(a))).toBe("busy");
        const runner = runners.last("a");
        runner.generations[0]!.finish();
        await generation;
        lease.release();
        // admitted before the unload: it still runs, on the same runner
        const next = await queuedBefore;
        expect(next.runner).toBe(runner);
        await settle();
        expect(unload.done()).toBe(false);
        expect(runner.stopCalls).toBe(0);
        next.release();
        expect(await unload.promise).toEqual({state: "unloaded", wasLoaded: true});
        expect(runner.stopCalls).toBe(1);
        expect(manager.stateOf("a")).toBe("unloaded");
        // a second unload has nothing to do
        expect(await manager.unloadModel("a")).toEqual({state: "unloaded", wasLoaded: false});
    });

    it("an unload during a load waits for the load, then for the job that asked for it", async () => {
        const {manager, runners} = harness();
        const gate = new Gate();
        runners.behaviour = {loadGate: gate};
        const a = entry("a");
        const job = manager.admit(a).ready();
        await settle();
        const unload = watch(manager.unloadModel("a"));
        gate.resolve();
        const lease = await job;
        await settle();
        expect(manager.phaseOf("a")).toBe("draining");
        expect(unload.done()).toBe(false);
        lease.release();
        expect(await unload.promise).toEqual({state: "unloaded", wasLoaded: true});
    });

    it("idle_unload_seconds unloads an idle keep_loaded:false model, never a busy one, and keep_loaded models stay", async () => {
        const {manager, runners, clock} = harness({idle_unload_seconds: 2, models: {sleepy: {keep_loaded: false}}});
        const sleepy = entry("sleepy");
        const resident = entry("resident");
        await useAndRelease(manager, sleepy);
        await useAndRelease(manager, resident);
        clock.t += 1000;
        await manager.sweep();
        expect(manager.stateOf("sleepy")).toBe("loaded");
        clock.t += 1500;
        await manager.sweep();
        expect(manager.stateOf("sleepy")).toBe("unloaded");
        expect(runners.last("sleepy").alive).toBe(false);
        expect(manager.stateOf("resident")).toBe("loaded");

        const busy = await use(manager, sleepy);
        clock.t += 10_000;
        await manager.sweep();
        expect(manager.phaseOf("sleepy")).toBe("busy");
        busy.release();
        // idle counts from the end of the last job
        await manager.sweep();
        expect(manager.stateOf("sleepy")).toBe("loaded");
        clock.t += 2500;
        await manager.sweep();
        expect(manager.stateOf("sleepy")).toBe("unloaded");
    });

    it("a job that arrives while its model is being unloaded for idleness waits, then loads it again", async () => {
        const {manager, runners, clock} = harness({idle_unload_seconds: 1, models: {a: {keep_loaded: false}}});
        const a = entry("a");
        await useAndRelease(manager, a);
        const stopGate = new Gate();
        runners.behaviour = {stopGate};
        clock.t += 5000;
        const sweeping = manager.sweep();
        await settle();
        expect(manager.stateOf("a")).toBe("unloading");
        const job = watch(manager.admit(a).ready());
        await settle();
        expect(job.done()).toBe(false);
        stopGate.resolve();
        await sweeping;
        const lease = await job.promise;
        expect(runners.of("a")).toHaveLength(2);
        expect(lease.runner).toBe(runners.last("a"));
        lease.release();
    });
});

describe("memory budget (ram_threshold_mb)", () => {
    // two models fit, a third does not
    const budget = (models: ProviderConfigFile["models"] = {}) => ({ram_threshold_mb: Math.floor((2.5 * ESTIMATE) / MIB), models});

    it("evicts the least recently used idle model to make room", async () => {
        const {manager, runners} = harness(budget());
        await useAndRelease(manager, entry("one"));
        await useAndRelease(manager, entry("two"));
        await useAndRelease(manager, entry("one"));
        await useAndRelease(manager, entry("three"));
        expect([manager.stateOf("one"), manager.stateOf("two"), manager.stateOf("three")]).toEqual(["loaded", "unloaded", "loaded"]);
        expect(runners.last("two").stopCalls).toBe(1);
        expect(manager.memoryBudget().used_bytes).toBe(2 * ESTIMATE);
    });

    it("never evicts a pinned model, even the least recently used", async () => {
        const {manager} = harness(budget({one: {pinned: true}}));
        await useAndRelease(manager, entry("one"));
        await useAndRelease(manager, entry("two"));
        await useAndRelease(manager, entry("three"));
        expect([manager.stateOf("one"), manager.stateOf("two"), manager.stateOf("three")]).toEqual(["loaded", "unloaded", "loaded"]);
    });

    it("never evicts a busy model: a model that cannot fit is refused with the numbers, the others untouched", async () => {
        const {manager, runners} = harness(budget({two: {pinned: true}}));
        const busy = await use(manager, entry("one"));
        await useAndRelease(manager, entry("two"));
        let refused: unknown = null;
        try {
            manager.admit(entry("three"));
        } catch (err) {
            refused = err;
        }
        expect(refused).toMatchObject({kind: "does_not_fit", code: "insufficient_memory"});
        expect((refused as Error).message).toMatch(/^model 'three' needs about \d+ MB but only \d+ MB of the \d+ MB budget \(ram_threshold_mb\) can be freed/);
        expect(runners.of("three")).toHaveLength(0);
        expect(manager.phaseOf("one")).toBe("busy");
        expect(manager.stateOf("two")).toBe("loaded");
        // once idle again, "one" is the one to go
        busy.release();
        await useAndRelease(manager, entry("three"));
        expect([manager.stateOf("one"), manager.stateOf("two"), manager.stateOf("three")]).toEqual(["unloaded", "loaded", "loaded"]);
    });

    it("an explicit load is checked against the budget too", async () => {
        const {manager} = harness(budget({one: {pinned: true}, two: {pinned: true}}));
        await manager.loadModel(entry("one"));
        await manager.loadModel(entry("two"));
        await expect(manager.loadModel(entry("three"))).rejects.toMatchObject({kind: "does_not_fit"});
        expect(manager.stateOf("three")).toBe("unloaded");
    });
});

describe("crashes and shutdown", () => {
    it("a runner that dies fails its job and leaves the model failed; the next job starts a new runner", async () => {
        const {manager, runners} = harness();
        const a = entry("a");
        const lease = await use(manager, a);
        const generation = lease.runner.generate(REQUEST, () => undefined);
        const first = runners.last("a");
        first.crash();
        await expect(generation).rejects.toThrow(/stopped unexpectedly/);
        lease.release();
        await settle();
        expect(manager.stateOf("a")).toBe("failed");
        expect(manager.reasonOf("a")).toMatch(/SIGKILL/);
        expect(manager.healthProblems().join("\n")).toMatch(/model 'a' failed: .*SIGKILL/);
        expect(manager.status()[0]!.runner_pid).toBeNull();
        const next = await use(manager, a);
        expect(next.runner).not.toBe(first);
        expect(runners.of("a")).toHaveLength(2);
        expect(manager.phaseOf("a")).toBe("busy");
        next.release();
        expect(manager.stateOf("a")).toBe("loaded");
        expect(manager.healthProblems()).toEqual([]);
    });

    it("a runner that dies while its model drains ends the unload as unloaded", async () => {
        const {manager, runners} = harness();
        const a = entry("a");
        const lease = await use(manager, a);
        const unload = manager.unloadModel("a");
        await settle();
        runners.last("a").crash();
        await settle();
        expect(manager.stateOf("a")).toBe("failed");
        lease.release();
        expect(await unload).toEqual({state: "unloaded", wasLoaded: true});
    });

    it("close refuses queued jobs and later admissions, and ends every runner", async () => {
        const {manager, runners} = harness();
        const a = entry("a");
        const lease = await use(manager, a);
        const queued = manager.admit(a).ready();
        await manager.close();
        await expect(queued).rejects.toMatchObject({kind: "shutting_down", message: "server is shutting down"});
        expect(kindOf(() => manager.admit(a))).toBe("shutting_down");
        expect(runners.last("a").alive).toBe(false);
        lease.release();
    });
});
