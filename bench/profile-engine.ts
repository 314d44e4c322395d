/**
 * Where one generation's time goes inside the runner: the engine in this process, on a generated model, one chat
 * stream (or N at once), under V8's CPU profiler; prints the share of wall time the JavaScript thread was busy and
 * its top functions by self time, grouped by package. Asserts nothing.
 * `npx tsx bench/profile-engine.ts [tiny|realistic] [tokens] [streams]` (BENCH_THREADS, default 2).
 */
import fsp from "node:fs/promises";
import inspector from "node:inspector/promises";
import os from "node:os";
import path from "node:path";
import {writeTestModel} from "../src/gguf/test-model.js";
import {Engine} from "../src/runner/engine.js";
import {OLLAMA_DEFAULT_OPTIONS, type GenerateRequest} from "../src/runtime/protocol.js";

const presetArg = process.argv[2] ?? "tiny";
const tokens = Number(process.argv[3] ?? "128");
const streams = Number(process.argv[4] ?? "1");
const threads = Number(process.env.BENCH_THREADS ?? "2");
const dir = path.join(os.tmpdir(), "zc-bench-batching");
await fsp.mkdir(dir, {recursive: true});
const modelPath = path.join(dir, `${presetArg}.gguf`);
if (!(await fsp.stat(modelPath).catch(() => null))) await writeTestModel(modelPath, presetArg === "realistic" ? {preset: "realistic"} : {});
const engine = new Engine();
await engine.load({modelPath, contextSize: 4096, parallel: streams, threads, gpu: false});
const req = (i: number): GenerateRequest => ({mode: "chat", messages: [{role: "user", content: `Tell me story ${i}.`}],
    options: {...OLLAMA_DEFAULT_OPTIONS, temperature: 0, num_predict: tokens}});
const go = () => Promise.all(Array.from({length: streams}, (_, i) =>
    engine.generate(i + 1, req(i), () => undefined, new AbortController().signal)));
await go(); // warm

const session = new inspector.Session();
session.connect();
await session.post("Profiler.enable");
await session.post("Profiler.setSamplingInterval", {interval: 200});
await session.post("Profiler.start");
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await go();
const wall = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const {profile} = await session.post("Profiler.stop");
type Node = {id: number; callFrame: {functionName: string; url: string; lineNumber: number}; hitCount?: number};
const nodes = profile.nodes as Node[];
const total = nodes.reduce((n, x) => n + (x.hitCount ?? 0), 0);
const byFn = new Map<string, number>();
const byPkg = new Map<string, number>();
for (const n of nodes) {
    const hits = n.hitCount ?? 0;
    if (hits === 0) continue;
    const url = n.callFrame.url;
    const pkg = n.callFrame.functionName === "(idle)" ? "(idle)" : n.callFrame.functionName === "(program)" ? "(program)"
        : n.callFrame.functionName === "(garbage collector)" ? "(gc)"
            : /node_modules\/(@[^/]+\/[^/]+|[^/]+)/.exec(url)?.[1] ?? (url.includes("/src/") ? "provider src" : url === "" ? "(native)" : "node");
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + hits);
    const key = `${n.callFrame.functionName || "(anonymous)"} ${url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/src\//, "src/")}:${n.callFrame.lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + hits);
}
const pct = (h: number) => `${((100 * h) / total).toFixed(1)} %`;
process.stdout.write(`${presetArg} model, ${streams} stream(s) x ${tokens} tokens, ${threads} threads, load average ${os.loadavg()[0]!.toFixed(2)}\n`);
process.stdout.write(`wall ${wall.toFixed(0)} ms, process CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms (all threads), ${(streams * tokens / (wall / 1000)).toFixed(1)} tokens/s\n`);
process.stdout.write(`JS thread samples by package:\n`);
for (const [k, v] of [...byPkg].sort((a, b) => b[1] - a[1])) process.stdout.write(`  ${pct(v).padStart(7)}  ${k}\n`);
process.stdout.write(`top functions by self time:\n`);
for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).filter(([k]) => !k.startsWith("(idle)")).slice(0, 25)) process.stdout.write(`  ${pct(v).padStart(7)}  ${k}\n`);
await engine.dispose();
