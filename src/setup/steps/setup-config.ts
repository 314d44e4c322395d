import fs from "node:fs";
import path from "node:path";
import {randomBytes} from "node:crypto";
import {loadConfig, type ProviderConfig} from "../../config/load.js";
import {defaultConfigFile, type ProviderConfigFile} from "../../config/schema.js";

/** Where setup reads its configuration from: fixed for a run, read again by every step. */
export interface ConfigSource {
    home: string;
    env: NodeJS.ProcessEnv;
    /** `--config FILE`; default `<home>/config/provider_config.json`. */
    configPath?: string;
    /** Applied on top of the file (tests: no external stores, one thread, a fixture test command). */
    overrides?: Partial<ProviderConfigFile>;
}

export interface SetupConfig {
    config: ProviderConfig;
    /** The configured key file does not exist yet (the config step creates it); the config was loaded with a throwaway key. */
    keyFileMissing: string | null;
}

export function configFilePath(src: ConfigSource): string {
    return path.resolve(src.home, src.configPath ?? src.env.ZOMBIECODER_CONFIG ?? path.join("config", "provider_config.json"));
}

/** The file as JSON, or null when it is missing or unreadable (loadConfig reports the details). */
export function readRawConfig(file: string): Record<string, unknown> | null {
    try {
        const parsed: unknown = JSON.parse(fs.readFileSync(file, "utf8").replace(/^\uFEFF/, ""));
        return parsed != null && typeof parsed === "object" && !Array.isArray(parsed) ? parsed as Record<string, unknown> : null;
    } catch {
        return null;
    }
}

/**
 * loadConfig for setup. The one difference: a config that names a key file which does not exist yet is not an
 * error here, because creating that file is the config step's job; the steps before it run with an ephemeral key instead.
 */
export function loadSetupConfig(src: ConfigSource): SetupConfig {
    const base = {home: src.home, configPath: src.configPath, env: src.env, overrides: src.overrides};
    const file = configFilePath(src);
    const raw = readRawConfig(file);
    const rawAuth = (raw?.auth != null && typeof raw.auth === "object" ? raw.auth : {}) as Partial<ProviderConfigFile["auth"]>;
    const auth = {...defaultConfigFile().auth, ...rawAuth, ...src.overrides?.auth};
    if (auth.api_key_file) {
        const keyPath = path.resolve(src.home, auth.api_key_file);
        let missing = false;
        try {
            missing = fs.readFileSync(keyPath, "utf8").trim() === "";
        } catch {
            missing = true;
        }
        if (missing) {
            const config = loadConfig({...base, overrides: {...src.overrides, auth: {...auth, api_key_file: null, api_key: `setup-ephemeral-${randomBytes(16).toString("hex")}`}}});
            return {config, keyFileMissing: keyPath};
        }
    }
    return {config: loadConfig(base), keyFileMissing: null};
}
