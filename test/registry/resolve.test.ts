import {describe, expect, it} from "vitest";
import {resolveModelName, type Resolution} from "../../src/registry/resolve.js";
import {deriveName} from "../../src/registry/names.js";
import type {ModelEntry} from "../../src/registry/types.js";

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

    it("6. best token overlap above the threshold", () => {
        expect(name(resolveModelName("deepseek-coder", ctx))).toBe("fuzzy:deepseek-coder-6.7b-base");
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
