/**
 * Zed: settings.json (JSON with comments). Setup uses Zed's Ollama provider (`language_models.ollama`) when it is free
 * or already points here; when the user's Ollama provider points at a real Ollama, it adds an OpenAI-compatible
 * provider "ZombieCoder" instead, so their Ollama keeps working. Zed keeps API keys in the system keychain, never in
 * settings.json, so the key is entered once in Zed itself.
 */
import {getJsonc, JsoncError, setJsonc} from "./jsonc.js";
import {EditorMergeError, OUR_PREFIX, type MergeResult, type ProviderFacts} from "./facts.js";

function sameUrl(a: unknown, b: string): boolean {
    return typeof a === "string" && a.replace(/\/+$/, "") === b.replace(/\/+$/, "");
}

export function mergeZed(before: string | null, f: ProviderFacts, file: string): MergeResult {
    const text = before ?? "";
    try {
        const ollamaUrl = getJsonc(text, ["language_models", "ollama", "api_url"]);
        const display = `${f.model} (${OUR_PREFIX})`;
        if (ollamaUrl === undefined || sameUrl(ollamaUrl, f.baseUrl)) {
            let out = setJsonc(text, ["language_models", "ollama", "api_url"], f.baseUrl);
            const model = {name: f.model, display_name: display, max_tokens: f.contextSize, supports_tools: f.tools};
            const list = getJsonc(out, ["language_models", "ollama", "available_models"]);
            if (list !== undefined && !Array.isArray(list)) throw new EditorMergeError(`${file}: language_models.ollama.available_models is not a list`);
            const items = (list ?? []) as unknown[];
            const at = items.findIndex((m) => m != null && typeof m === "object" && (m as Record<string, unknown>).name === f.model);
            out = list === undefined ? setJsonc(out, ["language_models", "ollama", "available_models"], [model])
                : setJsonc(out, ["language_models", "ollama", "available_models", at === -1 ? items.length : at], model);
            return {text: out, notes: ["in Zed, open Agent → Settings → Ollama and paste the key (Zed keeps it in the system keychain), or start Zed with OLLAMA_API_KEY set to it"]};
        }
        const out = setJsonc(text, ["language_models", "openai_compatible", OUR_PREFIX], {
            api_url: `${f.baseUrl}/v1`,
            available_models: [{name: f.model, display_name: display, max_tokens: f.contextSize, capabilities: {tools: f.tools, images: false, parallel_tool_calls: false, prompt_cache_key: false}}]
        });
        return {
            text: out,
            notes: [`your Ollama provider points at ${String(ollamaUrl)}, so it stays; the provider is Zed's OpenAI-compatible "${OUR_PREFIX}": paste the key in Agent → Settings → ${OUR_PREFIX}`]
        };
    } catch (err) {
        if (err instanceof JsoncError) throw new EditorMergeError(`${file}: ${err.message}; setup edits only valid settings`);
        throw err;
    }
}
