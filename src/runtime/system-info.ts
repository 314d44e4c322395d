import {execFileSync} from "node:child_process";
import fs from "node:fs";
import os from "node:os";

/**
 * Facts about the machine that Node does not give portably. Each OS has its own source; every probe falls back
 * to what Node reports, so a failure never stops the server.
 */

function run(cmd: string, args: string[]): string | null {
    try {
        return execFileSync(cmd, args, {encoding: "utf8", timeout: 5000, stdio: ["ignore", "pipe", "ignore"], windowsHide: true});
    } catch {
        return null;
    }
}

/** Linux: one core per distinct (package, core id) pair in sysfs. */
function linuxPhysicalCores(): number | null {
    try {
        const base = "/sys/devices/system/cpu";
        const seen = new Set<string>();
        for (const name of fs.readdirSync(base)) {
            if (!/^cpu\d+$/.test(name)) continue;
            try {
                const core = fs.readFileSync(`${base}/${name}/topology/core_id`, "utf8").trim();
                const pkg = fs.readFileSync(`${base}/${name}/topology/physical_package_id`, "utf8").trim();
                seen.add(`${pkg}:${core}`);
            } catch {
                // an offline CPU has no topology
            }
        }
        return seen.size > 0 ? seen.size : null;
    } catch {
        return null;
    }
}

let cachedCores: number | null = null;

/**
 * Physical cores: llama.cpp runs slower with more threads than cores (hyperthreads only add contention), so this
 * is the default thread count.
 */
export function physicalCores(): number {
    if (cachedCores != null) return cachedCores;
    const logical = Math.max(1, os.availableParallelism());
    let n: number | null = null;
    if (process.platform === "linux") n = linuxPhysicalCores();
    else if (process.platform === "darwin") n = Number(run("sysctl", ["-n", "hw.physicalcpu"])) || null;
    else if (process.platform === "win32") {
        const out = run("powershell.exe", ["-NoProfile", "-NonInteractive", "-Command",
            "(Get-CimInstance Win32_Processor | Measure-Object -Property NumberOfCores -Sum).Sum"]);
        n = Number(out?.trim()) || null;
    }
    cachedCores = Math.max(1, Math.min(logical, n ?? logical));
    return cachedCores;
}

/** The thread count a model runs with when `threads` is 0 (auto). */
export function defaultThreads(): number {
    return physicalCores();
}

let darwinCache: {at: number; bytes: number} | null = null;

/**
 * Memory the OS could hand to a new model now. Linux and Windows report it through os.freemem() (MemAvailable,
 * ullAvailPhys). On macOS os.freemem() counts only free pages, so inactive, speculative and purgeable pages,
 * which macOS reclaims on demand, are added from vm_stat (cached for a few seconds: the sweep runs every second).
 */
export function availableMemoryBytes(): number {
    if (process.platform !== "darwin") return os.freemem();
    const now = Date.now();
    if (darwinCache && now - darwinCache.at < 5000) return darwinCache.bytes;
    const out = run("vm_stat", []);
    let bytes = os.freemem();
    if (out) {
        const pageSize = Number(/page size of (\d+) bytes/.exec(out)?.[1] ?? 4096);
        const pages = (label: string) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(out)?.[1] ?? 0);
        const reclaimable = pages("Pages free") + pages("Pages inactive") + pages("Pages speculative") + pages("Pages purgeable");
        if (reclaimable > 0) bytes = reclaimable * pageSize;
    }
    darwinCache = {at: now, bytes};
    return bytes;
}
