/**
 * How many tokens each decode carries when several sequences of one context generate at once, under
 * node-llama-cpp's default batch dispatch ("nextCycle") and under the runner's (src/runner/batch-schedule.ts).
 * Raw node-llama-cpp, one process, the tiny or realistic-shape test model; prints tokens per decode and aggregate
 * tokens/s for each; asserts nothing. `npx tsx bench/batching.ts [streams] [tokens] [preset]`.
 */
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {getLlama, LlamaCompletion, LlamaLogLevel, type BatchingOptions} from "node-llama-cpp";
import {writeTestModel} from "../src/gguf/test-model.js";
import {BatchGatherer} from "../src/runner/batch-schedule.js";

const streams = Number(process.argv[2] ?? "4");
const tokens = Number(process.argv[3] ?? "64");
const preset = process.argv[4] === "tiny" ? undefined : "realistic";
const threads = Number(process.env.BENCH_THREADS ?? "2");
const dir = path.join(os.tmpdir(), "zc-bench-batching");
await fsp.mkdir(dir, {recursive: true});
const modelPath = path.join(dir, `${preset ?? "tiny"}.gguf`);
if (!(await fsp.stat(modelPath).catch(() => null))) await writeTestModel(modelPath, preset ? {preset} : {});
const llama = await getLlama({build: "never", gpu: false, maxThreads: threads, logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath});

async function run(name: string, gather: boolean): Promise<string> {
    const gatherer = new BatchGatherer();
    const batching: BatchingOptions | undefined = gather ? {itemPrioritizationStrategy: gatherer.strategy} : undefined;
    const context = await model.createContext({contextSize: 1024 * streams, sequences: streams, threads: {ideal: threads, min: 1},
        flashAttention: false, batching});
    // counts decodes through a proxy of the context's native handle (measurement only)
    const holder = context as unknown as {_ctx: {initBatch(n: number): void}};
    const sizes: number[] = [];
    let decodeMs = 0;
    const native = holder._ctx;
    holder._ctx = new Proxy(native, {
        get(target, prop) {
            if (prop === "initBatch") return (n: number) => {
                sizes.push(n);
                target.initBatch(n);
            };
            if (prop === "decodeBatch") return async () => {
                const t = performance.now();
                await (target as unknown as {decodeBatch(): Promise<void>}).decodeBatch();
                decodeMs += performance.now() - t;
            };
            const v = Reflect.get(target, prop) as unknown;
            return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        }
    });
    const seqs = Array.from({length: streams}, () => new LlamaCompletion({contextSequence: context.getSequence()}));
    const t0 = performance.now();
    let generated = 0;
    await Promise.all(seqs.map(async (c, i) => {
        gatherer.begin();
        try {
            await c.generateCompletion(`Story number ${i} begins here:`, {maxTokens: tokens, temperature: 0, onToken: (t) => void (generated += t.length)});
        } finally {
            gatherer.end();
        }
    }));
    const s = (performance.now() - t0) / 1000;
    const gen = sizes.filter((n) => n <= streams);
    if (process.env.BENCH_SIZES) process.stdout.write(`${gen.slice(0, 60).join(" ")}\n`);
    await context.dispose();
    return `${name}: ${(generated / s).toFixed(1)} tokens/s aggregate, ${gen.length} generation decodes, ${(gen.reduce((a, b) => a + b, 0) / Math.max(1, gen.length)).toFixed(2)} tokens per decode, ${(decodeMs / sizes.length).toFixed(1)} ms per decode, ${(100 * decodeMs / (s * 1000)).toFixed(0)} % of the wall in decodes`;
}

process.stdout.write(`${streams} streams x ${tokens} tokens, ${preset ?? "tiny"} model, ${threads} threads, load average ${os.loadavg()[0]!.toFixed(2)}\n`);
// the first context in a process pays for faulting the weights in: not a batching cost
await run("warm-up", false);
for (let i = 0; i < 2; i++) {
    process.stdout.write(`${await run("nextCycle (node-llama-cpp default)", false)}\n`);
    process.stdout.write(`${await run("gathering (runner)", true)}\n`);
}
await llama.dispose();
