import fs from "node:fs";
import path from "node:path";
import {fileURLToPath} from "node:url";
import {Ajv, type ErrorObject} from "ajv";
import {defaultHome} from "./home.js";
import {configJsonSchema, defaultConfigFile, keyAliases, LOG_LEVELS, type ProviderConfigFile, sectionKeys} from "./schema.js";

/** A configuration problem the user must fix; the message names the file, the key and what is expected. */
export class ConfigError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ConfigError";
    }
}

export type Platform = "win32" | "posix";

export interface ProviderConfig extends ProviderConfigFile {
    /** Provider home: relative paths in the config resolve against it. */
    home: string;
    /** The config file that was (or would be) read. */
    configPath: string;
    configFileExists: boolean;
    /** Absolute paths derived from the file's relative ones. */
    paths: {models: string; logs: string; registry: string; promptStates: string};
    /** The API key after env and key-file resolution; null when none is configured. */
    apiKey: string | null;
    /** Where the effective key came from, for messages (never the key itself). */
    apiKeySource: "config" | "file" | "env" | "none";
}

export interface LoadOptions {
    home?: string;
    configPath?: string;
    env?: NodeJS.ProcessEnv;
    platform?: Platform;
    /** Overrides applied after the file and the environment (tests, CLI flags). */
    overrides?: Partial<ProviderConfigFile>;
}

/** The project root: the folder holding package.json above this file. */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/**
 * The home when neither `--home` nor ZOMBIECODER_HOME names one: this checkout, or for an installed package a
 * per-user folder (`home.ts`), so an upgrade that replaces the package folder cannot take the user's models with it.
 */
export function defaultProviderHome(env: NodeJS.ProcessEnv = process.env, platform: Platform = currentPlatform()): string {
    const osName: NodeJS.Platform = platform === "win32" ? "win32" : process.platform === "win32" ? "linux" : process.platform;
    return defaultHome({packageRoot: projectRoot, platform: osName, env});
}

export const ENV = {
    home: "ZOMBIECODER_HOME",
    config: "ZOMBIECODER_CONFIG",
    port: "ZOMBIECODER_PORT",
    host: "ZOMBIECODER_HOST",
    apiKey: "ZOMBIECODER_API_KEY",
    modelsDir: "ZOMBIECODER_MODELS_DIR",
    logLevel: "ZOMBIECODER_LOG_LEVEL"
} as const;

function currentPlatform(): Platform {
    return process.platform === "win32" ? "win32" : "posix";
}

function pathApi(platform: Platform): path.PlatformPath {
    return platform === "win32" ? path.win32 : path.posix;
}

const windowsAbsolute = /^(?:[a-zA-Z]:[\\/]|\\\\)/;

/**
 * Resolves a configured path against the home, refusing a path written for the other OS rather than
 * mangling it (on Linux, `C:\model\models` would otherwise become `<home>/C:\model\models`).
 */
export function resolveConfigPath(value: string, home: string, key: string, file: string, platform: Platform): string {
    if (value.includes("\0"))
        throw new ConfigError(`${file}: key "${key}": expected a path, got a value containing a NUL byte`);
    if (platform === "posix" && windowsAbsolute.test(value))
        throw new ConfigError(`${file}: key "${key}": "${value}" is a Windows path, but this machine runs ${process.platform}. ` +
            `Use a path for this OS (for example "/home/you/models") or a path relative to the provider home (for example "models").`);
    if (platform === "win32" && value.startsWith("/") && !value.startsWith("//"))
        throw new ConfigError(`${file}: key "${key}": "${value}" is a POSIX path, but this machine runs Windows. ` +
            `Use a Windows path (for example "C:\\\\model\\\\models") or a path relative to the provider home (for example "models").`);
    const p = pathApi(platform);
    return p.isAbsolute(value) ? p.normalize(value) : p.resolve(home, value);
}

function describeAjvError(err: ErrorObject): {key: string; expected: string} {
    const parts = err.instancePath.split("/").slice(1).map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
    const key = parts.join(".");
    const params = err.params as Record<string, unknown>;
    switch (err.keyword) {
        case "additionalProperties":
            return {key: [...parts, String(params.additionalProperty)].join("."), expected: "no such key is known (check the spelling; see documentation/configuration.md)"};
        case "type":
            return {key, expected: `a value of type ${Array.isArray(params.type) ? params.type.join(" or ") : String(params.type)}`};
        case "minimum": return {key, expected: `a number >= ${String(params.limit)}`};
        case "maximum": return {key, expected: `a number <= ${String(params.limit)}`};
        case "exclusiveMinimum": return {key, expected: `a number > ${String(params.limit)}`};
        case "enum": return {key, expected: `one of ${JSON.stringify(params.allowedValues)}`};
        case "minLength": return {key, expected: "a non-empty string"};
        case "pattern": return {key, expected: `a string matching ${String(params.pattern)} (an http:// or https:// URL)`};
        case "required": return {key: [...parts, String(params.missingProperty)].join("."), expected: "this key to be present"};
        default: return {key, expected: err.message ?? err.keyword};
    }
}

function valueAt(obj: unknown, key: string): unknown {
    let cur: unknown = obj;
    for (const part of key.split(".")) {
        if (cur == null || typeof cur !== "object") return undefined;
        cur = (cur as Record<string, unknown>)[part];
    }
    return cur;
}

const ajv = new Ajv({allErrors: true, strict: false});
const validateFile = ajv.compile(configJsonSchema);

/** Validates a parsed config object; throws one ConfigError listing every problem. */
export function validateConfigObject(raw: unknown, file: string): Partial<ProviderConfigFile> {
    if (raw == null || typeof raw !== "object" || Array.isArray(raw))
        throw new ConfigError(`${file}: expected a JSON object at the top level`);
    const obj: Record<string, unknown> = {...(raw as Record<string, unknown>)};
    for (const [alias, canonical] of Object.entries(keyAliases)) {
        if (alias in obj) {
            if (canonical in obj && obj[canonical] !== obj[alias])
                throw new ConfigError(`${file}: keys "${alias}" and "${canonical}" are the same setting with different values; keep only "${canonical}"`);
            obj[canonical] = obj[alias];
            delete obj[alias];
        }
    }
    if (!validateFile(obj)) {
        const lines = (validateFile.errors ?? []).map((e) => {
            const {key, expected} = describeAjvError(e);
            const got = e.keyword === "additionalProperties" || e.keyword === "required" ? "" : `, got ${JSON.stringify(valueAt(obj, key))}`;
            return `key "${key}": expected ${expected}${got}`;
        });
        throw new ConfigError(`${file}: invalid configuration:\n  ${[...new Set(lines)].join("\n  ")}`);
    }
    return obj as Partial<ProviderConfigFile>;
}

const SECTIONS = sectionKeys();

/**
 * Defaults under the file: a section the file names only partly keeps the defaults of the keys it leaves out.
 * `models` is a map of the user's own names, so it has no defaults to merge.
 */
function mergeDefaults(file: Partial<ProviderConfigFile>): ProviderConfigFile {
    const d = defaultConfigFile();
    const merged: Record<string, unknown> = {...d, ...file, models: {...file.models}};
    const defaults: Record<string, unknown> = d;
    const given: Record<string, unknown> = file;
    for (const key of SECTIONS) merged[key] = {...(defaults[key] as object), ...(given[key] as object | undefined)};
    // Every key of the defaults is still present and each section is a default section overlaid with validated values.
    return merged as ProviderConfigFile;
}

function isLogLevel(value: string): value is ProviderConfigFile["log_level"] {
    return (LOG_LEVELS as readonly string[]).includes(value);
}

function envOverrides(env: NodeJS.ProcessEnv, file: string): Partial<ProviderConfigFile> & {apiKey?: string} {
    const out: Partial<ProviderConfigFile> & {apiKey?: string} = {};
    const port = env[ENV.port];
    if (port != null && port !== "") {
        const n = Number(port);
        if (!Number.isInteger(n) || n < 0 || n > 65535)
            throw new ConfigError(`environment ${ENV.port} (overriding ${file}): key "server_port": expected an integer from 0 to 65535, got ${JSON.stringify(port)}`);
        out.server_port = n;
    }
    if (env[ENV.host]) out.server_host = env[ENV.host];
    if (env[ENV.modelsDir]) out.models_dir = env[ENV.modelsDir];
    if (env[ENV.apiKey]) out.apiKey = env[ENV.apiKey];
    const level = env[ENV.logLevel];
    if (level) {
        if (!isLogLevel(level))
            throw new ConfigError(`environment ${ENV.logLevel}: expected one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(level)}`);
        out.log_level = level;
    }
    return out;
}

/**
 * Reads, validates and resolves the configuration: defaults, then the file, then the environment, then `overrides`.
 * A missing file is fine (defaults apply); an unreadable or invalid one throws ConfigError.
 */
export function loadConfig(opts: LoadOptions = {}): ProviderConfig {
    const env = opts.env ?? process.env;
    const platform = opts.platform ?? currentPlatform();
    const p = pathApi(platform);
    const home = p.resolve(opts.home ?? env[ENV.home] ?? defaultProviderHome(env, platform));
    const configPath = p.resolve(home, opts.configPath ?? env[ENV.config] ?? p.join("config", "provider_config.json"));

    let fileValues: Partial<ProviderConfigFile> = {};
    let configFileExists = false;
    let text: string | undefined;
    try {
        text = fs.readFileSync(configPath, "utf8");
        configFileExists = true;
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== "ENOENT")
            throw new ConfigError(`${configPath}: cannot read the configuration file (${code ?? String(err)}); check its permissions`);
    }
    if (text != null) {
        let parsed: unknown;
        try {
            parsed = JSON.parse(text.replace(/^\uFEFF/, ""));
        } catch (err) {
            throw new ConfigError(`${configPath}: not valid JSON (${(err as Error).message}); fix the syntax or delete the file to use the defaults`);
        }
        fileValues = validateConfigObject(parsed, configPath);
    }

    const fromEnv = envOverrides(env, configPath);
    const {apiKey: envKey, ...envValues} = fromEnv;
    const merged = mergeDefaults({...fileValues, ...envValues, ...opts.overrides});
    if (opts.overrides) validateConfigObject({...merged}, `${configPath} (with overrides)`);

    const paths = {
        models: resolveConfigPath(merged.models_dir, home, "models_dir", configPath, platform),
        logs: resolveConfigPath(merged.logs_dir, home, "logs_dir", configPath, platform),
        registry: resolveConfigPath(merged.registry_file, home, "registry_file", configPath, platform),
        promptStates: resolveConfigPath(merged.prompt_cache.dir, home, "prompt_cache.dir", configPath, platform)
    };

    let apiKey: string | null = merged.auth.api_key ?? null;
    let apiKeySource: ProviderConfig["apiKeySource"] = apiKey ? "config" : "none";
    if (merged.auth.api_key_file) {
        const keyPath = resolveConfigPath(merged.auth.api_key_file, home, "auth.api_key_file", configPath, platform);
        try {
            const k = fs.readFileSync(keyPath, "utf8").trim();
            if (k === "") throw new ConfigError(`${configPath}: key "auth.api_key_file": ${keyPath} is empty; put the API key in it or run npm run setup`);
            apiKey = k;
            apiKeySource = "file";
        } catch (err) {
            if (err instanceof ConfigError) throw err;
            throw new ConfigError(`${configPath}: key "auth.api_key_file": cannot read ${keyPath} (${(err as NodeJS.ErrnoException).code ?? String(err)}); create it or run npm run setup`);
        }
    }
    if (envKey) {
        apiKey = envKey;
        apiKeySource = "env";
    }
    if (merged.auth.enable_api_key && !apiKey)
        throw new ConfigError(`${configPath}: key "auth.api_key": expected an API key because auth.enable_api_key is true; ` +
            `set auth.api_key, auth.api_key_file or ${ENV.apiKey}, or set auth.enable_api_key to false`);

    return {...merged, home, configPath, configFileExists, paths, apiKey, apiKeySource};
}

/** Parses `--home DIR` and `--config FILE` (and `--flag=value`) out of argv; the rest is returned untouched. */
export function parseCommonArgs(argv: string[]): {home?: string; configPath?: string; rest: string[]} {
    const out: {home?: string; configPath?: string; rest: string[]} = {rest: []};
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i]!;
        const [flag, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
        if (flag === "--home" || flag === "--config") {
            const v = inline ?? argv[++i];
            if (v == null || v === "") throw new ConfigError(`${flag} needs a value`);
            if (flag === "--home") out.home = v;
            else out.configPath = v;
        } else out.rest.push(a);
    }
    return out;
}
