/** Editor configuration for the provider, shown once with the new key and kept (without the key) in the summary. */

export interface SnippetOptions {
    /** http://127.0.0.1:8007 */
    baseUrl: string;
    /** The key itself (printed once on the terminal) or a placeholder naming where it is (everything written to disk). */
    key: string;
    model: string;
}

export function editorSnippets(o: SnippetOptions): string {
    return [
        "Continue (VS Code / JetBrains), ~/.continue/config.yaml:",
        "  models:",
        `    - name: ZombieCoder ${o.model}`,
        "      provider: ollama",
        `      model: ${o.model}`,
        `      apiBase: ${o.baseUrl}`,
        `      apiKey: ${o.key}`,
        "      roles: [chat, edit, apply]",
        "",
        "Claude Code: ANTHROPIC_BASE_URL=" + o.baseUrl + ` ANTHROPIC_AUTH_TOKEN=${o.key} ANTHROPIC_MODEL=${o.model} claude`,
        "",
        "Any Ollama client (Open WebUI, Cline, Zed, ...): Ollama URL",
        `  ${o.baseUrl}`,
        `  with the header "x-api-key: ${o.key}" (or "Authorization: Bearer ${o.key}")`,
        "",
        "Check it from a shell:",
        `  curl -H "x-api-key: ${o.key}" ${o.baseUrl}/api/tags`
    ].join("\n");
}
