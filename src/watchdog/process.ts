import fs from "node:fs";
import {execa, type StdoutStderrOption} from "execa";
import {execaRunner, type CommandRunner} from "../service/runner.js";

/** How to start the provider in direct mode. */
export interface ProviderCommand {
    file: string;
    args: string[];
    cwd: string;
    env: Record<string, string | undefined>;
    /** Appended to, so output survives restarts and the watchdog's own exit. */
    stdoutLog?: string;
    stderrLog?: string;
}

export interface ExitInfo {
    code: number | null;
    signal: string | null;
}

export interface SpawnedProvider {
    pid: number;
    /** Settles when the process ends (never rejects). */
    exited: Promise<ExitInfo>;
    /** Lets the watchdog exit while the provider keeps running. */
    unref(): void;
}

/** True when a process with this PID exists (EPERM means it exists but belongs to someone else). */
export function isProcessAlive(pid: number): boolean {
    if (!Number.isInteger(pid) || pid <= 0) return false;
    try {
        process.kill(pid, 0);
        return true;
    } catch (err) {
        return (err as NodeJS.ErrnoException).code === "EPERM";
    }
}

/**
 * Starts the provider detached, in its own process group on POSIX, so that it survives a watchdog
 * restart (the next watchdog adopts it) and so that the whole group, runners included, can be killed.
 */
export function spawnProvider(cmd: ProviderCommand): SpawnedProvider {
    const out = cmd.stdoutLog ? fs.openSync(cmd.stdoutLog, "a") : null;
    const errFd = cmd.stderrLog ? fs.openSync(cmd.stderrLog, "a") : null;
    // execa's types list only fds 1 and 2, but its runtime hands any fd number straight to spawn: the child
    // writes to the file itself, so its output does not depend on this process staying alive to pipe it.
    const stdout = (out ?? "ignore") as StdoutStderrOption;
    const stderr = (errFd ?? "ignore") as StdoutStderrOption;
    let sub;
    try {
        sub = execa(cmd.file, cmd.args, {
            cwd: cmd.cwd,
            env: cmd.env,
            extendEnv: false,
            detached: true,
            // execa would otherwise kill the provider when the watchdog exits, defeating adoption.
            cleanup: false,
            reject: false,
            stdin: "ignore",
            stdout,
            stderr,
            windowsHide: true
        });
    } finally {
        // The child has its own copies of the descriptors now.
        if (out != null) fs.closeSync(out);
        if (errFd != null) fs.closeSync(errFd);
    }
    const pid = sub.pid;
    if (pid == null) {
        // The spawn error arrives asynchronously; the caller counts this as a failed start either way.
        sub.catch(() => undefined);
        throw new Error(`could not start the provider: ${cmd.file} could not be executed`);
    }
    const exited: Promise<ExitInfo> = sub.then(
        (r) => ({code: typeof r.exitCode === "number" ? r.exitCode : null, signal: r.signal ?? null}),
        () => ({code: null, signal: null})
    );
    return {pid, exited, unref: () => sub.unref()};
}

/** The Windows command that ends a process and its children (runners); POSIX uses signals instead. */
export function windowsKillTreeCommand(pid: number): {file: string; args: string[]} {
    return {file: "taskkill", args: ["/PID", String(pid), "/T", "/F"]};
}

function signal(pid: number, sig: NodeJS.Signals, group: boolean): boolean {
    try {
        process.kill(group ? -pid : pid, sig);
        return true;
    } catch {
        return false;
    }
}

async function waitGone(pid: number, ms: number, exited?: Promise<ExitInfo>): Promise<boolean> {
    const deadline = Date.now() + ms;
    let done = false;
    void exited?.then(() => {
        done = true;
    });
    while (Date.now() < deadline) {
        if (done || !isProcessAlive(pid)) return true;
        await new Promise((r) => setTimeout(r, 50));
    }
    return done || !isProcessAlive(pid);
}

export interface TerminateOptions {
    /** How long the provider gets to drain after the polite request. */
    graceMs: number;
    platform?: NodeJS.Platform;
    runner?: CommandRunner;
    /** The process's exit promise when it is our own child (faster and immune to PID reuse). */
    exited?: Promise<ExitInfo>;
}

/**
 * Stops the provider and anything it started. POSIX: SIGTERM to the server (it drains), then SIGKILL to
 * its process group after the grace. Windows has no SIGTERM for another console process: `taskkill /T /F`.
 */
export async function terminateProcessTree(pid: number, opts: TerminateOptions): Promise<void> {
    const platform = opts.platform ?? process.platform;
    if (platform === "win32") {
        const {file, args} = windowsKillTreeCommand(pid);
        await (opts.runner ?? execaRunner)(file, args, {timeoutMs: 30_000});
        await waitGone(pid, 5_000, opts.exited);
        return;
    }
    if (isProcessAlive(pid)) {
        signal(pid, "SIGTERM", false);
        if (!(await waitGone(pid, opts.graceMs, opts.exited))) signal(pid, "SIGKILL", false);
    }
    // Whatever is left of the group (runners that did not notice their parent died).
    signal(pid, "SIGKILL", true);
    await waitGone(pid, 2_000, opts.exited);
}
