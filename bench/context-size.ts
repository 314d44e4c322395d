/**
 * `npx tsx bench/context-size.ts`: generation speed against the configured context size, raw node-llama-cpp in this
 * process side by side with the runner (the real child process the server uses), on the generated tiny and
 * realistic-shape models. Prints tables; asserts nothing.
 *
 * Besides wall-clock tokens/s it reports CPU milliseconds per token (this process for the raw engine, the runner's
 * /proc entry for the runner, Linux only): on a shared machine the wall clock says how busy the neighbours are, the
 * CPU time says what the work costs.
 *
 * A second table separates the configured size from the used part: the tiny model in a 16,384-token context,
 * generating after prompts that fill 0, 4,096 and 12,288 tokens of it (generation rate only, prompt time excluded).
 *
 * The raw engine runs as the runner does on a CPU (flash attention off); BENCH_FA=1 adds raw runs with it on.
 *
 * Environment: BENCH_THREADS (default 1), BENCH_MODELS (default "tiny,realistic"), BENCH_SIZES (default
 * "1024,4096,16384,32768"), BENCH_RUNS (best of, default 3), BENCH_FA=1 adds raw runs with flash attention,
 * BENCH_FILL (default "0,4096,12288"; empty skips the second table).
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {getLlama, LlamaChat, LlamaCompletion, TokenBias, type LlamaContextSequence, type LlamaModel, type Token} from "node-llama-cpp";
import {writeTestModel, type TestModelPresetName} from "../src/gguf/test-model.js";
import {OLLAMA_DEFAULT_OPTIONS, type GenerateRequest} from "../src/runtime/protocol.js";
import {RunnerProcess} from "../src/runtime/runner-process.js";

const THREADS = Number(process.env.BENCH_THREADS ?? 1);
const MODELS = (process.env.BENCH_MODELS ?? "tiny,realistic").split(",").filter((x) => x.trim() !== "") as TestModelPresetName[];
const SIZES = (process.env.BENCH_SIZES ?? "1024,4096,16384,32768").split(",").map(Number);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const FLASH = process.env.BENCH_FA === "1";
const FILL = (process.env.BENCH_FILL ?? "0,4096,12288").split(",").filter((x) => x.trim() !== "").map(Number);
const FILL_CONTEXT = 16384;
const FILL_GENERATE = 200;
/** Tokens generated per run: enough for a steady rate, little enough for a CPU. */
const GENERATE: Record<TestModelPresetName, number> = {tiny: 800, realistic: 48};
const PROMPT = "Write a long story about a lighthouse keeper.";
/**
 * The sampling the runner applies for a greedy request with Ollama's defaults; node-llama-cpp's own defaults differ
 * (LlamaChat applies a repeat penalty), which would compare different work.
 */
const SAMPLING = {temperature: 0, topK: OLLAMA_DEFAULT_OPTIONS.top_k, topP: OLLAMA_DEFAULT_OPTIONS.top_p, minP: OLLAMA_DEFAULT_OPTIONS.min_p, repeatPenalty: false as const};

type Mode = "completion" | "chat";
interface Sample {
    tokens: number;
    wallMs: number;
    cpuMs: number | null;
}

/** CPU time (user + system) of another process in ms, from /proc; null where there is none. */
function processCpuMs(pid: number | undefined): number | null {
    if (pid == null || process.platform !== "linux") return null;
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
}

function ownCpuMs(): number {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
}

/** The run with the highest wall-clock rate, and the lowest CPU cost per token among the runs. */
function best(samples: Sample[]): {tps: number; cpuPerToken: number | null} {
    const tps = Math.max(...samples.map((s) => s.tokens / s.wallMs * 1000));
    const cpu = samples.filter((s) => s.cpuMs != null).map((s) => s.cpuMs! / s.tokens);
    return {tps, cpuPerToken: cpu.length > 0 ? Math.min(...cpu) : null};
}

async function rawRun(model: LlamaModel, contextSize: number, mode: Mode, tokens: number, flashAttention: boolean): Promise<Sample> {
    const context = await model.createContext({contextSize, sequences: 1, threads: {ideal: THREADS, min: 1}, batchSize: Math.min(512, contextSize), flashAttention});
    try {
        const sequence: LlamaContextSequence = context.getSequence();
        // built before the clock starts, as the runner builds them once at load (resolving the chat template costs CPU)
        const completion = new LlamaCompletion({contextSequence: sequence});
        const chat = new LlamaChat({contextSequence: sequence, autoDisposeSequence: false});
        const before = sequence.tokenMeter.getState();
        const c0 = ownCpuMs();
        const t0 = performance.now();
        if (mode === "completion") await completion.generateCompletion(PROMPT, {...SAMPLING, maxTokens: tokens});
        else await chat.generateResponse([{type: "user", text: PROMPT}], {...SAMPLING, maxTokens: tokens});
        const wallMs = performance.now() - t0;
        return {tokens: sequence.tokenMeter.diff(before).usedOutputTokens, wallMs, cpuMs: ownCpuMs() - c0};
    } finally {
        await context.dispose();
    }
}

async function runnerRun(runner: RunnerProcess, mode: Mode, tokens: number): Promise<Sample> {
    const request: GenerateRequest = mode === "completion"
        ? {mode, prompt: PROMPT, options: {...OLLAMA_DEFAULT_OPTIONS, temperature: 0, num_predict: tokens}}
        : {mode, messages: [{role: "user", content: PROMPT}], options: {...OLLAMA_DEFAULT_OPTIONS, temperature: 0, num_predict: tokens}};
    // a fresh sequence state each run, as the raw engine gets a fresh context
    await runner.generate({...request, options: {...request.options, num_predict: 1}, prompt: "x", messages: [{role: "user", content: "x"}]}, () => undefined);
    const c0 = processCpuMs(runner.pid);
    const t0 = performance.now();
    const stats = await runner.generate(request, () => undefined);
    const wallMs = performance.now() - t0;
    const c1 = processCpuMs(runner.pid);
    return {tokens: stats.eval_count, wallMs, cpuMs: c0 != null && c1 != null ? c1 - c0 : null};
}

/** A prompt of exactly `count` tokens (after BOS) of ordinary text. */
function promptOf(model: LlamaModel, count: number): Token[] {
    const words = model.tokenize("the keeper climbed the stairs and lit the lamp again ");
    const out: Token[] = [];
    while (out.length < count) out.push(...words);
    return out.slice(0, Math.max(1, count));
}

/** Generation rate after a prompt of `fill` tokens, raw: from the first sampled token to the end, as the runner reports it. */
async function rawFillRate(model: LlamaModel, fill: number, flashAttention = false): Promise<number> {
    const context = await model.createContext({contextSize: FILL_CONTEXT, sequences: 1, threads: {ideal: THREADS, min: 1}, batchSize: 512, flashAttention});
    try {
        let first: number | undefined;
        let sampled = 0;
        const none = new TokenBias(model.tokenizer);
        // resolved once per sampled token, right after the decode: the same clock the runner's stats use
        const tokenBias = () => {
            first ??= performance.now();
            sampled++;
            return none;
        };
        await new LlamaCompletion({contextSequence: context.getSequence()}).generateCompletion(promptOf(model, fill), {...SAMPLING, maxTokens: FILL_GENERATE, tokenBias});
        return sampled / (performance.now() - first!) * 1000;
    } finally {
        await context.dispose();
    }
}

async function runnerFillRate(runner: RunnerProcess, model: LlamaModel, fill: number): Promise<number> {
    const prompt = model.detokenize(promptOf(model, fill));
    // a fresh sequence state each run
    await runner.generate({mode: "completion", prompt: "x", options: {...OLLAMA_DEFAULT_OPTIONS, temperature: 0, num_predict: 1}}, () => undefined);
    const stats = await runner.generate({mode: "completion", prompt, options: {...OLLAMA_DEFAULT_OPTIONS, temperature: 0, num_predict: FILL_GENERATE}}, () => undefined);
    return stats.eval_count / (stats.eval_duration_ns / 1e9);
}

async function fillTable(dir: string, llama: Awaited<ReturnType<typeof getLlama>>): Promise<void> {
    const file = path.join(dir, "tiny-fill.gguf");
    await writeTestModel(file, {preset: "tiny", contextLength: FILL_CONTEXT});
    const model = await llama.loadModel({modelPath: file});
    const runner = new RunnerProcess("tiny-fill");
    await runner.load({modelPath: file, contextSize: FILL_CONTEXT, parallel: 1, threads: THREADS, gpu: false});
    try {
        console.log(`
tiny model, context ${FILL_CONTEXT}: generation rate after a prompt that fills part of it (${FILL_GENERATE} tokens generated)`);
        console.log(`| tokens already in the context | raw tok/s |${FLASH ? " raw+FA tok/s |" : ""} runner tok/s | runner/raw |`);
        console.log(`|---|---|${FLASH ? "---|" : ""}---|---|`);
        for (const fill of FILL) {
            let raw = 0;
            let flash = 0;
            let viaRunner = 0;
            for (let i = 0; i < RUNS; i++) {
                raw = Math.max(raw, await rawFillRate(model, fill));
                if (FLASH) flash = Math.max(flash, await rawFillRate(model, fill, true));
                viaRunner = Math.max(viaRunner, await runnerFillRate(runner, model, fill));
            }
            console.log(`| ${fill} | ${fmt(raw, 0)} |${FLASH ? ` ${fmt(flash, 0)} |` : ""} ${fmt(viaRunner, 0)} | ${fmt(viaRunner / raw)} |`);
        }
    } finally {
        await runner.stop();
        await model.dispose();
    }
}

function fmt(n: number | null, digits = 2): string {
    return n == null ? "-" : n.toFixed(digits);
}

async function main(): Promise<void> {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "zc-bench-ctx-"));
    const llama = await getLlama({gpu: false, build: "never", maxThreads: THREADS});
    console.log(`context-size bench: ${os.cpus()[0]?.model ?? "cpu"} × ${os.availableParallelism()}, load ${os.loadavg()[0]!.toFixed(1)}, threads ${THREADS}, best of ${RUNS}`);
    try {
        for (const preset of MODELS) {
            const file = path.join(dir, `${preset}.gguf`);
            // a training context as large as the largest size measured, so no size runs past it
            await writeTestModel(file, {preset, contextLength: Math.max(...SIZES)});
            const model = await llama.loadModel({modelPath: file});
            const tokens = GENERATE[preset];
            console.log(`\n${preset} model, ${tokens} tokens generated per run`);
            const header = ["mode", "context", "raw tok/s", "raw cpu ms/tok", ...(FLASH ? ["raw+FA tok/s", "raw+FA cpu ms/tok"] : []), "runner tok/s", "runner cpu ms/tok", "runner/raw"];
            console.log("| " + header.join(" | ") + " |");
            console.log("|" + header.map(() => "---").join("|") + "|");
            for (const contextSize of SIZES) {
                const runner = new RunnerProcess(preset);
                await runner.load({modelPath: file, contextSize, parallel: 1, threads: THREADS, gpu: false});
                try {
                    for (const mode of ["completion", "chat"] as const) {
                        const raw: Sample[] = [];
                        const flash: Sample[] = [];
                        const viaRunner: Sample[] = [];
                        // alternate the engines so a burst of load on the machine hits both alike
                        for (let i = 0; i < RUNS; i++) {
                            raw.push(await rawRun(model, contextSize, mode, tokens, false));
                            if (FLASH) flash.push(await rawRun(model, contextSize, mode, tokens, true));
                            viaRunner.push(await runnerRun(runner, mode, tokens));
                        }
                        const r = best(raw);
                        const f = FLASH ? best(flash) : null;
                        const v = best(viaRunner);
                        console.log("| " + [mode, String(contextSize), fmt(r.tps, 0), fmt(r.cpuPerToken),
                            ...(f ? [fmt(f.tps, 0), fmt(f.cpuPerToken)] : []), fmt(v.tps, 0), fmt(v.cpuPerToken), fmt(v.tps / r.tps)].join(" | ") + " |");
                    }
                } finally {
                    await runner.stop();
                }
            }
            await model.dispose();
        }
        if (FILL.length > 0) await fillTable(dir, llama);
    } finally {
        await llama.dispose();
        await fsp.rm(dir, {recursive: true, force: true});
    }
}

await main();
