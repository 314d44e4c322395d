import {spawn} from "node:child_process";
import path from "node:path";

export const projectRoot = path.resolve(import.meta.dirname, "..", "..");

export interface CliResult {
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
    ms: number;
}

/**
 * Runs a CLI entry the way its npm script does (`tsx` as a loader), without npm in between, and collects its output.
 * Environment overrides of the configuration are removed unless `env` sets them, so the developer's own settings
 * never leak in. A run that outlives `timeoutMs` is killed and reported with its signal.
 */
export function runCli(script: string, args: string[], opts: {env?: Record<string, string>; timeoutMs?: number} = {}): Promise<CliResult> {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("ZOMBIECODER_") && !k.startsWith("BENCH_")) env[k] = v;
    Object.assign(env, opts.env);
    const started = performance.now();
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {cwd: projectRoot, env, stdio: ["ignore", "pipe", "pipe"]});
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
        child.once("error", reject);
        child.once("close", (code, signal) => {
            clearTimeout(timer);
            resolve({code, signal, stdout, stderr, ms: performance.now() - started});
        });
    });
}
