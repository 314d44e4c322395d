import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type {ProviderConfig} from "../config/load.js";

export interface SourceEnvironment {
    env?: NodeJS.ProcessEnv;
    homedir?: string;
    platform?: NodeJS.Platform;
}

export interface SourceDirs {
    ollama: string[];
    lmstudio: string[];
    huggingface: string[];
}

function configured(config: ProviderConfig, value: string | null): string | null {
    return value ? path.resolve(config.home, value) : null;
}

function readLmStudioHomePointer(homedir: string): string | null {
    try {
        const p = fs.readFileSync(path.join(homedir, ".lmstudio-home-pointer"), "utf8").trim();
        return p ? p : null;
    } catch {
        return null;
    }
}

function readLmStudioSettingsFolder(lmHome: string): string | null {
    try {
        const s = JSON.parse(fs.readFileSync(path.join(lmHome, "settings.json"), "utf8")) as Record<string, unknown>;
        // The key moved between LM Studio releases.
        for (const k of ["downloadsFolder", "modelsDirectory"]) if (typeof s[k] === "string" && s[k]) return s[k] as string;
    } catch {
        // no settings file, or not JSON: use the default folder
    }
    return null;
}

/**
 * Where each tool keeps its models, most specific first: the config key, then the tool's own environment variable,
 * then its default for this OS (Ollama on Windows: %USERPROFILE%\.ollama\models, which is homedir there).
 * Only folders that exist are returned; nothing is created.
 */
export function sourceDirs(config: ProviderConfig, envOpts: SourceEnvironment = {}): SourceDirs {
    const env = envOpts.env ?? process.env;
    const home = envOpts.homedir ?? os.homedir();
    const platform = envOpts.platform ?? process.platform;
    const src = config.import_sources;
    const exists = (p: string): boolean => {
        try {
            return fs.statSync(p).isDirectory();
        } catch {
            return false;
        }
    };
    const uniq = (list: Array<string | null | undefined>): string[] =>
        [...new Set(list.filter((p): p is string => typeof p === "string" && p !== "").map((p) => path.resolve(p)))].filter(exists);

    const ollama = src.ollama_dir
        ? [configured(config, src.ollama_dir)]
        : env.OLLAMA_MODELS
            ? [env.OLLAMA_MODELS]
            : [path.join(home, ".ollama", "models"), ...(platform === "linux" ? ["/usr/share/ollama/.ollama/models"] : [])];

    const lmHome = readLmStudioHomePointer(home) ?? path.join(home, ".lmstudio");
    const lmstudio = src.lmstudio_dir
        ? [configured(config, src.lmstudio_dir)]
        : [readLmStudioSettingsFolder(lmHome), path.join(lmHome, "models"), path.join(home, ".cache", "lm-studio", "models")];

    const hfHub = env.HF_HUB_CACHE
        ?? (env.HF_HOME ? path.join(env.HF_HOME, "hub") : null)
        ?? (env.XDG_CACHE_HOME ? path.join(env.XDG_CACHE_HOME, "huggingface", "hub") : null)
        ?? path.join(home, ".cache", "huggingface", "hub");
    const huggingface = src.huggingface_dir ? [configured(config, src.huggingface_dir)] : [hfHub];

    return {
        ollama: src.ollama ? uniq(ollama) : [],
        lmstudio: src.lmstudio ? uniq(lmstudio) : [],
        huggingface: src.huggingface ? uniq(huggingface) : []
    };
}
