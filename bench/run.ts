/**
 * `npm run bench`: the server against raw node-llama-cpp in this same process, on a tiny generated model and on
 * one of realistic shape (~0.4B parameters, q8_0). Prints ratios; asserts nothing. Both sides use the same thread
 * count (default 1), so the ratios compare like with like.
 */
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {BENCH_KEY, pct, startBenchServer} from "./server.js";
import type {ChatHistoryItem} from "node-llama-cpp";
import {formatUsageError, parseCliOrExit, UsageError} from "../src/cli/args.js";

const USAGE = `usage: npm run bench -- [options]
Compares the server with raw node-llama-cpp on generated models; prints the ratios, asserts nothing.
  --threads N      CPU threads for both (default: BENCH_THREADS, else 1)
  --out FILE       also write the results to FILE (default: BENCH_OUT, if set)
Then the shipped build's targets (bench/ship.ts, from dist/): memory, runner start, cold first token; with
LLAMA_SERVER=PATH also against llama.cpp's llama-server on the same file, threads and context.
Cases: \`npm run bench -- peer --help\` compares with llama-server case by case (bench/peer.ts);
\`npm run bench -- scheduling\` measures completions beside a chat and restored prompt states (bench/scheduling.ts);
\`npm run bench -- speculative\` measures prompt lookup and a draft model on vs off (bench/speculative.ts).`;

if (process.argv[2] === "scheduling") {
    await import("./scheduling.js");
    process.exit(0);
}

if (process.argv[2] === "speculative") {
    await import("./speculative.js");
    process.exit(0);
}

if (process.argv[2] === "peer") {
    await (await import("./peer.js")).runPeerBench(process.argv.slice(3));
    process.exit(0);
}

const {values: args} = parseCliOrExit({usage: USAGE, options: {threads: {type: "string"}, out: {type: "string"}}});

function threadCount(text: string, from: string): number {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) {
        process.stderr.write(formatUsageError(new UsageError(`${from}: expected a whole number of threads (1 or more), got ${JSON.stringify(text)}`, USAGE)));
        process.exit(2);
    }
    return n;
}

const KEY = BENCH_KEY;
const THREADS = args.threads != null ? threadCount(args.threads, "--threads") : threadCount(process.env.BENCH_THREADS ?? "1", "BENCH_THREADS");
const OUT_FILE = args.out ?? process.env.BENCH_OUT;
// The engine and the model generator load only after the arguments are known good, so --help answers at once.
const {getLlama, LlamaChat} = await import("node-llama-cpp");
const {writeTestModel} = await import("../src/gguf/test-model.js");


async function post<T>(url: string, body: unknown): Promise<T> {
    const res = await fetch(url, {method: "POST", headers: {"x-api-key": KEY, "content-type": "application/json"}, body: JSON.stringify(body)});
    if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
    return (await res.json()) as T;
}

/** Time to the first streamed chunk, in ms. */
async function ttft(url: string, model: string): Promise<number> {
    const t0 = performance.now();
    const res = await fetch(url + "/api/generate", {method: "POST", headers: {"x-api-key": KEY},
        body: JSON.stringify({model, prompt: "Tell me a story.", options: {temperature: 0, num_predict: 4}})});
    const reader = res.body!.getReader();
    for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        // the first line carrying text
        if (new TextDecoder().decode(value).includes("\"done\":false")) {
            const t = performance.now() - t0;
            await reader.cancel();
            return t;
        }
    }
    return performance.now() - t0;
}

interface Gen {
    eval_count: number;
    eval_duration: number;
    prompt_eval_count: number;
    prompt_eval_duration: number;
    total_duration: number;
    load_duration: number;
    message?: {content: string};
}

async function main() {
    const home = await fs.mkdtemp(path.join(os.tmpdir(), "zc-bench-"));
    const tinyPath = path.join(home, "models", "tiny", "tiny-q8_0.gguf");
    const realPath = path.join(home, "models", "realistic", "realistic-q8_0.gguf");
    await fs.mkdir(path.dirname(tinyPath), {recursive: true});
    await fs.mkdir(path.dirname(realPath), {recursive: true});
    await fs.mkdir(path.join(home, "config"), {recursive: true});
    await writeTestModel(tinyPath, {});
    await writeTestModel(realPath, {realisticShape: true});
    await fs.writeFile(path.join(home, "config", "provider_config.json"), JSON.stringify({
        threads: THREADS, parallel: 4, context_size: 4096, models: {realistic: {parallel: 1, context_size: 4096}}
    }));
    const port = 18700 + Math.floor(Math.random() * 200);
    const url = `http://127.0.0.1:${port}`;
    const lines: string[] = [];
    const out = (s: string) => {
        lines.push(s);
        process.stdout.write(s + "\n");
    };
    out(`# ZombieCoder Provider benchmark (${new Date().toISOString()}, ${os.cpus()[0]?.model ?? "cpu"}, ${os.availableParallelism()} CPUs, threads ${THREADS})`);

    const server = await startBenchServer(home, port);
    try {
        const status = await (await fetch(url + "/runtime/status", {headers: {"x-api-key": KEY}})).json() as {memory: {server_rss_bytes: number}};
        out(`server RSS with no model loaded: ${(status.memory.server_rss_bytes / 1024 / 1024).toFixed(0)} MB`);

        const llama = await getLlama({gpu: false, build: "never", maxThreads: THREADS});
        for (const [name, file, tokens] of [["tiny", tinyPath, 1500], ["realistic", realPath, 48]] as const) {
            // direct: node-llama-cpp in this process, greedy, the same prompt
            const model = await llama.loadModel({modelPath: file});
            const ctx = await model.createContext({contextSize: 4096, sequences: 1, threads: {ideal: THREADS, min: 1}});
            const chat = new LlamaChat({contextSequence: ctx.getSequence(), autoDisposeSequence: false});
            const history: ChatHistoryItem[] = [{type: "user", text: "Write about the sea."}];
            await chat.generateResponse(history, {maxTokens: 4, temperature: 0});
            let directTps = 0;
            for (let i = 0; i < 5; i++) {
                let first: number | undefined;
                let n = 0;
                await chat.generateResponse(history, {maxTokens: tokens, temperature: 0, onToken: (t) => {
                    first ??= performance.now();
                    n += t.length;
                }});
                directTps = Math.max(directTps, (n - 1) / ((performance.now() - first!) / 1000));
            }
            // server
            const cold = await ttft(url, name);
            const warm = await ttft(url, name);
            let serverTps = 0;
            for (let i = 0; i < 5; i++) {
                const r = await post<Gen>(url + "/api/chat", {model: name, stream: false, messages: [{role: "user", content: "Write about the sea."}], options: {temperature: 0, num_predict: tokens}});
                serverTps = Math.max(serverTps, (r.eval_count - 1) / (r.eval_duration / 1e9));
            }
            out(`\n## ${name} (${(model.size / 1024 / 1024).toFixed(1)} MB)`);
            out(`tokens/s: server ${serverTps.toFixed(1)} vs direct ${directTps.toFixed(1)} -> ratio ${(serverTps / directTps).toFixed(3)} (target >= 0.97)`);
            out(`time to first token: cold ${cold.toFixed(0)} ms (includes the load), warm ${warm.toFixed(1)} ms -> cold/warm ${(cold / warm).toFixed(1)}x`);

            if (name === "tiny") {
                // per-request overhead of HTTP + IPC: wall time minus what the engine reports for the same request
                const overheads: number[] = [];
                for (let i = 0; i < 200; i++) {
                    const t0 = performance.now();
                    const r = await post<Gen>(url + "/api/generate", {model: name, prompt: "hi", stream: false, options: {temperature: 0, num_predict: 1}});
                    const wall = performance.now() - t0;
                    overheads.push(wall - (r.prompt_eval_duration + r.eval_duration) / 1e6);
                }
                out(`HTTP+IPC overhead per request: p50 ${pct(overheads, 50).toFixed(2)} ms, p99 ${pct(overheads, 99).toFixed(2)} ms (target < 3 ms)`);
                // aggregate throughput with 1 and 4 concurrent streams (parallel 4)
                for (const streams of [1, 4]) {
                    const t0 = performance.now();
                    const results = await Promise.all(Array.from({length: streams}, (_, i) => post<Gen>(url + "/api/generate",
                        {model: name, prompt: `stream ${i}`, stream: false, options: {temperature: 0, num_predict: tokens}})));
                    const total = results.reduce((a, r) => a + r.eval_count, 0);
                    out(`aggregate tokens/s with ${streams} concurrent stream(s): ${(total / ((performance.now() - t0) / 1000)).toFixed(1)}`);
                }
            }
            if (name === "realistic") {
                // prefix reuse: a ~2,000-token conversation, then its second turn
                const longText = Array.from({length: 170}, (_, i) => `line ${i} of the file`).join("\n");
                const first = [{role: "user", content: `Review this file:\n${longText}`}];
                const a = await post<Gen>(url + "/api/chat", {model: name, stream: false, messages: first, options: {temperature: 0, num_predict: 8}});
                const second = [...first, {role: "assistant", content: a.message!.content}, {role: "user", content: "And the second half?"}];
                const b = await post<Gen>(url + "/api/chat", {model: name, stream: false, messages: second, options: {temperature: 0, num_predict: 8}});
                out(`prefix reuse: turn 1 evaluated ${a.prompt_eval_count} tokens in ${(a.prompt_eval_duration / 1e6).toFixed(0)} ms; ` +
                    `turn 2 evaluated ${b.prompt_eval_count} in ${(b.prompt_eval_duration / 1e6).toFixed(0)} ms -> ${(a.prompt_eval_duration / Math.max(1, b.prompt_eval_duration)).toFixed(1)}x faster`);
            }
            await post(url + `/runtime/unload/${name}`, {});
            await model.dispose();
        }
        await llama.dispose();
    } finally {
        server.kill("SIGTERM");
        await new Promise((r) => server.once("exit", r));
        await fs.rm(home, {recursive: true, force: true});
    }
    // after the server above has stopped, so its memory does not count against the shipped build's
    const {shipBench} = await import("./ship.js");
    await shipBench({threads: THREADS, llamaServer: process.env.LLAMA_SERVER || undefined, out});
    if (OUT_FILE) await fs.writeFile(OUT_FILE, lines.join("\n") + "\n");
}

await main();
