import fs from "node:fs";
import {pathToFileURL} from "node:url";
import type {ProviderConfig} from "../config/load.js";
import {staleBuildWarning} from "./stale-build.js";

/** True when the module at `moduleUrl` was started as the program (not imported by a test). */
export function isEntryPoint(moduleUrl: string): boolean {
    const entry = process.argv[1];
    if (!entry) return false;
    try {
        return moduleUrl === pathToFileURL(fs.realpathSync(entry)).href;
    } catch {
        return false;
    }
}

/**
 * Loads the config for a CLI entry point from its parsed `--home` / `--config`; a ConfigError prints its message and
 * exits 2 (no stack trace). The loader is imported here, not at the top, so that `--help` never pays for it.
 */
export async function loadConfigForCli(paths: {home?: string; config?: string}): Promise<ProviderConfig> {
    const {ConfigError, loadConfig} = await import("../config/load.js");
    try {
        return loadConfig({home: paths.home, configPath: paths.config});
    } catch (err) {
        if (err instanceof ConfigError) {
            process.stderr.write(`error: ${err.message}\n`);
            process.exit(2);
        }
        throw err;
    }
}

export function formatBytes(n: number): string {
    if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GB`;
    if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MB`;
    if (n >= 1024) return `${(n / 1024).toFixed(1)} KB`;
    return `${n} B`;
}

/** A plain text table: columns padded to their widest cell. */
export function renderTable(header: string[], rows: string[][]): string {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
    return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/**
 * Runs a CLI's `main` when its module is the program (after saying so when it runs a build older than the source
 * beside it): a number it resolves to becomes the exit code, nothing (a
 * server that keeps serving) leaves the process running. A crash prints its stack and exits 1.
 */
export function runIfEntryPoint(moduleUrl: string, main: (argv: string[]) => Promise<number | void>): void {
    if (!isEntryPoint(moduleUrl)) return;
    const stale = staleBuildWarning();
    if (stale) process.stderr.write(`${stale}\n`);
    main(process.argv.slice(2)).then((code) => {
        if (typeof code !== "number") return;
        // Exit once the output has drained; a log transport or a runner child left behind must not keep it open.
        process.exitCode = code;
        setTimeout(() => process.exit(code), 300).unref();
    }, (err: unknown) => {
        process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
        process.exit(1);
    });
}
