import fs from "node:fs";
import {pathToFileURL} from "node:url";
import type {ProviderConfig} from "../config/load.js";

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
