/**
 * The config step: config/provider_config.json with the defaults (paths relative to the home) when it is missing, a diff and
 * a question before an existing one changes, and a generated API key in the git-ignored key file in place of the
 * published placeholder.
 */
import fs from "node:fs";
import path from "node:path";
import {randomBytes} from "node:crypto";
import {ENV, loadConfig} from "../../config/load.js";
import {defaultConfigFile, SEED_DEFAULT_API_KEY} from "../../config/schema.js";
import {readIndex} from "../../registry/index-file.js";
import {chooseBestModel} from "../best-model.js";
import {lineDiff} from "../diff.js";
import {editorSnippets} from "./editor-snippets.js";
import {DEFAULT_KEY_FILE} from "./repo.js";
import {configFilePath, readRawConfig} from "./setup-config.js";
import {defineStep, outcome, StepError, type StepContext} from "./contract.js";

type Json = Record<string, unknown>;

interface ConfigPlan {
    file: string;
    exists: boolean;
    changes: string[];
    keyFile: string | null;
}

export interface ConfigData {
    config_file: string;
    action: "created" | "updated" | "unchanged" | "kept (config:overwrite denied)";
    changes: string[];
    key_file: string | null;
    key_generated: boolean;
    api_key_source: string;
}

const KEY_FILE_SETTING = DEFAULT_KEY_FILE.split(path.sep).join("/");
const SECRET_KEYS = /"(api_key|hf_token|token|password)":\s*"(?!zombie-local-please-change")[^"]*"/g;

function isObj(v: unknown): v is Json {
    return v != null && typeof v === "object" && !Array.isArray(v);
}

/**
 * An absolute path inside the home becomes relative, so the home can move: the first published config's
 * `C:\model\models` becomes `models` when the home is `C:\model`.
 */
function relativeIfInside(home: string, value: unknown): string | null {
    if (typeof value !== "string" || !path.isAbsolute(value)) return null;
    const rel = path.relative(home, value);
    if (rel === "" || rel.startsWith("..") || path.isAbsolute(rel)) return null;
    return rel.split(path.sep).join("/");
}

/** What the file should contain, and the changes in words. Pure apart from reading the key file's existence. */
export function desiredConfig(home: string, raw: Json | null): {content: Json; changes: string[]} {
    if (raw == null) {
        const d = defaultConfigFile();
        return {
            content: {...d, auth: {...d.auth, api_key: null, api_key_file: KEY_FILE_SETTING}} as unknown as Json,
            changes: ["create the file with the defaults (paths relative to the home)", `API key in ${KEY_FILE_SETTING} instead of the published placeholder`]
        };
    }
    const content: Json = structuredClone(raw);
    const changes: string[] = [];
    for (const key of ["models_dir", "logs_dir", "registry_file"]) {
        const rel = relativeIfInside(home, content[key]);
        if (rel != null) {
            changes.push(`${key}: ${String(content[key])} -> ${rel} (relative to the home)`);
            content[key] = rel;
        }
    }
    const auth: Json = isObj(content.auth) ? {...content.auth} : {};
    const enabled = auth.enable_api_key !== false;
    const key = auth.api_key;
    if (enabled && !auth.api_key_file && (key == null || key === SEED_DEFAULT_API_KEY)) {
        changes.push(`auth: the published placeholder key is replaced by a generated key in ${KEY_FILE_SETTING} (auth.api_key_file)`);
        auth.api_key = null;
        auth.api_key_file = KEY_FILE_SETTING;
    }
    if (changes.length > 0) content.auth = auth;
    return {content, changes};
}

export function redactSecrets(text: string): string {
    return text.replace(SECRET_KEYS, (_m, k: string) => `"${k}": "[redacted]"`);
}

export function generateApiKey(): string {
    return `zc-${randomBytes(32).toString("base64url")}`;
}

function serialize(content: Json): string {
    return `${JSON.stringify(content, null, 2)}\n`;
}

function keyFileFrom(home: string, content: Json | null): string | null {
    const auth = content && isObj(content.auth) ? content.auth : null;
    if (!auth || auth.enable_api_key === false || typeof auth.api_key_file !== "string" || auth.api_key_file === "") return null;
    return path.resolve(home, auth.api_key_file);
}

function keyFileMissing(file: string | null): boolean {
    if (!file) return false;
    try {
        return fs.readFileSync(file, "utf8").trim() === "";
    } catch {
        return true;
    }
}

function rel(home: string, p: string): string {
    const r = path.relative(home, p);
    return r.startsWith("..") || path.isAbsolute(r) ? p : r.split(path.sep).join("/");
}

async function ensureKeyIgnored(ctx: StepContext, keyFile: string): Promise<string | null> {
    if (!ctx.git.hasRepo()) return null;
    const r = rel(ctx.home, keyFile);
    if (path.isAbsolute(r)) return null;
    if ((await ctx.git.ignored([r])).has(r)) return null;
    const gi = path.join(ctx.home, ".gitignore");
    const text = fs.existsSync(gi) ? fs.readFileSync(gi, "utf8") : "";
    fs.writeFileSync(gi, `${text}${text === "" || text.endsWith("\n") ? "" : "\n"}# the API key file never enters git\n${r}\n`);
    return r;
}

/** The model the snippets name: the best installed chat model (see chooseBestModel), read from the index the models step wrote. */
async function snippetModel(ctx: StepContext): Promise<string | null> {
    const cfg = ctx.config();
    const models = (await readIndex(cfg.paths.registry))?.models ?? [];
    return chooseBestModel(models, cfg).model?.name ?? null;
}

export const configStep = defineStep<ConfigPlan>({
    id: "config",

    async prepare(ctx) {
        const file = configFilePath(ctx.configSource);
        const raw = readRawConfig(file);
        const exists = fs.existsSync(file);
        if (exists && raw == null) throw new StepError(`${file} is not a JSON object; fix or delete it and run setup again`);
        const {content, changes} = desiredConfig(ctx.home, raw);
        const keyFile = keyFileFrom(ctx.home, content);
        const summary: string[] = [];
        const approvals = [];
        if (!exists) summary.push(`write ${rel(ctx.home, file)} with the defaults (paths relative to the home)`);
        else if (changes.length === 0) summary.push(`${rel(ctx.home, file)} needs no change`);
        else {
            const diff = redactSecrets(lineDiff(fs.readFileSync(file, "utf8"), serialize(content)));
            summary.push(`change ${rel(ctx.home, file)} (asks config:overwrite): ${changes.join("; ")}`);
            approvals.push({
                id: "config:overwrite", kind: "config" as const,
                title: `Change the existing ${rel(ctx.home, file)}`,
                details: `Changes:\n${changes.map((c) => `  - ${c}`).join("\n")}\nDiff (secrets redacted):\n${diff}\n` +
                    "The current version is committed by the git gate before this step, so it can be restored from git."
            });
        }
        if (keyFileMissing(keyFile)) summary.push(`generate an API key into ${rel(ctx.home, keyFile!)} (git-ignored) and print it once`);
        return {summary, approvals, data: {file, exists, changes, keyFile}};
    },

    async apply(ctx, _plan, decisions) {
        const file = configFilePath(ctx.configSource);
        const raw = readRawConfig(file);
        const {content, changes} = desiredConfig(ctx.home, raw);
        const findings: string[] = [];
        const warnings: string[] = [];
        let action: ConfigData["action"] = "unchanged";
        let finalContent: Json | null = raw;
        if (raw == null) {
            fs.mkdirSync(path.dirname(file), {recursive: true});
            fs.writeFileSync(file, serialize(content));
            action = "created";
            finalContent = content;
            findings.push(`wrote ${rel(ctx.home, file)} with the defaults`);
        } else if (changes.length > 0) {
            if (decisions["config:overwrite"] === "approve") {
                fs.writeFileSync(file, serialize(content));
                action = "updated";
                finalContent = content;
                findings.push(`updated ${rel(ctx.home, file)}: ${changes.join("; ")}`);
            } else {
                action = "kept (config:overwrite denied)";
                findings.push(`kept ${rel(ctx.home, file)} unchanged (config:overwrite denied); wanted: ${changes.join("; ")}`);
            }
        }

        const keyFile = keyFileFrom(ctx.home, finalContent);
        let generated = false;
        if (keyFile && keyFileMissing(keyFile)) {
            const ignoredNow = await ensureKeyIgnored(ctx, keyFile);
            if (ignoredNow) warnings.push(`.gitignore did not cover the key file; added ${ignoredNow}`);
            const key = generateApiKey();
            fs.mkdirSync(path.dirname(keyFile), {recursive: true});
            fs.writeFileSync(keyFile, `${key}\n`, {mode: 0o600});
            generated = true;
            findings.push(`generated an API key in ${rel(ctx.home, keyFile)} (git-ignored)`);
            const cfg = loadConfig({home: ctx.home, configPath: ctx.configSource.configPath, env: ctx.env});
            const host = cfg.server_host === "0.0.0.0" || cfg.server_host === "::" ? "127.0.0.1" : cfg.server_host;
            ctx.out([
                "",
                `Your API key (shown once; it is stored in ${keyFile}):`,
                `  ${key}`,
                "",
                editorSnippets({baseUrl: `http://${host.includes(":") ? `[${host}]` : host}:${cfg.server_port}`, key, model: (await snippetModel(ctx)) ?? "<model name from npm run scan>"}),
                ""
            ].join("\n"));
        } else if (keyFile) {
            const ignoredNow = await ensureKeyIgnored(ctx, keyFile);
            if (ignoredNow) warnings.push(`.gitignore did not cover the key file; added ${ignoredNow}`);
        }

        // The config must load as the provider will load it, with no setup fallback.
        const cfg = loadConfig({home: ctx.home, configPath: ctx.configSource.configPath, env: ctx.env});
        if (cfg.apiKey === SEED_DEFAULT_API_KEY) warnings.push(`the provider still uses the published placeholder key "${SEED_DEFAULT_API_KEY}": approve config:overwrite or set auth.api_key_file`);
        if (ctx.env[ENV.apiKey]) warnings.push(`${ENV.apiKey} is set in the environment and overrides the configured key`);
        const data: ConfigData = {
            config_file: file, action, changes, key_file: keyFile ?? (cfg.apiKeySource === "file" && cfg.auth.api_key_file ? path.resolve(ctx.home, cfg.auth.api_key_file) : null),
            key_generated: generated, api_key_source: cfg.apiKeySource
        };
        const status = action.startsWith("kept") ? "denied" : "done";
        return outcome(status, `${rel(ctx.home, file)} ${action}${generated ? ", new API key generated" : ""}`, {
            findings, warnings, data: {...data}, reason: status === "denied" ? "config:overwrite denied" : undefined
        });
    }
});
