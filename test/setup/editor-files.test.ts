/** The careful file editors behind the editors step: JSON with comments, TOML tables, YAML documents, each merge. */
import {describe, expect, test} from "vitest";
import YAML from "yaml";
import {mergeAider} from "../../src/setup/editors/aider.js";
import {mergeClaudeCode} from "../../src/setup/editors/claude-code.js";
import {mergeCodex} from "../../src/setup/editors/codex.js";
import {mergeContinue} from "../../src/setup/editors/continue.js";
import {EditorMergeError, type ProviderFacts} from "../../src/setup/editors/facts.js";
import {getJsonc, JsoncError, parseJsonc, setJsonc} from "../../src/setup/editors/jsonc.js";
import {mergeTomlTables, TomlMergeError} from "../../src/setup/editors/toml.js";
import {mergeZed} from "../../src/setup/editors/zed.js";

const FACTS: ProviderFacts = {baseUrl: "http://127.0.0.1:8007", key: "zc-secret-key", model: "qwen2.5-coder-7b", contextSize: 8192, tools: true, fimModel: null};

describe("JSON with comments", () => {
    const zed = `// Zed settings
{
  "theme": "One Dark", // my theme
  /* fonts */
  "buffer_font_size": 15,
  "language_models": {
    "anthropic": {"version": "1"},
  },
}
`;

    test("setting a new nested value keeps every other byte: comments, order, trailing commas", () => {
        const out = setJsonc(zed, ["language_models", "ollama", "api_url"], "http://127.0.0.1:8007");
        expect(out).toBe(`// Zed settings
{
  "theme": "One Dark", // my theme
  /* fonts */
  "buffer_font_size": 15,
  "language_models": {
    "anthropic": {"version": "1"},
    "ollama": {
      "api_url": "http://127.0.0.1:8007"
    },
  },
}
`);
        expect(getJsonc(out, ["language_models", "ollama", "api_url"])).toBe("http://127.0.0.1:8007");
        expect(getJsonc(out, ["theme"])).toBe("One Dark");
    });

    test("replacing a value touches only that value; appending to an array keeps the items before it", () => {
        const text = `{\n    "a": 1, // keep\n    "list": [\n        {"name": "x"} // first\n    ]\n}\n`;
        expect(setJsonc(text, ["a"], 2)).toBe(`{\n    "a": 2, // keep\n    "list": [\n        {"name": "x"} // first\n    ]\n}\n`);
        const appended = setJsonc(text, ["list", 1], {name: "y"});
        expect(appended).toBe(`{\n    "a": 1, // keep\n    "list": [\n        {"name": "x"}, // first\n        {\n            "name": "y"\n        }\n    ]\n}\n`);
        expect(getJsonc(appended, ["list"])).toEqual([{name: "x"}, {name: "y"}]);
        expect(setJsonc(appended, ["list", 0], {name: "z"})).toContain(`{\n            "name": "z"\n        }, // first`);
    });

    test("an empty or missing file becomes an object; CRLF files stay CRLF", () => {
        expect(setJsonc("", ["env", "A"], "1")).toBe(`{\n  "env": {\n    "A": "1"\n  }\n}\n`);
        expect(setJsonc("{}", ["env", "A"], "1")).toBe(`{\n  "env": {\n    "A": "1"\n  }\n}`);
        const crlf = `{\r\n  "a": 1\r\n}\r\n`;
        expect(setJsonc(crlf, ["b"], true)).toBe(`{\r\n  "a": 1,\r\n  "b": true\r\n}\r\n`);
    });

    test("broken files and wrong shapes are refused, never rewritten", () => {
        expect(() => setJsonc(`{"a": 1,, }`, ["b"], 1)).toThrow(JsoncError);
        expect(() => setJsonc(`{"a": /* open`, ["b"], 1)).toThrow(/unterminated/);
        expect(() => setJsonc(`{"env": "x"}`, ["env", "A"], 1)).toThrow(/"env" is not an object/);
        expect(parseJsonc("// only a comment\n")).toBeNull();
    });
});

describe("TOML tables", () => {
    const codex = `# my Codex config
model = "gpt-5"

[model_providers.openai-proxy]
name = "proxy"
base_url = "https://proxy.example/v1"

# my profiles
[profiles.fast]
model = "gpt-5-mini"
`;

    test("our tables are appended once, then replaced in place; the user's lines stay", () => {
        const tables = [{path: ["model_providers", "zombiecoder"], values: {name: "Z", base_url: "http://h/v1", wire_api: "responses", http_headers: {"x-api-key": "k\"q"}}}];
        const once = mergeTomlTables(codex, tables, "ours");
        expect(once.startsWith(codex)).toBe(true);
        expect(once.slice(codex.length)).toBe(`\n# ours\n[model_providers.zombiecoder]\nname = "Z"\nbase_url = "http://h/v1"\nwire_api = "responses"\nhttp_headers = { x-api-key = "k\\"q" }\n`);
        expect(mergeTomlTables(once, tables, "ours")).toBe(once);
        const moved = mergeTomlTables(once.replace("# ours\n[model_providers.zombiecoder]", "[model_providers.zombiecoder]\nold = 1\n\n# next\n[x]"), [{...tables[0]!, values: {name: "New"}}], "ours");
        expect(moved).toContain(`[model_providers.zombiecoder]\nname = "New"\n\n# next\n[x]`);
        expect(moved).not.toContain("old = 1");
    });

    test("our table written another way is refused", () => {
        const tables = [{path: ["model_providers", "zombiecoder"], values: {name: "Z"}}];
        expect(() => mergeTomlTables(`model_providers.zombiecoder.name = "x"\n`, tables, "c")).toThrow(TomlMergeError);
        expect(() => mergeTomlTables(`[model_providers]\nzombiecoder = { name = "x" }\n`, tables, "c")).toThrow(/outside a \[model_providers.zombiecoder\] table/);
        expect(() => mergeTomlTables(`[model_providers.zombiecoder.http_headers]\na = "b"\n`, tables, "c")).toThrow(/inside model_providers.zombiecoder/);
    });
});

describe("each editor's merge", () => {
    test("Continue: our models join the user's, comments and other keys stay, and a second merge changes nothing", () => {
        const before = `# my Continue config
name: Mine
version: 1.0.0
schema: v1
models:
  - name: GPT
    provider: openai
    model: gpt-4o # the cloud one
context:
  - provider: code
`;
        const once = mergeContinue(before, {...FACTS, fimModel: "qwen-fim"}, "config.yaml").text;
        expect(once).toContain("# my Continue config");
        expect(once).toContain("model: gpt-4o # the cloud one");
        expect(once).toContain("context:\n  - provider: code");
        const doc = YAML.parse(once) as {models: Array<Record<string, unknown>>};
        expect(doc.models.map((m) => m.name)).toEqual(["GPT", "ZombieCoder qwen2.5-coder-7b", "ZombieCoder qwen-fim (autocomplete)"]);
        expect(doc.models[1]).toMatchObject({provider: "ollama", model: "qwen2.5-coder-7b", apiBase: FACTS.baseUrl, apiKey: FACTS.key, roles: ["chat", "edit", "apply"]});
        expect(mergeContinue(once, {...FACTS, fimModel: "qwen-fim"}, "config.yaml").text).toBe(once);
        // Another model next time: ours are replaced where they stand, the user's stay.
        const next = YAML.parse(mergeContinue(once, {...FACTS, model: "other"}, "config.yaml").text) as {models: Array<{name: string}>};
        expect(next.models.map((m) => m.name)).toEqual(["GPT", "ZombieCoder other"]);
        expect(() => mergeContinue("models: 3\n", FACTS, "config.yaml")).toThrow(EditorMergeError);
        expect(() => mergeContinue("models: [\n", FACTS, "config.yaml")).toThrow(/not valid YAML/);
    });

    test("aider: the model and our two variables; other set-env entries stay", () => {
        const before = "# aider\nmodel: gpt-4o\nset-env:\n  - FOO=bar\n  - OLLAMA_API_BASE=http://old:11434\ndark-mode: true\n";
        const out = mergeAider(before, FACTS, ".aider.conf.yml").text;
        expect(out).toBe("# aider\nmodel: ollama_chat/qwen2.5-coder-7b\nset-env:\n  - FOO=bar\n  - OLLAMA_API_BASE=http://127.0.0.1:8007\n  - OLLAMA_API_KEY=zc-secret-key\ndark-mode: true\n");
        expect(mergeAider(out, FACTS, ".aider.conf.yml").text).toBe(out);
        expect(YAML.parse(mergeAider(null, FACTS, "f").text)).toEqual({"model": "ollama_chat/qwen2.5-coder-7b", "set-env": ["OLLAMA_API_BASE=http://127.0.0.1:8007", "OLLAMA_API_KEY=zc-secret-key"]});
    });

    test("Zed: its Ollama provider when free; an OpenAI-compatible one when the user's Ollama points elsewhere", () => {
        const free = mergeZed(`{\n  // mine\n  "vim_mode": true\n}\n`, FACTS, "settings.json").text;
        expect(free).toContain(`// mine\n  "vim_mode": true,\n  "language_models": {`);
        expect(getJsonc(free, ["language_models", "ollama"])).toEqual({
            api_url: FACTS.baseUrl, available_models: [{name: FACTS.model, display_name: `${FACTS.model} (ZombieCoder)`, max_tokens: 8192, supports_tools: true}]
        });
        expect(free).not.toContain(FACTS.key!);
        expect(mergeZed(free, FACTS, "settings.json").text).toBe(free);
        const theirs = `{"language_models": {"ollama": {"api_url": "http://localhost:11434", "available_models": [{"name": "llama3"}]}}}`;
        const out = mergeZed(theirs, FACTS, "settings.json").text;
        expect(getJsonc(out, ["language_models", "ollama"])).toEqual({api_url: "http://localhost:11434", available_models: [{name: "llama3"}]});
        expect(getJsonc(out, ["language_models", "openai_compatible", "ZombieCoder", "api_url"])).toBe(`${FACTS.baseUrl}/v1`);
    });

    test("Claude Code: the env variables join the user's; other settings stay", () => {
        const before = `{\n  "permissions": {"allow": ["Bash(ls)"]},\n  "env": {"MY_VAR": "1"}\n}\n`;
        const out = mergeClaudeCode(before, FACTS, "settings.json").text;
        expect(getJsonc(out, ["permissions"])).toEqual({allow: ["Bash(ls)"]});
        expect(getJsonc(out, ["env"])).toMatchObject({MY_VAR: "1", ANTHROPIC_BASE_URL: FACTS.baseUrl, ANTHROPIC_AUTH_TOKEN: FACTS.key, ANTHROPIC_MODEL: FACTS.model});
        expect(mergeClaudeCode(out, FACTS, "settings.json").text).toBe(out);
        expect(() => mergeClaudeCode(`{"env": []}`, FACTS, "settings.json")).toThrow(EditorMergeError);
    });

    test("Codex: a provider on the Responses API and a profile; the user's default model stays", () => {
        const out = mergeCodex(`model = "gpt-5"\n`, FACTS, "config.toml").text;
        expect(out.startsWith(`model = "gpt-5"\n`)).toBe(true);
        expect(out).toContain(`[model_providers.zombiecoder]\nname = "ZombieCoder Provider"\nbase_url = "http://127.0.0.1:8007/v1"\nwire_api = "responses"\nstream_idle_timeout_ms = 600000\nhttp_headers = { x-api-key = "zc-secret-key" }\n`);
        expect(out).toContain(`[profiles.zombiecoder]\nmodel = "qwen2.5-coder-7b"\nmodel_provider = "zombiecoder"\n`);
        expect(mergeCodex(out, FACTS, "config.toml").text).toBe(out);
    });
});
