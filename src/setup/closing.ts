/**
 * The lines every setup run ends with: where the provider answers, where the API key is and how to read it in bash
 * and PowerShell (never the key itself: only the config step's first run prints it), and snippets that name the
 * best installed model, or how to add a model when there is none.
 */
import path from "node:path";
import type {ProviderConfig} from "../config/load.js";
import {readIndex} from "../registry/index-file.js";
import type {ModelEntry} from "../registry/types.js";
import {quotePosixArg} from "../service/quote.js";
import {chooseBestModel, type BestModelChoice} from "./best-model.js";
import {providerBaseUrl} from "./provider-url.js";
import {editorSnippets} from "./steps/editor-snippets.js";
import {commandHint} from "../command-hint.js";

export interface ClosingFacts {
    baseUrl: string;
    /** The key file when the key lives in one. */
    keyFile: string | null;
    /** The configured key file does not exist yet: the config step did not get to write it. */
    keyFileMissing: boolean;
    keySource: ProviderConfig["apiKeySource"];
    keyRequired: boolean;
    configFile: string;
    choice: BestModelChoice;
    modelsDir: string;
}

/** A PowerShell single-quoted string: nothing inside is expanded, and a quote is doubled. */
export function quotePowerShell(s: string): string {
    return `'${s.replace(/'/g, "''")}'`;
}

/** How to put the key in a variable, in each shell. */
export function keyReadCommands(keyFile: string): {bash: string; powershell: string} {
    return {
        bash: `KEY=$(cat ${quotePosixArg(keyFile)})`,
        powershell: `$KEY = (Get-Content -Raw -LiteralPath ${quotePowerShell(keyFile)}).Trim()`
    };
}

/** `missingKeyFile`: the key file the config names but that does not exist yet (the config was loaded with a stand-in key). */
export async function closingFacts(config: ProviderConfig, duplicateCopies: ReadonlySet<string>, missingKeyFile: string | null = null): Promise<ClosingFacts> {
    const index = await readIndex(config.paths.registry);
    const models: ModelEntry[] = index?.models ?? [];
    const keyFile = missingKeyFile ?? (config.apiKeySource === "file" && config.auth.api_key_file ? path.resolve(config.home, config.auth.api_key_file) : null);
    return {
        baseUrl: providerBaseUrl(config.server_host, config.server_port), keyFile, keyFileMissing: missingKeyFile != null,
        keySource: missingKeyFile ? "file" : config.apiKeySource, keyRequired: config.auth.enable_api_key,
        configFile: config.configPath, choice: chooseBestModel(models, config, duplicateCopies), modelsDir: config.paths.models
    };
}

interface KeyLines {
    lines: string[];
    /** What the editor snippets show in the key's place. */
    placeholder: string;
    /** The key as a variable in each shell, when the lines above put it in one. */
    bashKey: string | null;
    psKey: string | null;
}

function keyLines(f: ClosingFacts): KeyLines {
    if (!f.keyRequired) return {lines: ["API key: none needed (auth.enable_api_key is false)."], placeholder: "any-value", bashKey: null, psKey: null};
    if (f.keyFile && f.keyFileMissing)
        return {lines: [`API key: not generated yet; the config step writes it to ${f.keyFile} (run npm run setup again to get there).`], placeholder: `<the key in ${f.keyFile}>`, bashKey: "$KEY", psKey: "$KEY"};
    if (f.keyFile) {
        const read = keyReadCommands(f.keyFile);
        return {
            lines: [
                `API key: in ${f.keyFile} (git-ignored; not shown again). Put it in a variable:`,
                `  bash:        ${read.bash}`,
                `  PowerShell:  ${read.powershell}`
            ],
            placeholder: `<the key in ${f.keyFile}>`, bashKey: "$KEY", psKey: "$KEY"
        };
    }
    if (f.keySource === "env") return {lines: ["API key: the ZOMBIECODER_API_KEY environment variable of the provider's process."], placeholder: "<your ZOMBIECODER_API_KEY>",
        bashKey: "$ZOMBIECODER_API_KEY", psKey: "$env:ZOMBIECODER_API_KEY"};
    return {lines: [`API key: auth.api_key in ${f.configFile}.`], placeholder: `<auth.api_key in ${f.configFile}>`, bashKey: "<KEY>", psKey: "\"<KEY>\""};
}

/** The closing block, ready to print (no trailing newline). */
export function closingLines(f: ClosingFacts): string {
    const out: string[] = [];
    const key = keyLines(f);
    const m = f.choice.model;
    if (!m) {
        out.push("", "No model is installed yet, so there is nothing to chat with. Add one, then run npm run setup again:",
            `  ${commandHint("pull", "hf:Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF:Q4_K_M")}     (any hf:org/repo:QUANT, or an https://…/file.gguf URL)`,
            `  or copy .gguf files into ${f.modelsDir} (or into Ollama, LM Studio or the Hugging Face cache, which are read in place)`);
    } else {
        out.push("", editorSnippets({baseUrl: f.baseUrl, key: key.placeholder, model: m.name}));
        if (f.choice.generated) out.push("", `Only generated test models are installed (random weights): add a real one with npm run pull, or copy .gguf files into ${f.modelsDir}.`);
    }
    out.push("", `Provider URL: ${f.baseUrl}`, ...key.lines);
    if (m) {
        out.push(`Model: ${m.name} (${f.choice.why})`);
        const body = JSON.stringify({model: m.name, messages: [{role: "user", content: "Hello"}], stream: false});
        const header = key.bashKey ? `-H "x-api-key: ${key.bashKey}" ` : "";
        out.push(`Try it (bash):        curl -s ${header}${f.baseUrl}/api/chat -d ${quotePosixArg(body)}`);
        const psHeaders = key.psKey ? ` -Headers @{"x-api-key" = ${key.psKey}}` : "";
        out.push(`Try it (PowerShell):  Invoke-RestMethod -Method Post -Uri ${f.baseUrl}/api/chat${psHeaders} -ContentType "application/json" -Body ${quotePowerShell(body)}`);
    }
    return out.join("\n");
}
