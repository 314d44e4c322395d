import {afterAll, afterEach, beforeAll, describe, expect, it, vi} from "vitest";
import type {ProviderConfigFile} from "../../src/config/schema.js";
import {ProviderError} from "../../src/runtime/errors.js";
import type {GenerationResult, Job} from "../../src/runtime/job.js";
import {classifyLatency} from "../../src/runtime/latency.js";
import type {MemoryProbe} from "../../src/runtime/memory-probe.js";
import {autoParallel} from "../../src/runtime/parallel.js";
import {OLLAMA_DEFAULT_OPTIONS, type GenerateRequest} from "../../src/runtime/protocol.js";
import {Runtime} from "../../src/runtime/runtime.js";
import {addModel, makeHome, removeHome, testConfig} from "../helpers/home.js";
import {FakeRunners, type FakeRunner} from "./fake-runner.js";

// stand-in runners answer when the test says: a wait that hangs is a bug
vi.setConfig({testTimeout: 10_000});

const MIB = 1024 * 1024;
const probe: MemoryProbe = {
    systemAvailableBytes: () => 64 * 1024 * MIB,
    systemTotalBytes: () => 128 * 1024 * MIB,
    runnerRssBytes: (measure) => measure()
};

const CHAT: GenerateRequest = {mode: "chat", messages: [{role: "user", content: "explain this repository"}], options: OLLAMA_DEFAULT_OPTIONS};
const FIM: GenerateRequest = {mode: "infill", prompt: "function add(a, b) {\n    return ", suffix: "\n}\n", options: {...OLLAMA_DEFAULT_OPTIONS, num_predict: 16}};

let home: string;
const runtimes: Runtime[] = [];

beforeAll(async () => {
    home = await makeHome("zc-scheduling-");
    await addModel(home, "coder/coder-q8_0.gguf", {seed: 3});
});
afterAll(async () => removeHome(home));
afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((r) => r.close()));
});

async function harness(overrides: Partial<ProviderConfigFile> = {}) {
    const runners = new FakeRunners();
    const runtime = new Runtime(testConfig(home, {context_size: 1024, ...overrides}), {createRunner: runners.factory, probe, sweepIntervalMs: 1e9});
    runtimes.push(runtime);
    await runtime.start();
    return {runtime, runners};
}

/** Lets pending promise callbacks run. */
async function settle(): Promise<void> {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

/** Starts a job the way the HTTP layer does and leaves its generation running. */
async function begin(runtime: Runtime, request: GenerateRequest, client?: string) {
    const job: Job = await runtime.job("coder");
    const ac = new AbortController();
    await job.start(request, ac.signal, {client});
    let settled = false;
    const result: Promise<GenerationResult> = job.generate(request, () => undefined, ac.signal);
    result.then(() => (settled = true), () => (settled = true));
    return {job, result, settled: () => settled, abort: () => ac.abort()};
}

function generationOf(runner: FakeRunner, request: GenerateRequest) {
    const g = runner.generations.find((x) => x.request.mode === request.mode && x.request.prompt === request.prompt && x.request.messages === request.messages);
    if (!g) throw new Error(`no generation for a ${request.mode} request reached the runner`);
    return g;
}

describe("latency classes", () => {
    it("classifies fill-in-the-middle, raw prompts with FIM markers and small num_predict as short; chats and tool use as long", () => {
        expect(classifyLatency(FIM)).toBe("short");
        expect(classifyLatency({mode: "completion", prompt: "<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>", options: OLLAMA_DEFAULT_OPTIONS})).toBe("short");
        expect(classifyLatency({mode: "completion", prompt: "<PRE> x <SUF> y <MID>", options: OLLAMA_DEFAULT_OPTIONS})).toBe("short");
        expect(classifyLatency({mode: "completion", prompt: "Once upon a time", options: OLLAMA_DEFAULT_OPTIONS})).toBe("long");
        expect(classifyLatency(CHAT)).toBe("long");
        expect(classifyLatency({...CHAT, options: {...OLLAMA_DEFAULT_OPTIONS, num_predict: 32}})).toBe("short");
        expect(classifyLatency({...CHAT, options: {...OLLAMA_DEFAULT_OPTIONS, num_predict: 32}, tools: [{name: "read_file"}]})).toBe("long");
        expect(classifyLatency({...CHAT, options: {...OLLAMA_DEFAULT_OPTIONS, num_predict: 4096}})).toBe("long");
    });

    it("a completion is served while long chats hold every sequence they may take, and ahead of a waiting chat", async () => {
        const {runtime, runners} = await harness({parallel: 2, short_reserved_sequences: 1});
        const chat = await begin(runtime, CHAT);
        await settle();
        const runner = runners.last("coder");
        const secondChat = {...CHAT, messages: [{role: "user" as const, content: "and now the tests"}]};
        const waitingChat = await begin(runtime, secondChat);
        await settle();
        // the second chat may not take the sequence kept for completions
        expect(runner.generations).toHaveLength(1);
        expect(runtime.manager.status()[0]).toMatchObject({in_flight: 1, queued_long: 1, parallel: 2, short_reserved: 1});

        const fim = await begin(runtime, FIM);
        await settle();
        const fimGeneration = generationOf(runner, FIM);
        expect(fimGeneration.request.latency).toBe("short");
        fimGeneration.finish();
        const served = await fim.result;
        expect(served.latency).toBe("short");
        expect(chat.settled()).toBe(false);
        expect(waitingChat.settled()).toBe(false);
        expect(runner.generations).toHaveLength(2);

        generationOf(runner, CHAT).finish();
        expect((await chat.result).latency).toBe("long");
        await settle();
        generationOf(runner, secondChat).finish();
        await waitingChat.result;
        expect(runtime.manager.status()[0]).toMatchObject({in_flight: 0, queued: 0});
    });

    it("a newer completion from the same client aborts the older one that is running; another client's is untouched", async () => {
        const {runtime, runners} = await harness({parallel: 3, short_reserved_sequences: 1});
        const older = await begin(runtime, FIM, "Zed/0.150 127.0.0.1");
        const neighbour = await begin(runtime, {...FIM, prompt: "let x = "}, "curl/8 127.0.0.1");
        await settle();
        const runner = runners.last("coder");
        const olderGeneration = generationOf(runner, FIM);
        expect(olderGeneration.signal?.aborted).toBe(false);

        const newerRequest = {...FIM, prompt: "function add(a, b) {\n    return a"};
        const newer = await begin(runtime, newerRequest, "Zed/0.150 127.0.0.1");
        expect(olderGeneration.signal?.aborted).toBe(true);
        // the runner stops at the abort and ends the generation; the older job answers with the supersession
        olderGeneration.finish();
        const err = await older.result.catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ProviderError);
        expect(err).toMatchObject({kind: "cancelled", code: "superseded"});
        expect((err as Error).message).toMatch(/superseded by a newer completion request from the same client/);

        await settle();
        expect(generationOf(runner, {...FIM, prompt: "let x = "}).signal?.aborted).toBe(false);
        generationOf(runner, newerRequest).finish();
        generationOf(runner, {...FIM, prompt: "let x = "}).finish();
        await expect(newer.result).resolves.toMatchObject({latency: "short"});
        await expect(neighbour.result).resolves.toMatchObject({latency: "short"});
    });

    it("a queued completion superseded by a newer one leaves the queue at once and the newer one takes its place", async () => {
        const {runtime, runners} = await harness({parallel: 1});
        const holder = await begin(runtime, {...FIM, prompt: "held"}, "other 10.0.0.2");
        await settle();
        const queued = await begin(runtime, FIM, "Zed 10.0.0.1");
        await settle();
        expect(runtime.manager.status()[0]).toMatchObject({queued_short: 1});
        const newerRequest = {...FIM, prompt: "function add(a, b) {\n    return a +"};
        const newer = await begin(runtime, newerRequest, "Zed 10.0.0.1");
        await expect(queued.result).rejects.toMatchObject({code: "superseded"});
        expect(runtime.manager.status()[0]).toMatchObject({queued_short: 1, in_flight: 1});

        const runner = runners.last("coder");
        generationOf(runner, {...FIM, prompt: "held"}).finish();
        await holder.result;
        await settle();
        // only the newer request ever reached the runner
        expect(runner.generations.map((g) => g.request.prompt)).toEqual(["held", newerRequest.prompt]);
        generationOf(runner, newerRequest).finish();
        await newer.result;
    });

    it("long jobs never supersede each other, whatever their client", async () => {
        const {runtime, runners} = await harness({parallel: 2, short_reserved_sequences: 0});
        const a = await begin(runtime, CHAT, "Zed 127.0.0.1");
        const b = await begin(runtime, {...CHAT, messages: [{role: "user", content: "second"}]}, "Zed 127.0.0.1");
        await settle();
        const runner = runners.last("coder");
        expect(runner.generations.every((g) => g.signal?.aborted === false)).toBe(true);
        for (const g of runner.generations) g.finish();
        await Promise.all([a.result, b.result]);
    });
});

describe("parallel by default", () => {
    const tiny = {size_bytes: 10 * MIB, block_count: 2, head_count: 4, head_count_kv: 4, embedding_length: 64, vocab_size: 100};
    // a 7B-shaped model without grouped-query attention: 4 GB of weights and 4 GB of KV per 8k sequence
    const wide = {size_bytes: 4 * 1024 * MIB, block_count: 32, head_count: 32, head_count_kv: 32, embedding_length: 4096, vocab_size: 32000};

    it("gives a small model four sequences and a model whose sequences would crowd the budget one", () => {
        expect(autoParallel(tiny, 8192, 14000 * MIB)).toBe(4);
        expect(autoParallel(wide, 8192, 14000 * MIB)).toBe(1);
        // with a machine twice the size, the wide model gets a second sequence for completions
        expect(autoParallel(wide, 8192, 32000 * MIB)).toBe(2);
        expect(autoParallel(tiny, 8192, 0)).toBe(1);
    });

    it("loads with the chosen number of sequences, each with the whole configured context, and reports it", async () => {
        const {runtime, runners} = await harness({context_size: 2048});
        const job = await runtime.job("coder");
        await job.load(new AbortController().signal);
        const spec = runners.last("coder").loadSpec!;
        expect(spec.parallel).toBe(4);
        expect(spec.contextSize).toBe(2048);
        expect(runtime.manager.status()[0]).toMatchObject({parallel: 4, parallel_auto: true, short_reserved: 1, context_size: 2048});
        expect(runtime.manager.resident()[0]!.parallel).toBe(4);
    });

    it("a number in the config wins over auto, for one model or all", async () => {
        const {runtime, runners} = await harness({parallel: 3, models: {coder: {parallel: 2}}});
        await (await runtime.job("coder")).load(new AbortController().signal);
        expect(runners.last("coder").loadSpec!.parallel).toBe(2);
        expect(runtime.manager.status()[0]).toMatchObject({parallel: 2, parallel_auto: false});
    });
});

describe("warm starts", () => {
    it("load_on_startup models load in order without a request, within the budget; the others wait for theirs", async () => {
        await addModel(home, "helper/helper-q8_0.gguf", {seed: 5});
        await addModel(home, "big/big-q8_0.gguf", {seed: 6});
        const {runtime, runners} = await harness({
            load_on_startup: ["helper", "nothing-by-this-name"],
            models: {coder: {load_on_startup: true}, big: {load_on_startup: true}},
            // room for two of these models, not three: the third startup model must not evict the first two
            ram_threshold_mb: 290
        });
        await runtime.warming;
        expect(runners.made.map((r) => r.model)).toEqual(["helper", "coder"]);
        expect(runtime.manager.stateOf("helper")).toBe("loaded");
        expect(runtime.manager.stateOf("coder")).toBe("loaded");
        expect(runtime.manager.stateOf("big")).toBe("unloaded");
        expect(runtime.manager.status().every((s) => s.requests === 0)).toBe(true);
    });
});
