import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type {FileOps} from "../../src/service/apply.js";
import type {SystemProbe} from "../../src/service/probe.js";
import type {CommandResult, CommandRunner} from "../../src/service/runner.js";
import type {PlanStep} from "../../src/service/types.js";

export const WIN_NODE = "C:\\Program Files\\nodejs\\node.exe";
export const WIN_ROOT = "C:\\Program Files\\ZombieCoder";

/** A Windows machine described as data: which files exist and what the environment holds. */
export function winProbe(files: string[], env: Record<string, string> = {}): SystemProbe {
    const set = new Set(files.map((f) => f.toLowerCase()));
    return {
        os: "windows",
        env: {
            Path: "C:\\Windows\\System32;C:\\Windows;C:\\Program Files\\nodejs;C:\\Users\\Jane Doe\\AppData\\Local\\Microsoft\\WindowsApps",
            PATHEXT: ".COM;.EXE;.BAT;.CMD",
            SystemRoot: "C:\\Windows",
            LOCALAPPDATA: "C:\\Users\\Jane Doe\\AppData\\Local",
            USERPROFILE: "C:\\Users\\Jane Doe",
            ProgramData: "C:\\ProgramData",
            ProgramFiles: "C:\\Program Files",
            ...env
        },
        // NTFS is case-insensitive.
        exists: (f) => set.has(f.toLowerCase()),
        uid: null,
        username: "Jane Doe",
        homeDir: "C:\\Users\\Jane Doe"
    };
}

export function linuxProbe(homeDir: string, opts: {uid?: number; files?: string[]; env?: Record<string, string>} = {}): SystemProbe {
    const files = new Set(opts.files ?? []);
    return {
        os: "linux",
        env: {PATH: "/usr/local/bin:/usr/bin:/bin", ...opts.env},
        exists: (f) => files.has(f) || (f.startsWith(homeDir) && fs.existsSync(f)),
        uid: opts.uid ?? 1000,
        username: "jane",
        homeDir
    };
}

export function tempDir(prefix: string): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), `zc-${prefix}-`));
}

export interface RecordingRunner {
    runner: CommandRunner;
    calls: string[][];
}

/** Records commands instead of running them; `fail` picks calls that exit 1. */
export function recordingRunner(fail: (argv: string[]) => boolean = () => false, stdout: (argv: string[]) => string = () => ""): RecordingRunner {
    const calls: string[][] = [];
    const runner: CommandRunner = async (file, args): Promise<CommandResult> => {
        const argv = [file, ...args];
        calls.push(argv);
        const bad = fail(argv);
        return {exitCode: bad ? 1 : 0, stdout: stdout(argv), stderr: bad ? "simulated failure" : "", failed: bad};
    };
    return {runner, calls};
}

export function runArgv(steps: PlanStep[]): string[][] {
    return steps.flatMap((s) => (s.kind === "run" || s.kind === "wait" ? [[s.file, ...s.args]] : []));
}

/** Every file under a folder with its content, to prove a dry run changed nothing. */
export function snapshot(dir: string): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (d: string): void => {
        for (const e of fs.readdirSync(d, {withFileTypes: true})) {
            const p = path.join(d, e.name);
            if (e.isDirectory()) {
                out[`${p}/`] = "";
                walk(p);
            } else out[p] = `${fs.statSync(p).mtimeMs}:${fs.readFileSync(p, "utf8")}`;
        }
    };
    walk(dir);
    return out;
}

/** File operations on an in-memory disk (a plan for another OS), recording each change. */
export function memoryFiles(initial: Record<string, string> = {}): FileOps & {ops: string[]; files: Map<string, string>} {
    const files = new Map(Object.entries(initial));
    const ops: string[] = [];
    return {
        ops, files,
        mkdir: (d) => void ops.push(`mkdir ${d}`),
        write: (f, content) => {
            ops.push(`write ${f}`);
            files.set(f, content);
        },
        remove: (f) => {
            ops.push(`remove ${f}`);
            files.delete(f);
        },
        exists: (f) => files.has(f),
        copy: (from, to) => {
            ops.push(`copy ${from} ${to}`);
            files.set(to, files.get(from)!);
        },
        rename: (from, to) => {
            ops.push(`rename ${from} ${to}`);
            files.set(to, files.get(from)!);
            files.delete(from);
        }
    };
}
