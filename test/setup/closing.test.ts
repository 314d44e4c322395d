/** The best model for snippets, and the lines every setup run ends with. */
import {describe, expect, test} from "vitest";
import {loadConfig} from "../../src/config/load.js";
import type {GgufMetadata, ModelEntry} from "../../src/registry/types.js";
import {chooseBestModel, isGeneratedTestModel} from "../../src/setup/best-model.js";
import {closingLines, keyReadCommands, quotePowerShell, type ClosingFacts} from "../../src/setup/closing.js";

const config = loadConfig({home: "/srv/zc", env: {}, overrides: {ram_threshold_mb: 8000, context_size: 4096}});
const GB = 1e9;

function model(name: string, opts: {size: number; params?: number; generalName?: string; embedding?: boolean; invalid?: boolean; mtime?: number; fingerprint?: string; path?: string}): ModelEntry {
    const metadata: GgufMetadata = {
        architecture: "qwen2", parameter_count: opts.params ?? null, parameter_size: "", quantization: "Q4_K_M", file_type: 15, context_length: 32768,
        embedding_length: 896, has_chat_template: true, chat_template: null, is_embedding: opts.embedding === true, pooling_type: null, has_fim: false,
        supports_tools: true, general_name: opts.generalName ?? name, split_count: 1, block_count: 24, head_count: 14, head_count_kv: 2, vocab_size: 151936
    };
    const p = opts.path ?? `/srv/zc/models/${name}/${name}.gguf`;
    return {
        name, path: p, abs_path: p, files: [p], size_bytes: opts.size, status: opts.invalid ? "invalid" : "unloaded", keep_loaded: true, pinned: false,
        aliases: [], source: "models_dir", read_only: false, projector: null, fingerprint: opts.fingerprint ?? `fp-${name}`,
        modified_at: new Date(opts.mtime ?? 0).toISOString(), mtime_ms: opts.mtime ?? 0, quant_tag: "q4_k_m", base_name: name, metadata
    };
}

describe("the best model", () => {
    test("the largest chat model that fits ram_threshold_mb: not the newest, not a copy, not a generated test model, not one too big", () => {
        const models = [
            model("qwen-1.5b", {size: 1.1 * GB, params: 1.5e9, mtime: 1}),
            model("qwen-7b", {size: 4.7 * GB, params: 7.6e9, mtime: 2}),
            // Newest, and a copy of qwen-7b that the safety review offers for deletion.
            model("qwen-7b-copy", {size: 4.7 * GB, params: 7.6e9, mtime: 99, fingerprint: "fp-qwen-7b", path: "/srv/zc/models/copy/qwen-7b.gguf"}),
            model("llama-70b", {size: 40 * GB, params: 70e9, mtime: 3}),
            model("zombie-big", {size: 6 * GB, params: 9e9, generalName: "ZombieCoder Test llama"}),
            model("embed", {size: 5 * GB, params: 8e9, embedding: true}),
            model("broken", {size: 7 * GB, invalid: true})
        ];
        const choice = chooseBestModel(models, config, new Set(["/srv/zc/models/copy/qwen-7b.gguf"]));
        expect(choice.model?.name).toBe("qwen-7b");
        expect(choice.generated).toBe(false);
        expect(choice.why).toContain("the largest chat model that fits ram_threshold_mb (8000 MB)");
        // Identical files are one model, even when the safety review did not name the copy.
        expect(chooseBestModel(models.filter((m) => m.name !== "qwen-7b"), config).model?.name).toBe("qwen-7b-copy");
    });

    test("only generated test models: the largest of them, said to be one; nothing at all: null", () => {
        const gen = [model("t1", {size: 2e5, params: 1e5, generalName: "ZombieCoder Test llama"}), model("t2", {size: 4e8, params: 3.6e8, generalName: "ZombieCoder Test qwen2"})];
        expect(isGeneratedTestModel(gen[0]!)).toBe(true);
        const c = chooseBestModel(gen, config);
        expect(c).toMatchObject({model: {name: "t2"}, generated: true});
        expect(chooseBestModel([], config)).toMatchObject({model: null, why: "no chat model is installed"});
    });
});

function facts(over: Partial<ClosingFacts> = {}): ClosingFacts {
    const qwen = model("qwen-7b", {size: 4.7 * GB, params: 7.6e9});
    return {
        baseUrl: "http://127.0.0.1:8007", keyFile: "/home/jane/my zc/config/api_key.txt", keyFileMissing: false, keySource: "file", keyRequired: true,
        configFile: "/home/jane/my zc/config/provider_config.json", choice: {model: qwen, generated: false, why: "the largest chat model that fits"}, modelsDir: "/home/jane/my zc/models",
        ...over
    };
}

describe("the closing lines", () => {
    test("end with the URL, the key file and how to read it in bash and PowerShell, and snippets naming the model; never the key", () => {
        const text = closingLines(facts());
        const lines = text.split("\n");
        const tail = lines.slice(-8).join("\n");
        expect(tail).toContain("Provider URL: http://127.0.0.1:8007");
        expect(tail).toContain("API key: in /home/jane/my zc/config/api_key.txt");
        expect(tail).toContain(`bash:        KEY=$(cat '/home/jane/my zc/config/api_key.txt')`);
        expect(tail).toContain(`PowerShell:  $KEY = (Get-Content -Raw -LiteralPath '/home/jane/my zc/config/api_key.txt').Trim()`);
        expect(tail).toContain("Model: qwen-7b (the largest chat model that fits)");
        expect(tail).toMatch(/curl -s -H "x-api-key: \$KEY" http:\/\/127\.0\.0\.1:8007\/api\/chat -d '\{"model":"qwen-7b"/);
        expect(tail).toContain(`Invoke-RestMethod -Method Post -Uri http://127.0.0.1:8007/api/chat -Headers @{"x-api-key" = $KEY}`);
        expect(text).toContain("model: qwen-7b");
        expect(text).toContain("apiKey: <the key in /home/jane/my zc/config/api_key.txt>");
    });

    test("quoting: a path with quotes stays one argument in both shells", () => {
        expect(keyReadCommands("/h/it's/key.txt")).toEqual({bash: `KEY=$(cat '/h/it'\\''s/key.txt')`, powershell: `$KEY = (Get-Content -Raw -LiteralPath '/h/it''s/key.txt').Trim()`});
        expect(quotePowerShell("C:\\a b\\k.txt")).toBe("'C:\\a b\\k.txt'");
    });

    test("no model: says so, and how to add one, then to run setup again", () => {
        const text = closingLines(facts({choice: {model: null, generated: false, why: "no chat model is installed"}}));
        expect(text).toContain("No model is installed yet");
        expect(text).toContain("npm run pull -- hf:");
        expect(text).toContain("copy .gguf files into /home/jane/my zc/models");
        expect(text).toContain("run npm run setup again");
        expect(text).not.toContain("Try it");
        expect(text).toContain("API key: in /home/jane/my zc/config/api_key.txt");
    });

    test("a key not generated yet, a key in the environment, no key at all", () => {
        expect(closingLines(facts({keyFileMissing: true}))).toContain("API key: not generated yet; the config step writes it to /home/jane/my zc/config/api_key.txt");
        const env = closingLines(facts({keyFile: null, keySource: "env"}));
        expect(env).toContain("ZOMBIECODER_API_KEY environment variable");
        expect(env).toContain(`@{"x-api-key" = $env:ZOMBIECODER_API_KEY}`);
        const none = closingLines(facts({keyFile: null, keySource: "none", keyRequired: false}));
        expect(none).toContain("API key: none needed");
        expect(none).not.toContain("x-api-key: $");
    });
});
