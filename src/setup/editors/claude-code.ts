/**
 * Claude Code: the "env" of ~/.claude/settings.json, which Claude Code applies to every session: the provider's
 * Anthropic Messages API, the key (as a bearer token) and the model. Other settings and other variables stay.
 */
import {getJsonc, JsoncError, setJsonc} from "./jsonc.js";
import {EditorMergeError, type MergeResult, type ProviderFacts} from "./facts.js";
import {commandHint} from "../../command-hint.js";

export function claudeCodeEnv(f: ProviderFacts): Record<string, string> {
    return {
        ANTHROPIC_BASE_URL: f.baseUrl,
        ...(f.key ? {ANTHROPIC_AUTH_TOKEN: f.key} : {}),
        ANTHROPIC_MODEL: f.model,
        // Its background model (titles, summaries): the same local model, or it would ask for a name nobody serves.
        ANTHROPIC_SMALL_FAST_MODEL: f.model,
        ANTHROPIC_DEFAULT_HAIKU_MODEL: f.model,
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1"
    };
}

export function mergeClaudeCode(before: string | null, f: ProviderFacts, file: string): MergeResult {
    let text = before ?? "";
    try {
        const env = getJsonc(text, ["env"]);
        if (env !== undefined && (env == null || typeof env !== "object" || Array.isArray(env))) throw new EditorMergeError(`${file}: "env" is not an object`);
        for (const [k, v] of Object.entries(claudeCodeEnv(f))) text = setJsonc(text, ["env", k], v);
    } catch (err) {
        if (err instanceof JsoncError) throw new EditorMergeError(`${file}: ${err.message}; setup edits only valid settings`);
        throw err;
    }
    const notes = [`every Claude Code session now uses the local model; ${commandHint("setup", "--restore-editors")} undoes it`];
    if (!f.tools) notes.push(`${f.model} has no tools capability, and Claude Code always sends tools: it may refuse to work`);
    return {text, notes};
}
