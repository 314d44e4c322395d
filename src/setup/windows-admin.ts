/**
 * Whether this Windows terminal is elevated ("Run as administrator"): installing a Windows service (NSSM, sc.exe)
 * needs it, and without it those tools fail with "Access is denied" halfway through. Read from the token's
 * integrity level, which `whoami /groups` lists: an elevated process runs at High (S-1-16-12288) or System
 * (S-1-16-16384); a normal one, even of an administrator, at Medium (S-1-16-8192).
 */
import {commandHint} from "../command-hint.js";
import type {SystemProbe} from "../service/probe.js";
import type {CommandRunner} from "../service/runner.js";

const ELEVATED_LABELS = ["S-1-16-12288", "S-1-16-16384"];

export interface Elevation {
    elevated: boolean;
    /** How it was decided, for the message. */
    detail: string;
}

function envValue(env: SystemProbe["env"], name: string): string | undefined {
    const key = Object.keys(env).find((k) => k.toLowerCase() === name.toLowerCase());
    return key ? env[key] : undefined;
}

export async function windowsElevation(probe: SystemProbe, runner: CommandRunner): Promise<Elevation> {
    const root = envValue(probe.env, "SystemRoot") ?? "C:\\Windows";
    const whoami = `${root}\\System32\\whoami.exe`;
    const r = await runner(whoami, ["/groups", "/fo", "csv", "/nh"], {timeoutMs: 15_000, env: probe.env});
    if (r.exitCode !== 0) {
        // Without an answer, say so rather than guess: the install would then fail with the tools' own message.
        return {elevated: true, detail: `could not tell (${whoami} /groups failed: ${(r.stderr.trim() || r.message || `exit code ${String(r.exitCode)}`).split("\n")[0]})`};
    }
    const elevated = ELEVATED_LABELS.some((sid) => r.stdout.includes(sid));
    return {elevated, detail: elevated ? "the terminal is elevated (High integrity level)" : "whoami /groups shows the Medium integrity level: the terminal is not elevated"};
}

/** What the service step says instead of failing obscurely when the terminal is not elevated. */
export function notElevatedMessage(home: string, elevation: Elevation): string {
    return "Installing a Windows service needs a terminal started as Administrator, and this one is not (" + elevation.detail + "). Nothing was installed.\n" +
        "To install it: open PowerShell or Windows Terminal with \"Run as administrator\", then run\n" +
        // the forms without npm's bare `--`, which PowerShell drops (command-hint.ts)
        `  cd "${home}"\n  ${commandHint("service", "install", "win32")}\n  ${commandHint("service", "install --watchdog", "win32")}\n` +
        "or run npm run setup again from that terminal. Until then the provider runs in the foreground (npm start).";
}
