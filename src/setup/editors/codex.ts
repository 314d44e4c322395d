/**
 * Codex CLI: ~/.codex/config.toml gets a model provider for this server (the Responses API, which is the only one
 * Codex speaks) and a profile that uses it. The user's default model and provider stay: `codex --profile
 * zombiecoder` picks the local one.
 */
import {mergeTomlTables, TomlMergeError} from "./toml.js";
import {EditorMergeError, type MergeResult, type ProviderFacts} from "./facts.js";

export const CODEX_PROVIDER_ID = "zombiecoder";

export function mergeCodex(before: string | null, f: ProviderFacts, file: string): MergeResult {
    try {
        const text = mergeTomlTables(before ?? "", [
            {
                path: ["model_providers", CODEX_PROVIDER_ID],
                values: {
                    name: "ZombieCoder Provider", base_url: `${f.baseUrl}/v1`, wire_api: "responses",
                    // A long prompt on a CPU can take minutes before its first token; Codex would give up sooner.
                    stream_idle_timeout_ms: 600_000,
                    ...(f.key ? {http_headers: {"x-api-key": f.key}} : {})
                }
            },
            {path: ["profiles", CODEX_PROVIDER_ID], values: {model: f.model, model_provider: CODEX_PROVIDER_ID}}
        ], `ZombieCoder Provider, written by npm run setup: codex --profile ${CODEX_PROVIDER_ID}`);
        return {text, notes: [`start Codex with: codex --profile ${CODEX_PROVIDER_ID}`]};
    } catch (err) {
        if (err instanceof TomlMergeError) throw new EditorMergeError(`${file}: ${err.message}`);
        throw err;
    }
}
