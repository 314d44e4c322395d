/**
 * `npm run bench -- peer`: this server against llama.cpp's llama-server on the same model file, threads, context and
 * sampling (greedy, fixed seed), case by case, the engines taking turns within each run so that a drift in the
 * machine's load spreads over both. Builds nothing: llama-server comes from LLAMA_SERVER or --llama-server. Prints
 * medians, min/max and the ratio server / llama-server; asserts nothing.
 *
 * Each run starts each engine afresh (that start is the cold-start case), reads its process tree's memory with the
 * model loaded, runs the warm cases on it and stops it before the other engine starts, so the two never compete
 * for the CPU.
 */
import {execFileSync, spawn, type ChildProcess} from "node:child_process";
import fs from "node:fs";
import fsp from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import {parseCli, UsageError, formatUsageError} from "../src/cli/args.js";
import {stop, treeRssBytes, waitFor} from "./ship.js";

const ROOT = path.resolve(import.meta.dirname, "..");
const KEY = "bench-peer-key";
const MIB = 1024 * 1024;
/** Our per-sequence context; llama-server divides `-c` among its `-np` sequences, so it gets this times PARALLEL. */
export const CONTEXT = 4096;
export const PARALLEL = 4;
const GEN_TOKENS = 128;
const SEED = 42;
const REQUEST_TIMEOUT_MS = 600_000;

export const PEER_USAGE = `usage: npm run bench -- peer [options]
Compares this server with llama.cpp's llama-server on the same model file, threads, context and sampling.
  --llama-server PATH  llama-server binary (default: LLAMA_SERVER; without either only this server runs)
  --model FILE         GGUF to load in both (default: a generated Qwen2.5-0.5B-shaped q8_0 model with FIM tokens)
  --threads N          CPU threads for both (default: BENCH_THREADS, else the number of CPUs)
  --runs N             runs per case, engines alternating (default: 5)
  --out FILE           also write the results to FILE (default: BENCH_OUT, if set)`;

const PEER_OPTIONS = {
    "llama-server": {type: "string"},
    model: {type: "string"},
    threads: {type: "string"},
    runs: {type: "string"},
    out: {type: "string"}
} as const;

export interface PeerOptions {
    llamaServer?: string;
    model?: string;
    threads: number;
    runs: number;
    out?: string;
}

function wholeNumber(text: string, from: string, what: string): number {
    const n = Number(text);
    if (!/^\d+$/.test(text.trim()) || !Number.isInteger(n) || n < 1)
        throw new UsageError(`${from}: expected a whole number of ${what} (1 or more), got ${JSON.stringify(text)}`, PEER_USAGE);
    return n;
}

/** The arguments after `peer`; null when `--help` was asked for. Throws UsageError for anything malformed. */
export function parsePeerArgs(argv: string[], env: NodeJS.ProcessEnv, cpus: number): PeerOptions | null {
    const parsed = parseCli({usage: PEER_USAGE, options: PEER_OPTIONS}, argv);
    if (parsed.help) return null;
    const v = parsed.values;
    const threads = v.threads != null ? wholeNumber(v.threads, "--threads", "threads")
        : env.BENCH_THREADS ? wholeNumber(env.BENCH_THREADS, "BENCH_THREADS", "threads") : cpus;
    const llamaServer = v["llama-server"] ?? (env.LLAMA_SERVER || undefined);
    const out = v.out ?? (env.BENCH_OUT || undefined);
    return {
        threads,
        runs: v.runs != null ? wholeNumber(v.runs, "--runs", "runs") : 5,
        ...(llamaServer ? {llamaServer} : {}),
        ...(v.model ? {model: v.model} : {}),
        ...(out ? {out} : {})
    };
}

export interface Stats {
    median: number;
    min: number;
    max: number;
    n: number;
}

/** Median (the mean of the middle two for an even count), min and max; null for no values. */
export function summarize(values: readonly number[]): Stats | null {
    const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
    if (s.length === 0) return null;
    const mid = Math.floor(s.length / 2);
    const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
    return {median, min: s[0]!, max: s[s.length - 1]!, n: s.length};
}

export type Unit = "tokens/s" | "ms" | "MiB";

export interface Row {
    label: string;
    unit: Unit;
    server: Stats | null;
    peer: Stats | null;
}

function num(v: number, unit: Unit): string {
    const digits = unit === "tokens/s" ? 1 : 0;
    return v.toLocaleString("en-US", {minimumFractionDigits: digits, maximumFractionDigits: digits});
}

function cell(s: Stats | null, unit: Unit): string {
    if (!s) return "—";
    return `${num(s.median, unit)} ${unit} (${num(s.min, unit)}–${num(s.max, unit)})`;
}

/** A Markdown table: the medians with min–max of each engine and the ratio of the medians, server / llama-server. */
export function formatTable(rows: readonly Row[], peerSkipped: boolean): string {
    const lines = [
        "| case | this server: median (min–max) | llama-server: median (min–max) | server / llama-server |",
        "|---|---|---|---|"
    ];
    for (const r of rows) {
        const ratio = r.server && r.peer && r.peer.median !== 0 ? (r.server.median / r.peer.median).toFixed(2) : "—";
        lines.push(`| ${r.label} | ${cell(r.server, r.unit)} | ${peerSkipped ? "skipped" : cell(r.peer, r.unit)} | ${ratio} |`);
    }
    return lines.join("\n");
}

// ---- processes -------------------------------------------------------------------------------------------------

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const addr = srv.address();
            srv.close(() => resolve(typeof addr === "object" && addr ? addr.port : 0));
        });
    });
}

/** RSS of a process and its descendants: /proc on Linux, `ps` elsewhere; null when neither answers. */
async function treeRss(pid: number): Promise<number | null> {
    const fromProc = treeRssBytes(pid);
    if (fromProc != null) return fromProc;
    try {
        const table = execFileSync("ps", ["-A", "-o", "pid=,ppid=,rss="], {encoding: "utf8"});
        const rows = table.trim().split("\n").map((l) => l.trim().split(/\s+/).map(Number));
        let total = 0;
        const todo = [pid];
        while (todo.length > 0) {
            const p = todo.pop()!;
            for (const [id, ppid, rssKb] of rows) {
                if (id === p) total += (rssKb ?? 0) * 1024;
                if (ppid === p && id != null) todo.push(id);
            }
        }
        return total;
    } catch {
        return null;
    }
}

// ---- engines ---------------------------------------------------------------------------------------------------

interface Engine {
    name: "server" | "llama-server";
    /** How the engine is started, for the output. */
    how: string;
    /** Spawns the engine; resolves once it answers its health check. */
    start(): Promise<{child: ChildProcess; url: string}>;
    /** The body fields that name the model and fix the sampling, added to every request. */
    common: Record<string, unknown>;
    /** Prompt tokens and their evaluation time in ms for a raw, uncached prompt, as the engine reports them. */
    promptEval(url: string, prompt: string): Promise<{tokens: number; ms: number}>;
}

const HEADERS = {"content-type": "application/json", "x-api-key": KEY, authorization: `Bearer ${KEY}`};

async function postJson<T>(url: string, body: unknown): Promise<T> {
    const res = await fetch(url, {method: "POST", headers: HEADERS, body: JSON.stringify(body), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS)});
    if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
}

function ourEngine(home: string, modelName: string, threads: number): Engine {
    const built = path.join(ROOT, "dist", "cli", "start.js");
    const args = fs.existsSync(built) ? [built] : ["--import", "tsx", path.join(ROOT, "src", "cli", "start.ts")];
    return {
        name: "server",
        how: fs.existsSync(built) ? "node dist/cli/start.js (the build, as a service starts it)" : "node --import tsx src/cli/start.ts (no build in dist/)",
        common: {model: modelName, temperature: 0, seed: SEED},
        async start() {
            const port = await freePort();
            await fsp.writeFile(path.join(home, "config", "provider_config.json"), JSON.stringify({
                server_port: port, threads, parallel: PARALLEL, context_size: CONTEXT, log_level: "warn"
            }));
            const env: NodeJS.ProcessEnv = {...process.env, ZOMBIECODER_API_KEY: KEY};
            for (const k of ["ZOMBIECODER_HOME", "ZOMBIECODER_CONFIG", "ZOMBIECODER_PORT", "ZOMBIECODER_HOST"]) delete env[k];
            const child = spawn(process.execPath, [...args, "--home", home], {cwd: home, env, stdio: ["ignore", "ignore", "inherit"]});
            const url = `http://127.0.0.1:${port}`;
            await waitFor(`${url}/health`, child, 120_000);
            return {child, url};
        },
        async promptEval(url, prompt) {
            const r = await postJson<{prompt_eval_count: number; prompt_eval_duration: number}>(`${url}/api/generate`,
                {model: modelName, prompt, raw: true, stream: false, options: {temperature: 0, seed: SEED, num_predict: 1}});
            return {tokens: r.prompt_eval_count, ms: r.prompt_eval_duration / 1e6};
        }
    };
}

function llamaServerEngine(binary: string, model: string, threads: number): Engine {
    return {
        name: "llama-server",
        how: binary,
        common: {temperature: 0, seed: SEED},
        async start() {
            const port = await freePort();
            const child = spawn(binary, ["-m", model, "-t", String(threads), "-c", String(CONTEXT * PARALLEL), "-np", String(PARALLEL),
                "--seed", String(SEED), "--host", "127.0.0.1", "--port", String(port)], {stdio: "ignore"});
            const url = `http://127.0.0.1:${port}`;
            await waitFor(`${url}/health`, child, 120_000);
            return {child, url};
        },
        async promptEval(url, prompt) {
            const r = await postJson<{timings?: {prompt_n?: number; prompt_ms?: number}}>(`${url}/completion`,
                {prompt, n_predict: 1, temperature: 0, seed: SEED, cache_prompt: false});
            return {tokens: r.timings?.prompt_n ?? 0, ms: r.timings?.prompt_ms ?? Number.NaN};
        }
    };
}

// ---- measurements ----------------------------------------------------------------------------------------------

interface StreamResult {
    /** ms from the request to its first piece of text */
    ttftMs: number;
    tokens: number;
    /** tokens/s from the first piece of text to the end, which leaves the prompt's evaluation out */
    tps: number;
    endMs: number;
}

type Message = {role: "user" | "assistant"; content: string};

/**
 * One streamed /v1/chat/completions. The token count is the engine's own usage figure when it sends one, else the
 * number of pieces of text (one per token on both engines for a model slower than a few ms per token).
 */
async function chatStream(url: string, engine: Engine, messages: Message[], maxTokens: number, t0 = performance.now()): Promise<StreamResult & {content: string}> {
    const res = await fetch(`${url}/v1/chat/completions`, {method: "POST", headers: HEADERS, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        body: JSON.stringify({...engine.common, messages, max_tokens: maxTokens, stream: true, stream_options: {include_usage: true}})});
    if (!res.ok || !res.body) throw new Error(`${engine.name} /v1/chat/completions: ${res.status} ${await res.text()}`);
    const decoder = new TextDecoder();
    let buffered = "";
    let first: number | undefined;
    let last = 0;
    let pieces = 0;
    let usageTokens: number | undefined;
    let content = "";
    for await (const chunk of res.body) {
        buffered += decoder.decode(chunk, {stream: true});
        let nl: number;
        while ((nl = buffered.indexOf("\n")) >= 0) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (!line.startsWith("data:")) continue;
            const data = line.slice(5).trim();
            if (data === "[DONE]") continue;
            const event = JSON.parse(data) as {choices?: Array<{delta?: {content?: string | null}}>; usage?: {completion_tokens?: number} | null};
            const text = event.choices?.[0]?.delta?.content;
            if (text) {
                const now = performance.now();
                first ??= now;
                last = now;
                pieces++;
                content += text;
            }
            if (event.usage?.completion_tokens != null) usageTokens = event.usage.completion_tokens;
        }
    }
    const end = performance.now();
    const tokens = usageTokens ?? pieces;
    const firstAt = first ?? end;
    return {ttftMs: firstAt - t0, tokens, tps: tokens > 1 && last > firstAt ? (tokens - 1) / ((last - firstAt) / 1000) : Number.NaN, endMs: end - t0, content};
}

/** Text of roughly `tokens` tokens for a byte-level BPE vocabulary; the measured count is what gets printed. */
function filler(tokens: number, tag: string): string {
    const lines = [`// ${tag}`];
    for (let i = 0; lines.join("\n").length < tokens * 3.6; i++) lines.push(`const value${i} = compute(${i}, "item ${i}") + offset;`);
    return lines.join("\n");
}

const CASES = {
    generation: `generation, ${GEN_TOKENS} tokens`,
    parallel: `${PARALLEL} concurrent streams × ${GEN_TOKENS} tokens, aggregate`,
    beside: "a chat's tokens/s while a FIM request runs beside it",
    fim: "FIM request beside a chat (/infill), wall time",
    ttft: "warm TTFT, short streaming /v1/chat/completions",
    cold: "cold start: process start to first token",
    memory: "memory with the model loaded (process tree RSS)",
    prompt: "prompt processing, ~970 fresh tokens",
    second: "second turn of a ~1,500-token chat, TTFT"
} as const;
type CaseName = keyof typeof CASES;
const UNITS: Record<CaseName, Unit> = {generation: "tokens/s", parallel: "tokens/s", beside: "tokens/s", fim: "ms", ttft: "ms", cold: "ms", memory: "MiB", prompt: "tokens/s", second: "ms"};

type Samples = Record<CaseName, number[]>;
const emptySamples = (): Samples => Object.fromEntries(Object.keys(CASES).map((k) => [k, []])) as unknown as Samples;

/** One run on one engine: start it (cold), read its memory, then the warm cases; stops it before returning. */
async function oneRun(engine: Engine, run: number, into: Samples, notes: Set<string>): Promise<void> {
    const t0 = performance.now();
    const {child, url} = await engine.start();
    try {
        const hello: Message[] = [{role: "user", content: "Say hello."}];
        const cold = await chatStream(url, engine, hello, 4, t0);
        into.cold.push(cold.ttftMs);
        const rss = await treeRss(child.pid!);
        if (rss != null) into.memory.push(rss / MIB);
        else notes.add("memory: neither /proc nor ps answered on this OS");

        into.ttft.push((await chatStream(url, engine, hello, 4)).ttftMs);

        const sea: Message[] = [{role: "user", content: `Write about the sea. (run ${run})`}];
        const gen = await chatStream(url, engine, sea, GEN_TOKENS);
        into.generation.push(gen.tps);
        if (gen.tokens < GEN_TOKENS) notes.add(`${engine.name}: a generation stopped at ${gen.tokens} of ${GEN_TOKENS} tokens (end of text)`);

        const started = performance.now();
        const streams = await Promise.all(Array.from({length: PARALLEL}, (_, i) =>
            chatStream(url, engine, [{role: "user", content: `Write about river ${i}. (run ${run})`}], GEN_TOKENS, started)));
        into.parallel.push(streams.reduce((a, s) => a + s.tokens, 0) / (Math.max(...streams.map((s) => s.endMs)) / 1000));

        const fimStart = performance.now();
        const [chat, fimMs] = await Promise.all([
            chatStream(url, engine, [{role: "user", content: `Explain tides. (run ${run})`}], GEN_TOKENS),
            postJson(`${url}/infill`, {...engine.common, input_prefix: `function add${run}(a, b) {\n    return `, input_suffix: "\n}\n", n_predict: GEN_TOKENS})
                .then(() => performance.now() - fimStart)
        ]);
        into.beside.push(chat.tps);
        into.fim.push(fimMs);

        const pe = await engine.promptEval(url, filler(970, `fresh prompt ${run} ${Math.random()}`));
        into.prompt.push(pe.tokens / (pe.ms / 1000));
        notes.add(`${engine.name}: the fresh prompt was ${pe.tokens} tokens`);

        const first: Message[] = [{role: "user", content: `Review this file:\n${filler(1500, `conversation ${run} ${Math.random()}`)}`}];
        const reply = await chatStream(url, engine, first, 8);
        const second = await chatStream(url, engine, [...first, {role: "assistant", content: reply.content}, {role: "user", content: "And the second half?"}], 8);
        into.second.push(second.ttftMs);
    } finally {
        await stop(child);
    }
}

export async function runPeerBench(argv: string[]): Promise<void> {
    let opts: PeerOptions | null;
    try {
        opts = parsePeerArgs(argv, process.env, os.availableParallelism());
        if (opts?.llamaServer && !fs.existsSync(opts.llamaServer)) throw new UsageError(`llama-server: no such file ${opts.llamaServer}`, PEER_USAGE);
        if (opts?.model && !fs.existsSync(opts.model)) throw new UsageError(`--model: no such file ${opts.model}`, PEER_USAGE);
    } catch (err) {
        if (err instanceof UsageError) {
            process.stderr.write(formatUsageError(err));
            process.exit(2);
        }
        throw err;
    }
    if (!opts) {
        process.stdout.write(`${PEER_USAGE}\n`);
        return;
    }

    const lines: string[] = [];
    const out = (s: string) => {
        lines.push(s);
        process.stdout.write(`${s}\n`);
    };
    const home = await fsp.mkdtemp(path.join(os.tmpdir(), "zc-bench-peer-"));
    try {
        const modelDir = path.join(home, "models", "peer");
        await fsp.mkdir(modelDir, {recursive: true});
        await fsp.mkdir(path.join(home, "config"), {recursive: true});
        let modelFile: string;
        if (opts.model) {
            modelFile = path.resolve(opts.model);
            await fsp.symlink(modelFile, path.join(modelDir, path.basename(modelFile)));
        } else {
            const {writeTestModel} = await import("../src/gguf/test-model.js");
            modelFile = path.join(modelDir, "peer-q8_0.gguf");
            await writeTestModel(modelFile, {preset: "realistic", fim: true});
        }
        const engines: Engine[] = [ourEngine(home, "peer", opts.threads)];
        if (opts.llamaServer) engines.push(llamaServerEngine(opts.llamaServer, modelFile, opts.threads));

        out(`# this server vs llama-server (${new Date().toISOString()})`);
        out(`machine: ${os.cpus()[0]?.model ?? "cpu"}, ${os.availableParallelism()} CPUs; load average at the start ${os.loadavg().map((l) => l.toFixed(1)).join(" / ")}`);
        out(`model: ${opts.model ? modelFile : "generated, Qwen2.5-0.5B shape, q8_0"}; threads ${opts.threads}; greedy (temperature 0), seed ${SEED}; ${opts.runs} run(s), engines alternating`);
        out(`context: this server parallel ${PARALLEL} × context_size ${CONTEXT} per sequence; llama-server -np ${PARALLEL} -c ${CONTEXT * PARALLEL}, ` +
            `since llama-server divides -c among its sequences, so each gets ${CONTEXT} as here`);

        for (const e of engines) out(`${e.name}: ${e.how}`);
        const samples = new Map<Engine["name"], Samples>(engines.map((e) => [e.name, emptySamples()]));
        const notes = new Set<string>();
        for (let run = 1; run <= opts.runs; run++) {
            for (const engine of engines) {
                process.stderr.write(`run ${run}/${opts.runs}: ${engine.name}\n`);
                await oneRun(engine, run, samples.get(engine.name)!, notes);
            }
        }
        const rows: Row[] = (Object.keys(CASES) as CaseName[]).map((c) => ({
            label: CASES[c], unit: UNITS[c],
            server: summarize(samples.get("server")![c]),
            peer: opts.llamaServer ? summarize(samples.get("llama-server")![c]) : null
        }));
        out("");
        out(formatTable(rows, !opts.llamaServer));
        out("");
        out("The ratio is this server's median over llama-server's: above 1 is ahead for tokens/s, behind for ms and MiB.");
        if (!opts.llamaServer) out("llama-server column skipped: set LLAMA_SERVER=/path/to/llama-server (or --llama-server) to compare.");
        for (const n of notes) out(`note: ${n}`);
        out(`load average at the end ${os.loadavg().map((l) => l.toFixed(1)).join(" / ")}`);
        if (opts.out) await fsp.writeFile(opts.out, `${lines.join("\n")}\n`);
    } finally {
        await fsp.rm(home, {recursive: true, force: true});
    }
}

if (import.meta.url === `file://${process.argv[1]}`) await runPeerBench(process.argv.slice(2));
