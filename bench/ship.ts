/**
 * The shipped build's targets, as `npm run bench` prints them after the engine comparison (and alone with
 * `tsx bench/ship.ts`). The provider is started as a service starts it, `node dist/cli/start.js`, so this measures
 * the build, not the source under tsx. Prints ratios against the targets; asserts nothing.
 *
 * - memory: the provider's whole process tree with no model loaded (target ≤ 80 MB RSS);
 * - runner start: fork to ready for the tiny test model, as the manager measures it (target ≤ 400 ms);
 * - cold first token of the realistic-shape model: unloaded, then one streamed request (the file's first load, and a
 *   second cold load with the chat wrapper remembered); against llama.cpp's own
 *   llama-server (process start + first token on the same file, threads and context) when LLAMA_SERVER names its
 *   binary (target ≤ 1.15×), and its generation speed against ours (target ≥ 0.97×).
 */
import {spawn, type ChildProcess} from "node:child_process";
import fs from "node:fs";
import fsp from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..");
const KEY = "bench-ship-key";
const MB = 1024 * 1024;
const CONTEXT = 4096;

export interface ShipBenchOptions {
    threads: number;
    /** llama-server's binary, to compare with; undefined skips that column. */
    llamaServer?: string;
    out: (line: string) => void;
}

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

/** RSS of a process and all its descendants, from /proc (Linux); null elsewhere. */
export function treeRssBytes(pid: number): number | null {
    if (!fs.existsSync("/proc/self/status")) return null;
    const children = new Map<number, number[]>();
    for (const e of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(e)) continue;
        try {
            const stat = fs.readFileSync(`/proc/${e}/stat`, "utf8");
            // the command name is in parentheses and may hold spaces: the fields after its closing one are fixed
            const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
        } catch {
            // the process ended meanwhile
        }
    }
    let total = 0;
    const todo = [pid];
    while (todo.length > 0) {
        const p = todo.pop()!;
        try {
            const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${p}/status`, "utf8"));
            if (m) total += Number(m[1]) * 1024;
        } catch {
            continue;
        }
        todo.push(...(children.get(p) ?? []));
    }
    return total;
}

/** Polls `url` until it answers 2xx; fails at once when the child exits. */
export async function waitFor(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
        if (child.exitCode !== null) throw new Error(`${url}: the process exited with code ${child.exitCode}`);
        try {
            if ((await fetch(url, {signal: AbortSignal.timeout(1000)})).ok) return;
        } catch {
            // not up yet
        }
        await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`${url} did not answer within ${timeoutMs / 1000} s`);
}

/** SIGTERM, then SIGKILL after 15 s. */
export async function stop(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
}

async function post<T>(url: string, body: unknown): Promise<T> {
    const res = await fetch(url, {method: "POST", headers: {"x-api-key": KEY, "content-type": "application/json"}, body: JSON.stringify(body)});
    if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
}

/** Milliseconds from `t0` to the first streamed line that carries text. */
async function firstToken(res: Response, t0: number, marker: string): Promise<number> {
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let seen = "";
    for (;;) {
        const {value, done} = await reader.read();
        if (done) return performance.now() - t0;
        seen += decoder.decode(value, {stream: true});
        if (seen.includes(marker)) {
            const t = performance.now() - t0;
            await reader.cancel();
            return t;
        }
    }
}

const ratio = (value: number, target: number, better: "lower" | "higher"): string =>
    `${(value / target).toFixed(2)} of the target${(better === "lower" ? value <= target : value >= target) ? " (met)" : " (missed)"}`;

/** llama-server on the same file: process start to first token, then its generation speed. */
async function llamaServerFigures(binary: string, model: string, threads: number): Promise<{coldMs: number; tps: number}> {
    const port = await freePort();
    const t0 = performance.now();
    const child = spawn(binary, ["-m", model, "-t", String(threads), "-c", String(CONTEXT), "-np", "1", "--port", String(port), "--host", "127.0.0.1"], {stdio: "ignore"});
    try {
        await waitFor(`http://127.0.0.1:${port}/health`, child, 120_000);
        const res = await fetch(`http://127.0.0.1:${port}/completion`, {method: "POST", body: JSON.stringify({prompt: "Tell me a story.", n_predict: 4, temperature: 0, stream: true})});
        const coldMs = await firstToken(res, t0, "\"content\"");
        const r = await (await fetch(`http://127.0.0.1:${port}/completion`, {method: "POST",
            body: JSON.stringify({prompt: "Write about the sea.", n_predict: 48, temperature: 0, cache_prompt: false})})).json() as {timings?: {predicted_per_second?: number}};
        return {coldMs, tps: r.timings?.predicted_per_second ?? 0};
    } finally {
        await stop(child);
    }
}

export async function shipBench(opts: ShipBenchOptions): Promise<void> {
    const {out, threads} = opts;
    const start = path.join(ROOT, "dist", "cli", "start.js");
    out("\n## Shipped build (node dist/cli/start.js, as a service starts it)");
    if (!fs.existsSync(start)) {
        out(`skipped: ${path.relative(ROOT, start)} is missing; run \`npm run build\` first`);
        return;
    }
    const {writeTestModel} = await import("../src/gguf/test-model.js");
    const home = await fsp.mkdtemp(path.join(os.tmpdir(), "zc-bench-ship-"));
    const tiny = path.join(home, "models", "tiny", "tiny-q8_0.gguf");
    const real = path.join(home, "models", "realistic", "realistic-q8_0.gguf");
    for (const f of [tiny, real]) await fsp.mkdir(path.dirname(f), {recursive: true});
    await fsp.mkdir(path.join(home, "config"), {recursive: true});
    await writeTestModel(tiny, {});
    await writeTestModel(real, {preset: "realistic"});
    const port = await freePort();
    await fsp.writeFile(path.join(home, "config", "provider_config.json"), JSON.stringify({server_port: port, threads, parallel: 1, context_size: CONTEXT, log_level: "warn"}));
    const url = `http://127.0.0.1:${port}`;
    const env: NodeJS.ProcessEnv = {...process.env, ZOMBIECODER_API_KEY: KEY};
    for (const k of ["ZOMBIECODER_HOME", "ZOMBIECODER_CONFIG", "ZOMBIECODER_PORT", "ZOMBIECODER_HOST"]) delete env[k];
    const server = spawn(process.execPath, [start, "--home", home], {cwd: home, env, stdio: ["ignore", "ignore", "inherit"]});
    try {
        await waitFor(`${url}/health`, server, 60_000);
        // settle: the first seconds include the registry scan and lazy imports
        await new Promise((r) => setTimeout(r, 2000));
        const rss = treeRssBytes(server.pid!);
        if (rss == null) out("memory: no /proc on this OS; see the server's own figure in GET /runtime/status");
        else out(`memory, provider process tree with no model loaded: ${(rss / MB).toFixed(1)} MB RSS (target <= 80 MB) -> ${ratio(rss / MB, 80, "lower")}`);

        const loads: number[] = [];
        for (let i = 0; i < 3; i++) {
            loads.push((await post<{load_ms: number}>(`${url}/runtime/load/tiny`, {})).load_ms);
            await post(`${url}/runtime/unload/tiny`, {});
        }
        const best = Math.min(...loads);
        out(`runner start to ready, tiny model: best ${best} ms of ${loads.join(", ")} (target <= 400 ms) -> ${ratio(best, 400, "lower")}`);

        // the file's first load searches for its chat wrapper; a later cold load (after an unload, a restart) has it
        // remembered (src/runner/wrapper-memo.ts), which is what a user's models see from their second load on
        const coldLoad = async (): Promise<number> => {
            const t0 = performance.now();
            const res = await fetch(`${url}/api/generate`, {method: "POST", headers: {"x-api-key": KEY},
                body: JSON.stringify({model: "realistic", prompt: "Tell me a story.", options: {temperature: 0, num_predict: 4}})});
            return firstToken(res, t0, "\"done\":false");
        };
        const firstCold = await coldLoad();
        await post(`${url}/runtime/unload/realistic`, {});
        const cold = await coldLoad();
        const gen = await post<{eval_count: number; eval_duration: number}>(`${url}/api/generate`, {model: "realistic", prompt: "Write about the sea.", stream: false, options: {temperature: 0, num_predict: 48}});
        const tps = (gen.eval_count - 1) / (gen.eval_duration / 1e9);
        if (!opts.llamaServer) {
            out(`cold first token, realistic model (load included): ${cold.toFixed(0)} ms (the file's first load: ${firstCold.toFixed(0)} ms); generation ${tps.toFixed(1)} tokens/s`);
            out("llama-server column skipped: set LLAMA_SERVER=/path/to/llama-server to compare on the same file, threads and context");
        } else {
            const ref = await llamaServerFigures(opts.llamaServer, real, threads);
            out(`cold first token, realistic model: provider ${cold.toFixed(0)} ms vs llama-server ${ref.coldMs.toFixed(0)} ms (process start + first token) -> ${(cold / ref.coldMs).toFixed(2)}x (target <= 1.15x); the file's first load ${firstCold.toFixed(0)} ms -> ${(firstCold / ref.coldMs).toFixed(2)}x`);
            out(`generation: provider ${tps.toFixed(1)} vs llama-server ${ref.tps.toFixed(1)} tokens/s -> ${(tps / ref.tps).toFixed(3)} (target >= 0.97)`);
        }
    } finally {
        await stop(server);
        await fsp.rm(home, {recursive: true, force: true});
    }
}

if (import.meta.url === `file://${process.argv[1]}`) {
    const threads = Number(process.env.BENCH_THREADS ?? "1");
    await shipBench({threads: Number.isInteger(threads) && threads > 0 ? threads : 1, llamaServer: process.env.LLAMA_SERVER || undefined, out: (l) => process.stdout.write(`${l}\n`)});
}
