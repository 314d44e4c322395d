/** What the benchmarks share: a percentile, and the provider started from source as a child process. */
import {spawn, type ChildProcess} from "node:child_process";
import path from "node:path";

export const BENCH_KEY = "bench-key";

export function pct(values: number[], p: number): number {
    const s = [...values].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** Starts `src/cli/start.ts` on `port` with the bench key and waits (up to 30 s) until it answers. */
export async function startBenchServer(home: string, port: number): Promise<ChildProcess> {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/start.ts", "--home", home], {
        cwd: path.resolve(import.meta.dirname, ".."),
        env: {...process.env, ZOMBIECODER_PORT: String(port), ZOMBIECODER_API_KEY: BENCH_KEY, ZOMBIECODER_LOG_LEVEL: "warn"},
        stdio: ["ignore", "ignore", "inherit"]
    });
    for (let i = 0; i < 300; i++) {
        try {
            if ((await fetch(`http://127.0.0.1:${port}/api/version`)).ok) return child;
        } catch {
            // not up yet
        }
        await new Promise((r) => setTimeout(r, 100));
    }
    child.kill();
    throw new Error("server did not start");
}
