/**
 * `npx tsx bench/scheduling.ts` (`npm run bench -- scheduling` once bench/run.ts hands that argument here): the
 * scheduling figures, against the provider started as its own process on generated models. Prints ratios,
 * asserts nothing.
 *
 * 1. Tab-completion latency (p50/p95 of fill-in-the-middle requests, 8 tokens each) while a 1,000-token chat streams
 *    on the same model, against the same requests on an idle model.
 * 2. Second-turn time to first token after an unload and a reload, with the saved prompt state against without it
 *    (prompt_cache.enabled false), on a ~1,500-token conversation.
 *
 * Environment: BENCH_THREADS (default 1), BENCH_FIM_RUNS (default 20), BENCH_PRESET ("tiny" or "realistic",
 * default "tiny").
 */
import type {ChildProcess} from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {BENCH_KEY, pct, startBenchServer} from "./server.js";
import {writeTestModel, type TestModelPresetName} from "../src/gguf/test-model.js";

const KEY = BENCH_KEY;
const THREADS = Number(process.env.BENCH_THREADS ?? 1);
const FIM_RUNS = Number(process.env.BENCH_FIM_RUNS ?? 20);
const PRESET = (process.env.BENCH_PRESET ?? "tiny") as TestModelPresetName;


async function stopServer(child: ChildProcess): Promise<void> {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
}

async function post<T>(base: string, route: string, body: unknown): Promise<T> {
    const res = await fetch(base + route, {method: "POST", headers: {"x-api-key": KEY, "content-type": "application/json"}, body: JSON.stringify(body)});
    if (!res.ok) throw new Error(`${route}: ${res.status} ${await res.text()}`);
    return await res.json() as T;
}

async function home(config: Record<string, unknown>, seed: number): Promise<string> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "zc-bench-sched-"));
    await fs.mkdir(path.join(dir, "config"), {recursive: true});
    await fs.writeFile(path.join(dir, "config", "provider_config.json"), JSON.stringify({threads: THREADS, import_sources: {ollama: false, lmstudio: false, huggingface: false}, ...config}));
    await fs.mkdir(path.join(dir, "models", "coder"), {recursive: true});
    await writeTestModel(path.join(dir, "models", "coder", "coder-q8_0.gguf"), {preset: PRESET, seed, script: {text: "Round and round it goes, never done; ", then: "repeat"}});
    return dir;
}

const FIM = {model: "coder", prompt: "<|fim_prefix|>function add(a, b) {\n    return <|fim_suffix|>\n}\n<|fim_middle|>", max_tokens: 8, temperature: 0};

async function fimLatencies(base: string): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < FIM_RUNS; i++) {
        const t0 = performance.now();
        await post(base, "/v1/completions", FIM);
        out.push(performance.now() - t0);
    }
    return out;
}

async function fimBench(): Promise<string[]> {
    const dir = await home({models: {coder: {context_size: 4096, parallel: 2}}}, 31);
    const port = 18000 + Math.floor(Math.random() * 1000);
    const server = await startBenchServer(dir, port);
    const base = `http://127.0.0.1:${port}`;
    try {
        await post(base, "/v1/completions", FIM);
        const idle = await fimLatencies(base);
        const ac = new AbortController();
        const chat = fetch(base + "/api/chat", {method: "POST", signal: ac.signal, headers: {"x-api-key": KEY, "content-type": "application/json"},
            body: JSON.stringify({model: "coder", messages: [{role: "user", content: "write a long story"}], options: {temperature: 0, num_predict: 100000}})});
        const res = await chat;
        const reader = res.body!.getReader();
        let chatTokens = 0;
        const draining = (async () => {
            const decoder = new TextDecoder();
            try {
                for (;;) {
                    const {done, value} = await reader.read();
                    if (done) break;
                    chatTokens += decoder.decode(value).split("\n").filter((l) => l.includes("\"done\":false")).length;
                }
            } catch {
                // aborted
            }
        })();
        await reader.read();
        const busy = await fimLatencies(base);
        const streamedDuring = chatTokens;
        ac.abort();
        await draining;
        return [
            `FIM latency (8 tokens, ${FIM_RUNS} runs, ${PRESET} model, parallel 2): idle p50 ${pct(idle, 50).toFixed(1)} ms, p95 ${pct(idle, 95).toFixed(1)} ms`,
            `  while a chat streams (${streamedDuring} chunks streamed meanwhile): p50 ${pct(busy, 50).toFixed(1)} ms, p95 ${pct(busy, 95).toFixed(1)} ms`,
            `  ratio busy/idle: p50 ${(pct(busy, 50) / pct(idle, 50)).toFixed(2)}×, p95 ${(pct(busy, 95) / pct(idle, 95)).toFixed(2)}× (target ≤ 1.3×)`
        ];
    } finally {
        await stopServer(server);
        await fs.rm(dir, {recursive: true, force: true});
    }
}

const CONVERSATION = Array.from({length: 44}, (_, i) => `step ${i}: read the file, change line ${i}, run the tests.`).join("\n");

async function secondTurn(enabled: boolean): Promise<{firstMs: number; secondMs: number; evaluated: number; prompt: number}> {
    const dir = await home({models: {coder: {context_size: 4096, parallel: 1}}, prompt_cache: {enabled}}, 32);
    const port = 19000 + Math.floor(Math.random() * 1000);
    const server = await startBenchServer(dir, port);
    const base = `http://127.0.0.1:${port}`;
    type Done = {prompt_eval_count: number; prompt_eval_duration: number; load_duration: number; zombiecoder: {prompt_tokens: number}};
    try {
        const turn1 = [{role: "user", content: CONVERSATION}];
        const first = await post<Done>(base, "/api/chat", {model: "coder", stream: false, messages: turn1, options: {temperature: 0, num_predict: 1}});
        await post(base, "/runtime/unload/coder", {});
        await post(base, "/runtime/load/coder", {});
        const turn2 = [...turn1, {role: "assistant", content: "Round"}, {role: "user", content: "now the next step"}];
        const second = await post<Done>(base, "/api/chat", {model: "coder", stream: false, messages: turn2, options: {temperature: 0, num_predict: 1}});
        return {firstMs: first.prompt_eval_duration / 1e6, secondMs: second.prompt_eval_duration / 1e6, evaluated: second.prompt_eval_count, prompt: second.zombiecoder.prompt_tokens};
    } finally {
        await stopServer(server);
        await fs.rm(dir, {recursive: true, force: true});
    }
}

async function restoreBench(): Promise<string[]> {
    const with_ = await secondTurn(true);
    const without = await secondTurn(false);
    return [
        `second turn after unload + reload (${with_.prompt}-token prompt, ${PRESET} model), time to first token:`,
        `  with the saved state ${with_.secondMs.toFixed(1)} ms (${with_.evaluated} tokens evaluated), without ${without.secondMs.toFixed(1)} ms (${without.evaluated} evaluated): ` +
        `${(without.secondMs / with_.secondMs).toFixed(1)}× faster (target ≥ 5×)`
    ];
}

const lines = [`scheduling bench: ${os.cpus()[0]?.model ?? "cpu"} × ${os.availableParallelism()}, threads ${THREADS}`, ...await fimBench(), ...await restoreBench()];
console.log(lines.join("\n"));
