/**
 * What the manager asks a runner for: prompt lookup from `speculative.*` (and its per-model override), a draft model
 * resolved from `models.<name>.draft_model`, and a load that fails naming the key when the draft is not installed.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {afterEach, describe, expect, it} from "vitest";
import {defaultConfigFile, type ProviderConfigFile} from "../../src/config/schema.js";
import type {ModelEntry} from "../../src/registry/types.js";
import {ModelManager} from "../../src/runtime/manager.js";
import type {MemoryProbe} from "../../src/runtime/memory-probe.js";
import {testConfig} from "../helpers/home.js";
import {FakeRunners} from "../runtime/fake-runner.js";

const MIB = 1024 * 1024;

function entry(name: string, over: Partial<ModelEntry> = {}): ModelEntry {
    return {
        name, path: `models/${name}/${name}-q8_0.gguf`, abs_path: `/nowhere/${name}-q8_0.gguf`, files: [`/nowhere/${name}-q8_0.gguf`],
        size_bytes: 10 * MIB, status: "unloaded", keep_loaded: true, pinned: false, aliases: [], source: "models_dir", read_only: false,
        projector: null, fingerprint: name, modified_at: new Date(0).toISOString(), mtime_ms: 0, quant_tag: "q8_0", base_name: name,
        metadata: {
            architecture: "llama", parameter_count: null, parameter_size: "1M", quantization: "Q8_0", file_type: 7, embedding_length: 64,
            has_chat_template: false, chat_template: null, is_embedding: false, pooling_type: null, has_fim: false, supports_tools: false,
            general_name: name, split_count: 1, context_length: 4096, block_count: 2, head_count: 4, head_count_kv: 4, vocab_size: 100
        },
        ...over
    };
}

const probe: MemoryProbe = {
    systemAvailableBytes: () => 64 * 1024 * MIB,
    systemTotalBytes: () => 128 * 1024 * MIB,
    runnerRssBytes: (measure) => measure()
};

const managers: ModelManager[] = [];
afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.close()));
});

function harness(overrides: Partial<ProviderConfigFile>, resolveModel?: (name: string) => Promise<ModelEntry>, home = "/nonexistent/zc-spec-test") {
    const runners = new FakeRunners();
    const manager = new ModelManager(testConfig(home, {context_size: 1024, parallel: 1, short_reserved_sequences: 0, ...overrides}),
        {createRunner: runners.factory, probe, sweepIntervalMs: 1e9, ...(resolveModel ? {resolveModel} : {})});
    managers.push(manager);
    return {manager, runners};
}

async function specFor(h: ReturnType<typeof harness>, e: ModelEntry) {
    const lease = await h.manager.admit(e).ready();
    lease.release();
    return h.runners.last(e.name).loadSpec!.speculative;
}

const SPEC = defaultConfigFile().speculative;

describe("flash attention in the load spec", () => {
    it("follows flash_attention: llama.cpp's choice by default, or forced either way", async () => {
        expect(defaultConfigFile().flash_attention).toBe("auto");
        for (const setting of ["auto", true, false] as const) {
            const h = harness({flash_attention: setting});
            const lease = await h.manager.admit(entry("fa")).ready();
            lease.release();
            expect(h.runners.last("fa").loadSpec!.flashAttention).toBe(setting);
        }
    });
});

describe("speculative decoding in the load spec", () => {
    it("prompt lookup follows speculative.prompt_lookup, and a model's prompt_lookup wins", async () => {
        const off = harness({});
        expect(await specFor(off, entry("a"))).toBeUndefined();
        const on = harness({speculative: {...SPEC, prompt_lookup: true, prompt_lookup_tokens: 3, prompt_lookup_min_match: 2}, models: {b: {prompt_lookup: false}}});
        expect(await specFor(on, entry("a"))).toEqual({promptLookup: {maxTokens: 3, minPattern: 2}});
        expect(await specFor(on, entry("b"))).toBeUndefined();
        const perModel = harness({models: {c: {prompt_lookup: true}}});
        expect(await specFor(perModel, entry("c"))).toEqual({promptLookup: {maxTokens: SPEC.prompt_lookup_tokens, minPattern: SPEC.prompt_lookup_min_match}});
    });

    it("draft_model is resolved like a request's model name and replaces prompt lookup", async () => {
        const draft = entry("small", {abs_path: "/models/small-q8_0.gguf"});
        const h = harness({speculative: {...SPEC, prompt_lookup: true}, models: {big: {draft_model: "sm"}}},
            async (name) => (name === "sm" ? draft : Promise.reject(new Error(`model '${name}' not found`))));
        expect(await specFor(h, entry("big"))).toEqual({draft: {modelPath: "/models/small-q8_0.gguf", name: "sm", maxTokens: SPEC.draft_tokens}});
    });

    it("without a resolver, an exact name or alias among known entries, or a .gguf path under models_dir", async () => {
        const home = await fs.mkdtemp(path.join(os.tmpdir(), "zc-spec-"));
        try {
            await fs.mkdir(path.join(home, "models", "d"), {recursive: true});
            await fs.writeFile(path.join(home, "models", "d", "draft.gguf"), "GGUF");
            const h = harness({models: {big: {draft_model: "d/draft.gguf"}, other: {draft_model: "tiny-alias"}}}, undefined, home);
            const file = await specFor(h, entry("big"));
            expect(file?.draft?.modelPath).toBe(path.join(home, "models", "d", "draft.gguf"));
            h.manager.updateEntries([entry("tiny", {aliases: ["tiny-alias"], abs_path: "/m/tiny.gguf"})]);
            expect((await specFor(h, entry("other")))?.draft?.modelPath).toBe("/m/tiny.gguf");
        } finally {
            await fs.rm(home, {recursive: true, force: true});
        }
    });

    it("a draft_model that is not installed fails the load with an error naming the key", async () => {
        const h = harness({models: {big: {draft_model: "nothing-like-it"}}}, async (name) => Promise.reject(new Error(`model '${name}' not found`)));
        const err = await h.manager.admit(entry("big")).ready().then(() => null, (e: unknown) => e as Error);
        expect(err?.message).toMatch(/models\.big\.draft_model 'nothing-like-it' is not an installed model or a GGUF file \(model 'nothing-like-it' not found\)/);
        expect(h.runners.of("big")).toHaveLength(0);
        expect(h.manager.stateOf("big")).toBe("failed");
    });
});
