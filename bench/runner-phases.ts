/**
 * Where a runner's start goes, phase by phase, each run in a fresh Node process as a runner is: importing
 * node-llama-cpp, getLlama (with node-llama-cpp's binary test, and answered from the pass cache of
 * src/runner/binary-test-cache.ts), loadModel and createContext on the tiny test model. Prints medians; asserts
 * nothing. `npx tsx bench/runner-phases.ts [runs]` (the phases run under tsx here; the shipped runner runs them from
 * dist/, where the import is ~150 ms faster). BENCH_GPU=auto asks getLlama for gpu "auto", as the default config does.
 */
import {execFileSync} from "node:child_process";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";

type Phases = {import: number; getLlama: number; loadModel: number; createContext: number};

if (process.argv[2] === "--child") {
    const [, , , modelPath, cacheFile] = process.argv;
    const {BinaryTestCache} = await import("../src/runner/binary-test-cache.js");
    const {withBinaryTestCache} = await import("../src/runner/binary-test-fork.js");
    const t0 = performance.now();
    const {getLlama, LlamaLogLevel} = await import("node-llama-cpp");
    const t1 = performance.now();
    const llama = await withBinaryTestCache(cacheFile ? new BinaryTestCache(cacheFile) : null,
        () => getLlama({build: "never", gpu: process.env.BENCH_GPU === "auto" ? "auto" : false, maxThreads: 2, logLevel: LlamaLogLevel.error}));
    const t2 = performance.now();
    const model = await llama.loadModel({modelPath: modelPath!});
    const t3 = performance.now();
    await model.createContext({contextSize: 4096, sequences: 1, threads: {ideal: 2, min: 1}, flashAttention: false});
    const t4 = performance.now();
    const phases: Phases = {import: t1 - t0, getLlama: t2 - t1, loadModel: t3 - t2, createContext: t4 - t3};
    process.stdout.write(JSON.stringify(phases));
    process.exit(0);
}

const runs = Number(process.argv[2] ?? "5");
const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "zc-bench-phases-"));
try {
    const {writeTestModel} = await import("../src/gguf/test-model.js");
    const modelPath = path.join(dir, "tiny.gguf");
    await writeTestModel(modelPath, {});
    const cacheFile = path.join(dir, "binary-tests.json");
    const child = (cache: boolean): Phases => JSON.parse(execFileSync(process.execPath,
        [...process.execArgv, import.meta.filename, "--child", modelPath, cache ? cacheFile : ""], {encoding: "utf8"})) as Phases;
    child(true); // fills the cache
    const tested: Phases[] = [];
    const cached: Phases[] = [];
    for (let i = 0; i < runs; i++) {
        tested.push(child(false));
        cached.push(child(true));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const row = (name: string, ps: Phases[]) => {
        const keys = ["import", "getLlama", "loadModel", "createContext"] as const;
        const cells = keys.map((k) => `${k} ${median(ps.map((p) => p[k])).toFixed(0)} ms`);
        return `${name}: ${cells.join(", ")}`;
    };
    process.stdout.write(`runner phases, tiny model, median of ${runs} (load average ${os.loadavg()[0]!.toFixed(2)})\n`);
    process.stdout.write(`${row("binary test run", tested)}\n${row("binary test cached", cached)}\n`);
} finally {
    await fsp.rm(dir, {recursive: true, force: true});
}
