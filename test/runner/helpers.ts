import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {writeTestModel, type TestModelInfo, type TestModelOptions} from "../../src/gguf/test-model.js";
import {OLLAMA_DEFAULT_OPTIONS, type GenerateRequest, type GenerationEvent, type GenerationStats, type LoadSpec, type SamplingOptions, type ToolCall} from "../../src/runtime/protocol.js";
import {Engine} from "../../src/runner/engine.js";

/** A temp folder for generated models; removed by the returned function. */
export async function modelDir(prefix: string): Promise<{dir: string; remove: () => Promise<void>}> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
    return {dir, remove: () => fs.rm(dir, {recursive: true, force: true})};
}

export async function writeModel(dir: string, name: string, opts: TestModelOptions = {}): Promise<TestModelInfo> {
    return writeTestModel(path.join(dir, `${name}.gguf`), opts);
}

export function spec(modelPath: string, over: Partial<LoadSpec> = {}): LoadSpec {
    // one thread: the test machines have two cores shared by everything
    return {modelPath, contextSize: 2048, parallel: 1, threads: 1, gpu: false, ...over};
}

/** Greedy sampling with Ollama's defaults otherwise. */
export function greedy(over: Partial<SamplingOptions> = {}): SamplingOptions {
    return {...OLLAMA_DEFAULT_OPTIONS, temperature: 0, ...over};
}

export interface Outcome {
    text: string;
    calls: ToolCall[];
    stats: GenerationStats;
    /** Tokens the text events said they carried (what node-llama-cpp released). */
    releasedTokens: number;
    events: GenerationEvent[];
}

let nextId = 1;

/** Runs one generation on an in-process engine and collects its events. */
export async function run(engine: Engine, req: GenerateRequest, signal: AbortSignal = new AbortController().signal): Promise<Outcome> {
    const events: GenerationEvent[] = [];
    await engine.generate(nextId++, req, (e) => events.push(e), signal);
    const done = events.find((e) => e.type === "done");
    if (!done || done.type !== "done") throw new Error("no done event");
    return {
        text: events.map((e) => (e.type === "text" ? e.text : "")).join(""),
        calls: events.flatMap((e) => (e.type === "tool_calls" ? e.calls : [])),
        stats: done.stats,
        releasedTokens: events.reduce((n, e) => n + (e.type === "text" ? e.tokens : 0), 0),
        events
    };
}
