/**
 * node-llama-cpp's prebuilt linux-x64 binary ships one ggml CPU backend per instruction-set level
 * (libggml-cpu-x64.so, -sse42, -sandybridge, -haswell (AVX2), -skylakex/-icelake (AVX-512), -zen4, …) and loads the
 * best one this CPU supports. Nothing in getLlama chooses another, but the backend is picked from the folder of the
 * binary: a copy of the package holding a single variant forces it. This test runs scripted models under forced
 * variants in child processes and requires the very text the default variant writes, i.e. what another machine's
 * CPU would run.
 */
import {execFile} from "node:child_process";
import fs from "node:fs/promises";
import {existsSync, readdirSync} from "node:fs";
import os from "node:os";
import path from "node:path";
import {promisify} from "node:util";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {writeTestModel, type TestModelInfo} from "../../src/gguf/test-model.js";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const MODULES = path.join(ROOT, "node_modules");
const PREBUILT = path.join(MODULES, "@node-llama-cpp", "linux-x64");
const BINS = path.join(PREBUILT, "bins", "linux-x64");
const VARIANT_FILE = /^libggml-cpu-(.+)\.so$/;

function variantsShipped(): string[] {
    if (process.platform !== "linux" || process.arch !== "x64" || !existsSync(BINS))
        return [];
    return readdirSync(BINS).map((f) => VARIANT_FILE.exec(f)?.[1]).filter((v): v is string => v != null);
}

/** Hard links where the file system allows them (the copy is then free), plain copies elsewhere. */
async function linkTree(from: string, to: string, keep: (name: string) => boolean = () => true): Promise<void> {
    await fs.mkdir(to, {recursive: true});
    for (const entry of await fs.readdir(from, {withFileTypes: true})) {
        if (!keep(entry.name))
            continue;
        const src = path.join(from, entry.name);
        const dst = path.join(to, entry.name);
        if (entry.isDirectory())
            await linkTree(src, dst, keep);
        else if (entry.isSymbolicLink())
            await fs.symlink(await fs.readlink(src), dst);
        else
            await fs.link(src, dst).catch(() => fs.copyFile(src, dst));
    }
}

/**
 * A node_modules beside a child script: every package links to this project's, except node-llama-cpp and its
 * prebuilt binary, which are real copies (module resolution follows real paths, so the copied node-llama-cpp finds
 * the copied binary) holding only the CPU variant `variant` (all of them when it is undefined).
 */
async function overlay(parent: string, variant: string | undefined): Promise<string> {
    const root = await fs.mkdtemp(path.join(parent, `${variant ?? "default"}-`));
    const modules = path.join(root, "node_modules");
    await fs.mkdir(path.join(modules, "@node-llama-cpp"), {recursive: true});
    for (const entry of await fs.readdir(MODULES))
        if (entry !== "node-llama-cpp" && entry !== "@node-llama-cpp")
            await fs.symlink(path.join(MODULES, entry), path.join(modules, entry));
    await linkTree(path.join(MODULES, "node-llama-cpp"), path.join(modules, "node-llama-cpp"));
    await linkTree(PREBUILT, path.join(modules, "@node-llama-cpp", "linux-x64"), (name) => {
        const v = VARIANT_FILE.exec(name)?.[1];
        return v == null || variant == null || v === variant;
    });
    await fs.writeFile(path.join(root, "run.mjs"), CHILD);
    return root;
}

/** Runs each model greedily under each thread count; prints the CPU backend it loaded and the texts. */
const CHILD = `
import {writeFileSync} from "node:fs";
import {getLlama, LlamaChat, LlamaCompletion, LlamaLogLevel} from "node-llama-cpp";
const {models, threads, output} = JSON.parse(process.argv[2]);
const out = {backend: null, runs: []};
// ggml names the backend file it loads at the "log" level
const llama = await getLlama({gpu: false, build: "never", maxThreads: Math.max(...threads), logLevel: LlamaLogLevel.log,
    logger: (level, message) => { const m = /loaded CPU backend from .*libggml-cpu-(.+)\\.so/.exec(message); if (m) out.backend = m[1]; }});
for (const m of models) {
    const model = await llama.loadModel({modelPath: m.path, gpuLayers: 0});
    for (const t of threads) {
        const context = await model.createContext({contextSize: 1024, threads: t});
        const sequence = context.getSequence();
        const text = m.completion
            ? await new LlamaCompletion({contextSequence: sequence}).generateCompletion("go", {maxTokens: m.maxTokens, temperature: 0})
            : (await new LlamaChat({contextSequence: sequence}).generateResponse([{type: "user", text: "Hello, who are you?"}], {maxTokens: m.maxTokens, temperature: 0})).response;
        out.runs.push({model: m.path, threads: t, text});
        await context.dispose();
    }
    await model.dispose();
}
await llama.dispose();
// llama.cpp writes some of its log to stdout itself, so the result goes to a file
writeFileSync(output, JSON.stringify(out));
`;

interface ChildResult {
    backend: string | null;
    runs: Array<{model: string; threads: number; text: string}>;
}

const shipped = variantsShipped();
const ENDLESS_TOKENS = 40;

describe.skipIf(shipped.length < 2)("scripted models under other CPU variants of node-llama-cpp's prebuilt binary", () => {
    let dir: string;
    let models: Array<{path: string; maxTokens: number; completion: boolean; expected: string}>;

    beforeAll(async () => {
        dir = await fs.mkdtemp(path.join(os.tmpdir(), "zc-cpu-variants-"));
        const answer = "Hello! Every CPU writes this, word for word: the same words, the same end.";
        const cycle = "Round and round it goes, never done; ";
        const write = (name: string, options: Parameters<typeof writeTestModel>[1]): Promise<TestModelInfo> => writeTestModel(path.join(dir, name), options);
        const f32 = await write("answer-f32.gguf", {quantization: "f32", script: answer});
        const q8 = await write("answer-q8_0.gguf", {quantization: "q8_0", script: answer});
        const endless = await write("endless-q8_0.gguf", {quantization: "q8_0", script: {text: cycle, then: "repeat"}});
        const pieces = endless.script!.turns[0]!.pieces;
        expect(ENDLESS_TOKENS).toBeGreaterThan(3 * pieces.length);
        models = [
            {path: f32.path, maxTokens: 100, completion: false, expected: answer},
            {path: q8.path, maxTokens: 100, completion: false, expected: answer},
            // a few cycles prove the repeat; each token at 2 threads costs a thread barrier, slow on a busy machine
            {path: endless.path, maxTokens: ENDLESS_TOKENS, completion: true, expected: Array.from({length: ENDLESS_TOKENS}, (_, i) => pieces[i % pieces.length]).join("")}
        ];
    });

    afterAll(async () => {
        await fs.rm(dir, {recursive: true, force: true});
    });

    async function runUnder(variant: string | undefined): Promise<ChildResult> {
        const root = await overlay(dir, variant);
        const output = path.join(root, "result.json");
        await promisify(execFile)(process.execPath, [path.join(root, "run.mjs"), JSON.stringify({models, threads: [1, 2], output})],
            {cwd: root, maxBuffer: 64 * 1024 * 1024, timeout: 240_000});
        return JSON.parse(await fs.readFile(output, "utf8")) as ChildResult;
    }

    function expectScripted(result: ChildResult): void {
        expect(result.runs).toHaveLength(models.length * 2);
        for (const run of result.runs)
            expect(run.text, `${path.basename(run.model)}, ${run.threads} threads, ${result.backend}`).toBe(models.find((m) => m.path === run.model)!.expected);
    }

    it("the default variant, the baseline x86-64 one and AVX2 (haswell) write the same scripted text", async () => {
        const best = await runUnder(undefined);
        expect(best.backend).not.toBeNull();
        expectScripted(best);
        // x64 needs nothing beyond x86-64; haswell needs AVX2, so it only runs where this CPU has it (or is the default)
        const forced = ["x64", "haswell"].filter((v) => shipped.includes(v) && v !== best.backend);
        expect(forced.length).toBeGreaterThan(0);
        for (const variant of forced) {
            if (variant === "haswell" && !(await cpuHas("avx2")))
                continue;
            const result = await runUnder(variant);
            expect(result.backend).toBe(variant);
            expectScripted(result);
        }
    }, 600_000);
});

async function cpuHas(flag: string): Promise<boolean> {
    const info = await fs.readFile("/proc/cpuinfo", "utf8").catch(() => "");
    return new RegExp(`^flags\\s*:.*\\b${flag}\\b`, "m").test(info);
}
