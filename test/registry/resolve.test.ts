import {describe, expect, it} from "vitest";
import {missHint, resolveModelName, type Resolution} from "../../src/registry/resolve.js";
import {deriveName} from "../../src/registry/names.js";
import {closeNames, editDistance} from "../../src/registry/suggest.js";
import type {GgufMetadata, ModelEntry} from "../../src/registry/types.js";
import {notFound} from "../../src/runtime/errors.js";

function entry(name: string, base: string, quant: string, extra: Partial<ModelEntry> = {}): ModelEntry {
    return {
        name, path: `models/${name}.gguf`, abs_path: `/m/${name}.gguf`, files: [`/m/${name}.gguf`], size_bytes: 1, status: "unloaded",
        keep_loaded: true, pinned: false, aliases: [], source: "models_dir", read_only: false, projector: null,
        fingerprint: "0".repeat(64), modified_at: "", mtime_ms: 0, quant_tag: quant, base_name: base, metadata: null, ...extra
    };
}

const models: ModelEntry[] = [
    entry("qwen2.5-1.5b-instruct", "qwen2.5-1.5b-instruct", "q4_k_m"),
    entry("qwen2.5-1.5b-instruct:q8_0", "qwen2.5-1.5b-instruct", "q8_0"),
    entry("qwen2.5-0.5b-instruct", "qwen2.5-0.5b-instruct", "q4_k_m"),
    entry("llama-3.2-3b-instruct", "llama-3.2-3b-instruct", "q4_k_m", {aliases: ["work-llama"]}),
    entry("deepseek-coder-6.7b-base", "deepseek-coder-6.7b-base", "q5_k_m"),
    entry("llama3.2:latest", "llama3.2", "q4_k_m", {source: "ollama", read_only: true}),
    entry("broken", "broken", "", {status: "invalid", reason: "truncated"})
];

function name(r: Resolution): string {
    if (r.kind === "local") return `${r.rule}:${r.model.name}`;
    if (r.kind === "upstream") return `upstream:${r.upstream}:${r.name}`;
    if (r.kind === "ambiguous") return `ambiguous:${r.candidates.join(",")}`;
    return "not_found";
}

const ctx = {models};

describe("name resolution", () => {
    it("1. exact names", () => {
        expect(name(resolveModelName("qwen2.5-1.5b-instruct", ctx))).toBe("exact:qwen2.5-1.5b-instruct");
        expect(name(resolveModelName("qwen2.5-1.5b-instruct:q8_0", ctx))).toBe("exact:qwen2.5-1.5b-instruct:q8_0");
        expect(name(resolveModelName("llama3.2:latest", ctx))).toBe("exact:llama3.2:latest");
    });

    it("2. aliases from the config", () => {
        expect(name(resolveModelName("work-llama", ctx))).toBe("alias:llama-3.2-3b-instruct");
    });

    it("3. an exact upstream name beats a fuzzy local match", () => {
        const up = {models, upstreamNames: new Map([["office", new Set(["qwen2.5:1.5b", "codellama:7b"])]])};
        expect(name(resolveModelName("qwen2.5:1.5b", up))).toBe("upstream:office:qwen2.5:1.5b");
        expect(name(resolveModelName("codellama:7b", up))).toBe("upstream:office:codellama:7b");
        // local exact still wins over the upstream
        expect(name(resolveModelName("qwen2.5-1.5b-instruct", up))).toBe("exact:qwen2.5-1.5b-instruct");
    });

    it("4. Ollama-style names: latest, quantization tags, and name:size", () => {
        expect(name(resolveModelName("qwen2.5-1.5b-instruct:latest", ctx))).toBe("ollama:qwen2.5-1.5b-instruct");
        expect(name(resolveModelName("qwen2.5-1.5b-instruct:Q8_0", ctx))).toBe("ollama:qwen2.5-1.5b-instruct:q8_0");
        expect(name(resolveModelName("qwen2.5-1.5b-instruct:q4_k_m", ctx))).toBe("ollama:qwen2.5-1.5b-instruct");
        expect(name(resolveModelName("qwen2.5:1.5b", ctx))).toBe("ollama:qwen2.5-1.5b-instruct");
        expect(name(resolveModelName("qwen2.5:0.5b", ctx))).toBe("ollama:qwen2.5-0.5b-instruct");
        expect(name(resolveModelName("hf.co/bartowski/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M", ctx))).toBe("ollama:qwen2.5-0.5b-instruct");
        expect(name(resolveModelName("llama3.2", ctx))).toBe("normalized:llama3.2:latest");
    });

    it("5. case-, separator- and quantization-insensitive matches", () => {
        expect(name(resolveModelName("Qwen2.5_1.5B_Instruct", ctx))).toBe("normalized:qwen2.5-1.5b-instruct");
        expect(name(resolveModelName("QWEN2.5-0.5B-INSTRUCT-Q4_K_M", ctx))).toBe("normalized:qwen2.5-0.5b-instruct");
        expect(name(resolveModelName("deepseek coder 6.7b base", ctx))).toBe("normalized:deepseek-coder-6.7b-base");
    });

    it("6. a prefix up to a word boundary, or every requested word in the name", () => {
        expect(name(resolveModelName("deepseek-coder", ctx))).toBe("prefix:deepseek-coder-6.7b-base");
        expect(name(resolveModelName("coder-6.7b", ctx))).toBe("fuzzy:deepseek-coder-6.7b-base");
        expect(name(resolveModelName("llama-3.2-instruct", ctx))).toBe("fuzzy:llama-3.2-3b-instruct");
        expect(name(resolveModelName("mistral-7b", ctx))).toBe("not_found");
    });

    it("an ambiguous name is an error listing the candidates, never a silent pick", () => {
        const r = resolveModelName("qwen2.5-instruct", ctx);
        expect(r.kind).toBe("ambiguous");
        expect(r.kind === "ambiguous" && r.candidates).toEqual(["qwen2.5-0.5b-instruct", "qwen2.5-1.5b-instruct"]);
        const qwen = resolveModelName("qwen2.5", ctx);
        expect(qwen.kind).toBe("ambiguous");
    });

    it("is deterministic whatever the order of the index", () => {
        const shuffled = {models: [...models].reverse()};
        for (const n of ["qwen2.5:1.5b", "deepseek-coder", "Qwen2.5_1.5B_Instruct", "qwen2.5-instruct", "llama3.2"])
            expect(name(resolveModelName(n, shuffled))).toBe(name(resolveModelName(n, ctx)));
    });

    it("an invalid model answers only its exact name (so the error can say why), never a fuzzy match", () => {
        expect(name(resolveModelName("broken", ctx))).toBe("exact:broken");
        expect(name(resolveModelName("Broken", ctx))).toBe("not_found");
    });

    it("hostile names match nothing", () => {
        for (const hostile of ["../../etc/passwd", "..\\..\\Windows\\System32", "C:\\Windows", "/etc/passwd", "qwen\0evil", "a".repeat(10 * 1024), "", "   ", "%2e%2e%2f"])
            expect(resolveModelName(hostile, ctx).kind, JSON.stringify(hostile.slice(0, 30))).toBe("not_found");
    });

    it("derives names from files and folders", () => {
        expect(deriveName("qwen2.5-1.5b-instruct-q4_k_m.gguf", "qwen2.5-1.5b-instruct-gguf")).toEqual({base: "qwen2.5-1.5b-instruct", quant: "q4_k_m"});
        expect(deriveName("Qwen2.5-7B-Instruct.Q4_K_M.gguf", "x")).toEqual({base: "qwen2.5-7b-instruct", quant: "q4_k_m"});
        expect(deriveName("model-q8_0.gguf", "Phi-3-mini-GGUF")).toEqual({base: "phi-3-mini", quant: "q8_0"});
        expect(deriveName("big-model-Q4_K_M-00001-of-00003.gguf", "x")).toEqual({base: "big-model", quant: "q4_k_m"});
        expect(deriveName("tinyllama-1.1b-chat-v1.0.IQ4_XS.gguf", "x")).toEqual({base: "tinyllama-1.1b-chat-v1.0", quant: "iq4_xs"});
        expect(deriveName("nomic-embed-text-v1.5.f16.gguf", "x")).toEqual({base: "nomic-embed-text-v1.5", quant: "f16"});
    });
});

function meta(extra: Partial<GgufMetadata>): GgufMetadata {
    return {
        architecture: "llama", parameter_count: null, parameter_size: "", quantization: "", file_type: null, context_length: null,
        embedding_length: null, has_chat_template: true, chat_template: null, is_embedding: false, pooling_type: null, has_fim: false,
        supports_tools: false, general_name: null, split_count: 1, block_count: null, head_count: null, head_count_kv: null, vocab_size: null,
        ...extra
    };
}

function only(...entries: ModelEntry[]) {
    return {models: entries};
}

function miss(r: Resolution): string[] {
    expect(r.kind).toBe("not_found");
    return r.kind === "not_found" ? r.suggestions : [];
}

const qwen05 = entry("qwen2.5-0.5b-instruct", "qwen2.5-0.5b-instruct", "q4_k_m");

describe("loose names never cross sizes, quantizations or family versions", () => {
    it("the README's request for qwen2.5-1.5b-instruct with only the 0.5B installed is a miss that suggests the 0.5B", () => {
        const r = resolveModelName("qwen2.5-1.5b-instruct", only(qwen05));
        expect(miss(r)).toEqual(["qwen2.5-0.5b-instruct"]);
        // the same request through the Ollama-style forms
        expect(miss(resolveModelName("qwen2.5:1.5b", only(qwen05)))).toContain("qwen2.5-0.5b-instruct");
        expect(miss(resolveModelName("Qwen2.5_1.5B_Instruct", only(qwen05)))).toContain("qwen2.5-0.5b-instruct");
        expect(miss(resolveModelName("hf.co/bartowski/Qwen2.5-1.5B-Instruct-GGUF:Q4_K_M", only(qwen05)))).toContain("qwen2.5-0.5b-instruct");
        // and the size it does have still resolves
        expect(name(resolveModelName("qwen2.5-0.5b", only(qwen05)))).toBe("prefix:qwen2.5-0.5b-instruct");
    });

    it("a size in the request must be the model's size exactly, for dense and mixture-of-experts sizes", () => {
        const sized = only(
            entry("qwen3-30b-a3b-instruct", "qwen3-30b-a3b-instruct", "q4_k_m"),
            entry("qwen3-235b-a22b-instruct", "qwen3-235b-a22b-instruct", "q4_k_m"),
            entry("mixtral-8x7b-instruct-v0.1", "mixtral-8x7b-instruct-v0.1", "q4_k_m"),
            entry("smollm2-135m-instruct", "smollm2-135m-instruct", "q8_0")
        );
        expect(name(resolveModelName("qwen3-30b-a3b", sized))).toBe("prefix:qwen3-30b-a3b-instruct");
        expect(name(resolveModelName("qwen3:235b-a22b", sized))).toBe("ollama:qwen3-235b-a22b-instruct");
        expect(name(resolveModelName("Qwen3_30B_A3B_Instruct", sized))).toBe("normalized:qwen3-30b-a3b-instruct");
        expect(name(resolveModelName("mixtral-8x7b", sized))).toBe("prefix:mixtral-8x7b-instruct-v0.1");
        expect(name(resolveModelName("smollm2-135m", sized))).toBe("prefix:smollm2-135m-instruct");
        // the total alone, another active count, another expert count, another small size: no match
        expect(resolveModelName("qwen3-30b-instruct", sized).kind).toBe("not_found");
        expect(resolveModelName("qwen3-30b-a6b", sized).kind).toBe("not_found");
        expect(resolveModelName("mixtral-8x22b-instruct", sized).kind).toBe("not_found");
        expect(resolveModelName("mixtral-7b-instruct", sized).kind).toBe("not_found");
        expect(resolveModelName("smollm2-360m-instruct", sized).kind).toBe("not_found");
        // without a size, the family answers (one per family here)
        expect(name(resolveModelName("mixtral", sized))).toBe("prefix:mixtral-8x7b-instruct-v0.1");
        expect(resolveModelName("qwen3", sized).kind).toBe("ambiguous");
    });

    it("0.5b, 0.50b and 500m are one size; 494m is not 0.5b", () => {
        expect(name(resolveModelName("qwen2.5-500m-instruct", only(qwen05)))).toBe("fuzzy:qwen2.5-0.5b-instruct");
        expect(name(resolveModelName("qwen2.5-0.50b", only(qwen05)))).toBe("fuzzy:qwen2.5-0.5b-instruct");
        expect(resolveModelName("qwen2.5-494m-instruct", only(qwen05)).kind).toBe("not_found");
    });

    it("a quantization in the request must be the model's; without one the default quantization answers", () => {
        const quants = only(
            entry("llama-3.1-8b-instruct", "llama-3.1-8b-instruct", "q4_k_m"),
            entry("llama-3.1-8b-instruct:q8_0", "llama-3.1-8b-instruct", "q8_0")
        );
        expect(name(resolveModelName("llama-3.1-8b-instruct-Q8_0", quants))).toBe("normalized:llama-3.1-8b-instruct:q8_0");
        expect(name(resolveModelName("llama-3.1-8b-instruct.q4_k_m", quants))).toBe("normalized:llama-3.1-8b-instruct");
        expect(name(resolveModelName("llama3.1-8b-q8_0", quants))).toBe("fuzzy:llama-3.1-8b-instruct:q8_0");
        expect(name(resolveModelName("llama3.1-8b", quants))).toBe("fuzzy:llama-3.1-8b-instruct");
        // q6_k is not installed: neither q4_k_m nor q8_0 answers for it, and both are suggested
        const r = resolveModelName("llama-3.1-8b-instruct:q6_k", quants);
        expect(miss(r)).toEqual(expect.arrayContaining(["llama-3.1-8b-instruct", "llama-3.1-8b-instruct:q8_0"]));
        expect(resolveModelName("llama3.1-8b-q4_0", quants).kind).toBe("not_found");
        // a file whose name says nothing about its quantization is judged by its GGUF header
        const fromHeader = only(entry("assistant", "assistant", "", {metadata: meta({quantization: "Q8_0"})}));
        expect(name(resolveModelName("assistant-q8_0", fromHeader))).toBe("normalized:assistant");
        expect(resolveModelName("assistant-q4_k_m", fromHeader).kind).toBe("not_found");
    });

    it("family versions never cross: qwen2.5 is not qwen3 or qwen2, llama3.1 is not llama3.2", () => {
        const fam = only(
            qwen05,
            entry("meta-llama-3.1-8b-instruct", "meta-llama-3.1-8b-instruct", "q4_k_m"),
            entry("llama-3.2-3b-instruct", "llama-3.2-3b-instruct", "q4_k_m"),
            entry("phi-3-mini-4k-instruct", "phi-3-mini-4k-instruct", "q4_k_m")
        );
        expect(resolveModelName("qwen3-0.5b-instruct", fam).kind).toBe("not_found");
        expect(resolveModelName("qwen3", fam).kind).toBe("not_found");
        expect(resolveModelName("qwen2", fam).kind).toBe("not_found");
        expect(resolveModelName("qwen2-0.5b-instruct", fam).kind).toBe("not_found");
        expect(name(resolveModelName("qwen2.5", fam))).toBe("prefix:qwen2.5-0.5b-instruct");
        expect(name(resolveModelName("llama3.1", fam))).toBe("fuzzy:meta-llama-3.1-8b-instruct");
        expect(name(resolveModelName("llama3.1:8b", fam))).toBe("fuzzy:meta-llama-3.1-8b-instruct");
        expect(name(resolveModelName("llama3.2", fam))).toBe("fuzzy:llama-3.2-3b-instruct");
        expect(name(resolveModelName("llama-3.2-3b", fam))).toBe("prefix:llama-3.2-3b-instruct");
        // each size exists, but in the other version
        expect(resolveModelName("llama3.1-3b-instruct", fam).kind).toBe("not_found");
        expect(resolveModelName("llama3.2-8b-instruct", fam).kind).toBe("not_found");
        expect(resolveModelName("llama3", fam).kind).toBe("not_found");
        expect(resolveModelName("llama", fam).kind).toBe("ambiguous");
        // a version written after a word belongs to it: phi-3 is phi3, not phi3.5; 4k is not 128k
        expect(name(resolveModelName("phi3-mini", fam))).toBe("fuzzy:phi-3-mini-4k-instruct");
        expect(resolveModelName("phi-3.5-mini", fam).kind).toBe("not_found");
        expect(resolveModelName("phi-3-mini-128k-instruct", fam).kind).toBe("not_found");
    });

    it("facts from the GGUF header count when the name does not say them", () => {
        const ollama = entry("llama3.2:latest", "llama3.2", "q4_k_m", {source: "ollama", read_only: true,
            metadata: meta({general_name: "Llama 3.2 3B Instruct", parameter_size: "3.2B", quantization: "Q4_K_M"})});
        const named = entry("my-assistant", "my-assistant", "q4_k_m", {metadata: meta({general_name: "Qwen2.5 7B Instruct", parameter_size: "7.6B"})});
        const moe = entry("big-moe", "big-moe", "q4_k_m", {metadata: meta({parameter_size: "30B-A3B"})});
        const idx = only(ollama, named, moe);
        expect(name(resolveModelName("llama3.2:3b", idx))).toBe("normalized:llama3.2:latest");
        expect(resolveModelName("llama3.2:1b", idx).kind).toBe("not_found");
        expect(name(resolveModelName("qwen2.5-7b", idx))).toBe("fuzzy:my-assistant");
        expect(resolveModelName("qwen2.5-1.5b", idx).kind).toBe("not_found");
        expect(resolveModelName("qwen3-7b", idx).kind).toBe("not_found");
        expect(name(resolveModelName("big-moe-30b-a3b", idx))).toBe("fuzzy:big-moe");
        expect(resolveModelName("big-moe-30b", idx).kind).toBe("not_found");
        // without a header, a size the name does not carry is unknown, and unknown is not a match
        const bare = only(entry("llama3.2:latest", "llama3.2", "q4_k_m", {source: "ollama", read_only: true}));
        expect(resolveModelName("llama3.2:3b", bare).kind).toBe("not_found");
        expect(name(resolveModelName("llama3.2", bare))).toBe("normalized:llama3.2:latest");
    });

    it("a unique prefix or family resolves; several are ambiguous and listed", () => {
        expect(name(resolveModelName("qwen", only(qwen05)))).toBe("prefix:qwen2.5-0.5b-instruct");
        expect(name(resolveModelName("QWEN", only(qwen05)))).toBe("prefix:qwen2.5-0.5b-instruct");
        expect(name(resolveModelName("qwen-instruct", only(qwen05)))).toBe("fuzzy:qwen2.5-0.5b-instruct");
        const r = resolveModelName("qwen", ctx);
        // quantization siblings are one model: the bare default stands for them
        expect(r.kind === "ambiguous" && r.candidates).toEqual(["qwen2.5-0.5b-instruct", "qwen2.5-1.5b-instruct"]);
        // a prefix that stops inside a word is not a prefix match
        expect(resolveModelName("deeps", ctx).kind).toBe("not_found");
        expect(resolveModelName("qwen2.5-0.5b-instruc", only(qwen05)).kind).toBe("not_found");
        // the Ollama `name` form of an Ollama model family, with two tags, one of them latest
        const tags = only(
            entry("gemma2:latest", "gemma2", "q4_0", {source: "ollama", read_only: true}),
            entry("gemma2:27b", "gemma2", "q4_0", {source: "ollama", read_only: true})
        );
        expect(name(resolveModelName("gemma2", tags))).toBe("normalized:gemma2:latest");
        expect(name(resolveModelName("gemma2:27b", tags))).toBe("exact:gemma2:27b");
    });

    it("aliases and exact names win before any loose rule, even against the facts", () => {
        const aliased = only(entry("qwen2.5-0.5b-instruct", "qwen2.5-0.5b-instruct", "q4_k_m", {aliases: ["qwen2.5-7b-instruct"]}));
        expect(name(resolveModelName("qwen2.5-7b-instruct", aliased))).toBe("alias:qwen2.5-0.5b-instruct");
    });

    it("a typo does not resolve, it is suggested", () => {
        const typo = resolveModelName("qwen25-0.5b-instrcut", only(qwen05));
        expect(miss(typo)).toEqual(["qwen2.5-0.5b-instruct"]);
        expect(miss(resolveModelName("qwen25-0.5b-instrcut", ctx))[0]).toBe("qwen2.5-0.5b-instruct");
        expect(miss(resolveModelName("deepseak-coder-6.7b-base", ctx))).toEqual(["deepseek-coder-6.7b-base"]);
        expect(miss(resolveModelName("wrok-llama", ctx))).toEqual(["work-llama"]);
        // nothing close, nothing of the family: no suggestion
        expect(miss(resolveModelName("mistral-7b", ctx))).toEqual([]);
        expect(miss(resolveModelName("zzz", ctx))).toEqual([]);
    });

    it("upstream names are suggested too", () => {
        const up = {models: [qwen05], upstreamNames: new Map([["office", new Set(["codellama:7b"])]])};
        expect(miss(resolveModelName("codelama:7b", up))).toEqual(["codellama:7b"]);
    });
});

describe("edit distance", () => {
    it("counts a swap of neighbours as one edit and stops past the budget", () => {
        expect(editDistance("instruct", "instrcut", 3)).toBe(1);
        expect(editDistance("qwen25", "qwen2.5", 3)).toBe(1);
        expect(editDistance("abc", "abc", 0)).toBe(0);
        expect(editDistance("kitten", "sitting", 5)).toBe(3);
        expect(editDistance("kitten", "sitting", 2)).toBe(3);
        expect(editDistance("a", "abcdefgh", 2)).toBe(3);
    });

    it("closeNames keeps only names within a typo of the request, closest first", () => {
        expect(closeNames("qwen2.5-1.5b-instruct", ["qwen2.5-0.5b-instruct", "qwen2.5-7b-instruct", "llama-3.2-3b-instruct"]))
            .toEqual(["qwen2.5-0.5b-instruct", "qwen2.5-7b-instruct"]);
        expect(closeNames("phi", ["phi3"])).toEqual([]);
        expect(closeNames("x".repeat(1000), ["x"])).toEqual([]);
    });
});

describe("missHint", () => {
    it("suggests a close name and lists what is installed, after Ollama's exact text", () => {
        const hint = missHint("qwen2.5-1.5b-instruct", ["qwen2.5-0.5b-instruct", "llama-3.2-3b-instruct"]);
        expect(hint).toBe("did you mean 'qwen2.5-0.5b-instruct'? installed models: 'llama-3.2-3b-instruct', 'qwen2.5-0.5b-instruct'");
        const message = notFound("qwen2.5-1.5b-instruct", hint).message;
        expect(message.startsWith("model 'qwen2.5-1.5b-instruct' not found; did you mean 'qwen2.5-0.5b-instruct'?")).toBe(true);
    });

    it("without a close name it only lists, and the caller's suggestions replace the search", () => {
        expect(missHint("mistral-7b", ["qwen2.5-0.5b-instruct"])).toBe("installed models: 'qwen2.5-0.5b-instruct'");
        expect(missHint("qwen3", ["qwen2.5-0.5b-instruct"], ["qwen2.5-0.5b-instruct"]))
            .toBe("did you mean 'qwen2.5-0.5b-instruct'? installed models: 'qwen2.5-0.5b-instruct'");
        expect(missHint("a-b-c-d", ["a-b-c-e", "a-b-c-f"])).toBe("did you mean 'a-b-c-e' or 'a-b-c-f'? installed models: 'a-b-c-e', 'a-b-c-f'");
    });

    it("lists at most 20 installed models and counts the rest", () => {
        const many = Array.from({length: 25}, (_, i) => `model-${String(i).padStart(2, "0")}`);
        const hint = missHint("something-else-entirely", many);
        expect(hint.match(/'model-\d\d'/g)).toHaveLength(20);
        expect(hint).toContain("'model-19'");
        expect(hint).not.toContain("'model-20'");
        expect(hint).toContain("and 5 more");
    });

    it("with nothing installed it says how to add a model", () => {
        const hint = missHint("qwen2.5-1.5b-instruct", []);
        expect(hint.startsWith("no models are installed: ")).toBe(true);
        expect(hint).toContain("models_dir");
        expect(hint).toContain("npm run pull");
    });
});

describe("the examples in documentation/models.md", () => {
    const documented = only(qwen05, entry("llama-3.2-3b-instruct", "llama-3.2-3b-instruct", "q4_k_m"));
    it("resolve as the table says", () => {
        for (const n of ["qwen2.5-0.5b-instruct", "qwen2.5:0.5b", "Qwen2.5_0.5B_Instruct", "qwen2.5-0.5b", "qwen2.5", "qwen"])
            expect(name(resolveModelName(n, documented)).split(":").slice(1).join(":"), n).toBe("qwen2.5-0.5b-instruct");
        for (const n of ["llama-3.2", "llama3.2:3b", "llama3.2-instruct"])
            expect(name(resolveModelName(n, documented)).split(":").slice(1).join(":"), n).toBe("llama-3.2-3b-instruct");
        expect(name(resolveModelName("instruct", documented))).toBe("ambiguous:llama-3.2-3b-instruct,qwen2.5-0.5b-instruct");
        expect(miss(resolveModelName("qwen2.5-1.5b-instruct", documented))[0]).toBe("qwen2.5-0.5b-instruct");
        for (const n of ["qwen2.5-0.5b-instruct:q8_0", "qwen3", "qwen2-0.5b", "llama3.1-3b"]) expect(resolveModelName(n, documented).kind, n).toBe("not_found");
        expect(miss(resolveModelName("qwen25-0.5b-instrcut", documented))[0]).toBe("qwen2.5-0.5b-instruct");
    });
});
