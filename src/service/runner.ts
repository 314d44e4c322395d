import {execa} from "execa";

export interface CommandResult {
    /** null when the program could not be started at all (not found, not executable) or was killed. */
    exitCode: number | null;
    stdout: string;
    stderr: string;
    failed: boolean;
    /** Why it failed, in words (spawn errors, timeouts, signals). */
    message?: string;
}

export interface RunOptions {
    timeoutMs?: number;
    /** The whole environment for the command (PATH lookup included); default: this process's. */
    env?: Readonly<Record<string, string | undefined>>;
}

/** Runs one program with an argument array; injected so tests can record commands instead of running them. */
export type CommandRunner = (file: string, args: readonly string[], opts?: RunOptions) => Promise<CommandResult>;

export const DEFAULT_COMMAND_TIMEOUT_MS = 120_000;

/** The real runner: execa, never through a shell, never throwing for a non-zero exit. */
export const execaRunner: CommandRunner = async (file, args, opts = {}) => {
    const r = await execa(file, [...args], {
        reject: false,
        // A package manager asking a question would otherwise wait forever for input nobody gives.
        stdin: "ignore",
        windowsHide: true,
        timeout: opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
        ...(opts.env ? {env: {...opts.env}, extendEnv: false} : {})
    });
    const exitCode = typeof r.exitCode === "number" ? r.exitCode : null;
    return {
        exitCode,
        stdout: typeof r.stdout === "string" ? r.stdout : "",
        stderr: typeof r.stderr === "string" ? r.stderr : "",
        failed: r.failed,
        message: r.failed ? r.shortMessage : undefined
    };
};
