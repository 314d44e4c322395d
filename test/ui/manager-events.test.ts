import {afterEach, describe, expect, it, vi} from "vitest";
import type {ProviderConfigFile} from "../../src/config/schema.js";
import type {ModelEntry} from "../../src/registry/types.js";
import {ModelManager, type ManagerEvent} from "../../src/runtime/manager.js";
import {estimateModelBytes, type MemoryProbe} from "../../src/runtime/memory-probe.js";
import {testConfig} from "../helpers/home.js";
import {FakeRunners} from "../runtime/fake-runner.js";

// stand-in runners settle in milliseconds: a wait that hangs is a bug
vi.setConfig({testTimeout: 5000});

/** What the dashboard and the metrics rely on from the manager: run-time pins and the event hook. */

const MIB = 1024 * 1024;
const META = {block_count: 2, head_count: 4, head_count_kv: 4, embedding_length: 64, vocab_size: 100, context_length: 4096};
const SIZE = 10 * MIB;
const ESTIMATE = estimateModelBytes({size_bytes: SIZE, ...META}, 1024, 1);

function entry(name: string): ModelEntry {
    return {
        name, path: `models/${name}.gguf`, abs_path: `/nowhere/${name}.gguf`, files: [`/nowhere/${name}.gguf`],
        size_bytes: SIZE, status: "unloaded", keep_loaded: true, pinned: false, aliases: [], source: "models_dir", read_only: false,
        projector: null, fingerprint: name, modified_at: new Date(0).toISOString(), mtime_ms: 0, quant_tag: "q8_0", base_name: name,
        metadata: {
            architecture: "llama", parameter_count: null, parameter_size: "1M", quantization: "Q8_0", file_type: 7, embedding_length: META.embedding_length,
            has_chat_template: false, chat_template: null, is_embedding: false, pooling_type: null, has_fim: false, supports_tools: false,
            general_name: name, split_count: 1, context_length: META.context_length, block_count: META.block_count, head_count: META.head_count,
            head_count_kv: META.head_count_kv, vocab_size: META.vocab_size
        }
    };
}

const probe: MemoryProbe = {
    systemAvailableBytes: () => 64 * 1024 * MIB,
    systemTotalBytes: () => 128 * 1024 * MIB,
    runnerRssBytes: (measure) => measure()
};

const managers: ModelManager[] = [];

/** Two models fit under the budget, a third does not. */
function harness(overrides: Partial<ProviderConfigFile> = {}) {
    const runners = new FakeRunners();
    const clock = {t: 1_000_000};
    const manager = new ModelManager(testConfig("/nonexistent/zc-events-test", {
        context_size: 1024, parallel: 1, ram_threshold_mb: Math.floor((2.5 * ESTIMATE) / MIB), ...overrides
    }), {createRunner: runners.factory, probe, now: () => clock.t++, sweepIntervalMs: 1e9});
    managers.push(manager);
    const events: ManagerEvent[] = [];
    manager.onEvent((e) => events.push(e));
    return {manager, runners, events};
}

async function useAndRelease(manager: ModelManager, e: ModelEntry): Promise<void> {
    (await manager.admit(e).ready()).release();
}

afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.close()));
});

describe("run-time pins", () => {
    it("a model pinned at run time is never evicted; unpinned, it is the least recently used one to go", async () => {
        const {manager} = harness();
        const [one, two, three] = [entry("one"), entry("two"), entry("three")];
        await useAndRelease(manager, one);
        await useAndRelease(manager, two);
        manager.setPinned("one", true);
        expect(manager.pinned(one)).toBe(true);
        await useAndRelease(manager, three);
        expect([manager.stateOf("one"), manager.stateOf("two"), manager.stateOf("three")]).toEqual(["loaded", "unloaded", "loaded"]);
        expect(manager.status().find((s) => s.name === "one")!.pinned).toBe(true);

        manager.setPinned("one", false);
        await useAndRelease(manager, two);
        expect([manager.stateOf("one"), manager.stateOf("two"), manager.stateOf("three")]).toEqual(["unloaded", "loaded", "loaded"]);
    });

    it("an unpin at run time wins over the config's pin, and a pin over the config's default", () => {
        const {manager} = harness({models: {one: {pinned: true}}});
        expect(manager.pinned(entry("one"))).toBe(true);
        manager.setPinned("one", false);
        expect(manager.pinned(entry("one"))).toBe(false);
        expect(manager.pinned(entry("two"))).toBe(false);
        manager.setPinned("two", true);
        expect(manager.pinned(entry("two"))).toBe(true);
    });
});

describe("model events", () => {
    it("a load, a job, an eviction and an explicit unload arrive in order, with their reasons", async () => {
        const {manager, events} = harness();
        await useAndRelease(manager, entry("one"));
        await useAndRelease(manager, entry("two"));
        await useAndRelease(manager, entry("three"));
        await manager.unloadModel("two");
        const phases = events.filter((e) => e.type === "phase" && e.model === "one").map((e) => e.type === "phase" ? e.to : null);
        expect(phases).toEqual(["loading", "loaded", "busy", "loaded", "unloading", "unloaded"]);
        const loaded = events.filter((e) => e.type === "loaded");
        expect(loaded.map((e) => e.model)).toEqual(["one", "two", "three"]);
        for (const e of loaded) if (e.type === "loaded") expect(e.load_ms).toBeGreaterThanOrEqual(0);
        expect(events.filter((e) => e.type === "unloaded")).toEqual([
            {type: "unloaded", model: "one", reason: "evicted under ram_threshold_mb"},
            {type: "unloaded", model: "two", reason: "explicit unload"}
        ]);
        // "busy" is still "loaded" to clients
        expect(events.find((e) => e.type === "phase" && e.to === "busy")).toMatchObject({state: "loaded"});
    });

    it("a crash and a failed load are reported as such, and a pin change as an event", async () => {
        const {manager, runners, events} = harness();
        await useAndRelease(manager, entry("one"));
        runners.last("one").crash();
        await vi.waitFor(() => expect(manager.stateOf("one")).toBe("failed"));
        expect(events.at(-1)).toMatchObject({type: "crashed", model: "one", reason: expect.stringMatching(/SIGKILL/) as unknown});
        runners.behaviour = {failLoad: "bad tensor"};
        await expect(manager.loadModel(entry("two"))).rejects.toMatchObject({kind: "load_failed"});
        expect(events.filter((e) => e.type === "load_failed")).toEqual([{type: "load_failed", model: "two", reason: "bad tensor"}]);
        manager.setPinned("one", true);
        expect(events.at(-1)).toEqual({type: "pinned", model: "one", pinned: true});
    });

    it("a listener that throws breaks nothing, and one that stopped listening hears nothing", async () => {
        const {manager} = harness();
        const heard: string[] = [];
        manager.onEvent(() => {
            throw new Error("watcher bug");
        });
        const stop = manager.onEvent((e) => heard.push(e.type));
        await useAndRelease(manager, entry("one"));
        expect(manager.stateOf("one")).toBe("loaded");
        const before = heard.length;
        expect(before).toBeGreaterThan(0);
        stop();
        await manager.unloadModel("one");
        expect(heard).toHaveLength(before);
    });
});
