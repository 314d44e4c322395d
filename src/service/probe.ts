import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type {ServiceOS} from "./types.js";

/**
 * Everything the plan builders read about the machine. Injected so that a Windows or macOS plan can be
 * built and tested on Linux, and so that building a plan never has side effects.
 */
export interface SystemProbe {
    os: ServiceOS;
    env: Readonly<Record<string, string | undefined>>;
    /** True when a file exists (read-only check). */
    exists(file: string): boolean;
    /** POSIX user id; null on Windows. */
    uid: number | null;
    username: string;
    homeDir: string;
}

export function osFromPlatform(platform: NodeJS.Platform): ServiceOS {
    if (platform === "win32") return "windows";
    if (platform === "darwin") return "macos";
    return "linux";
}

export function pathFor(target: ServiceOS): path.PlatformPath {
    return target === "windows" ? path.win32 : path.posix;
}

/** The probe for the machine this process runs on. */
export function defaultProbe(): SystemProbe {
    let username = "";
    try {
        username = os.userInfo().username;
    } catch {
        // userInfo throws for a uid without a passwd entry (some containers); the env is the fallback.
        username = process.env.USER ?? process.env.USERNAME ?? "";
    }
    return {
        os: osFromPlatform(process.platform),
        env: process.env,
        exists: (file) => fs.existsSync(file),
        uid: typeof process.getuid === "function" ? process.getuid() : null,
        username,
        homeDir: os.homedir()
    };
}

/** Reads an environment variable; Windows names are case-insensitive (`Path` vs `PATH`). */
export function envGet(env: SystemProbe["env"], key: string, target: ServiceOS): string | undefined {
    if (target !== "windows") return env[key];
    const wanted = key.toUpperCase();
    for (const [k, v] of Object.entries(env)) if (k.toUpperCase() === wanted && v != null) return v;
    return undefined;
}

/**
 * Looks a program up on PATH without running anything (no `which`/`where`), honouring PATHEXT on Windows.
 * Returns the full path or null.
 */
export function findOnPath(name: string, probe: SystemProbe): string | null {
    const p = pathFor(probe.os);
    const pathVar = envGet(probe.env, "PATH", probe.os) ?? "";
    const dirs = pathVar.split(p.delimiter).map((d) => d.replace(/^"(.*)"$/, "$1")).filter((d) => d !== "");
    let exts = [""];
    if (probe.os === "windows") {
        const pathExt = (envGet(probe.env, "PATHEXT", probe.os) ?? ".COM;.EXE;.BAT;.CMD").split(";").filter(Boolean);
        exts = p.extname(name) !== "" ? [""] : pathExt.map((e) => e.toLowerCase());
    }
    for (const dir of dirs) {
        for (const ext of exts) {
            const candidate = p.join(dir, name + ext);
            if (probe.exists(candidate)) return candidate;
        }
    }
    return null;
}
