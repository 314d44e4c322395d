import {spawn, type ChildProcess} from "node:child_process";
import path from "node:path";
import {TEST_KEY} from "./home.js";

const root = path.resolve(import.meta.dirname, "..", "..");

export interface CliProcess {
    child: ChildProcess;
    url: string;
    exit: Promise<number | null>;
}

/**
 * The real CLI entry (`src/cli/start.ts` under tsx) in its own process, as `npm start` runs it, on a free port;
 * resolves once it says where it listens. `nodeArgs` are node's flags, `imports` modules preloaded after tsx's
 * loader (so they see the TypeScript modules too), `env` goes over the test environment.
 */
export async function startCli(home: string, opts: {nodeArgs?: string[]; imports?: string[]; env?: NodeJS.ProcessEnv} = {}): Promise<CliProcess> {
    const preload = ["tsx", ...(opts.imports ?? [])].flatMap((m) => ["--import", m]);
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...preload, "src/cli/start.ts", "--home", home], {
        cwd: root,
        env: {...process.env, ZOMBIECODER_PORT: "0", ZOMBIECODER_API_KEY: TEST_KEY, ZOMBIECODER_LOG_LEVEL: "warn", ...opts.env},
        stdio: ["ignore", "pipe", "pipe"]
    });
    const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout!.on("data", (d: Buffer) => {
            out += d.toString();
            const m = /listening on (http:\/\/\S+)/.exec(out);
            if (m) resolve(m[1]!);
        });
        void exit.then((code) => reject(new Error(`exited with ${code}: ${out}`)));
    });
    return {child, url, exit};
}
