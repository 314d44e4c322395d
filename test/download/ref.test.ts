import fs from "node:fs";
import path from "node:path";
import {describe, expect, it} from "vitest";
import {DownloadError} from "../../src/download/errors.js";
import {hfHeaders, resolveHfSettings, selectHfFiles, type HfFileEntry} from "../../src/download/hf.js";
import {modelNameFromFile, nameHasQuant, quantFromFileName, resolveInside} from "../../src/download/names.js";
import {formatModelRef, parseModelRef, targetFolderName, type HfModelRef} from "../../src/download/ref.js";
import {rmrf, tempHome, testConfig} from "./helpers.js";

function errOf(fn: () => unknown): DownloadError {
    try {
        fn();
    } catch (err) {
        if (err instanceof DownloadError) return err;
        throw err;
    }
    throw new Error("expected a DownloadError");
}

describe("parseModelRef", () => {
    it("parses hf:org/repo:quant", () => {
        expect(parseModelRef("hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M")).toEqual({
            kind: "hf", repo: "Qwen/Qwen2.5-0.5B-Instruct-GGUF", revision: "main", file: null, quant: "Q4_K_M", projector: true
        });
    });

    it("parses a file path with a revision, hf.co names, and objects", () => {
        expect(parseModelRef("hf:org/repo/sub/model-Q8_0.gguf#dev")).toMatchObject({repo: "org/repo", file: "sub/model-Q8_0.gguf", revision: "dev"});
        expect(parseModelRef("hf.co/bartowski/Llama-GGUF:q4_k_m")).toMatchObject({repo: "bartowski/Llama-GGUF", quant: "q4_k_m"});
        expect(parseModelRef("hf:org/repo")).toMatchObject({quant: null, file: null});
        expect(parseModelRef("hf.co/org/repo:latest")).toMatchObject({quant: null});
        expect(parseModelRef({repo: "org/repo", quant: "Q8_0"})).toMatchObject({repo: "org/repo", quant: "Q8_0"});
        expect(parseModelRef({repo: "org/repo", file: "a.gguf", projector: false})).toMatchObject({file: "a.gguf", projector: false});
        expect(parseModelRef({repo: "hf:org/repo:Q5_K_M"})).toMatchObject({repo: "org/repo", quant: "Q5_K_M"});
        expect(parseModelRef({model: "hf:org/repo:Q8_0", projector: false, revision: "v2"})).toMatchObject({repo: "org/repo", quant: "Q8_0", projector: false, revision: "v2"});
        expect(parseModelRef({model: "https://e.com/a.gguf", filename: "b.gguf"})).toMatchObject({kind: "url", fileName: "b.gguf"});
    });

    it("turns Hugging Face resolve URLs into references and keeps others as URLs", () => {
        expect(parseModelRef("https://huggingface.co/org/repo/resolve/main/model-Q4_K_M.gguf")).toMatchObject({kind: "hf", repo: "org/repo", file: "model-Q4_K_M.gguf"});
        expect(parseModelRef("http://127.0.0.1:9/org/repo/resolve/main/x.gguf", {hfEndpoint: "http://127.0.0.1:9"})).toMatchObject({kind: "hf", file: "x.gguf"});
        expect(parseModelRef({url: "https://example.com/models/tiny.gguf?sig=secret"})).toEqual({kind: "url", url: "https://example.com/models/tiny.gguf?sig=secret", fileName: "tiny.gguf"});
        expect(formatModelRef(parseModelRef({url: "https://example.com/models/tiny.gguf?sig=secret"}))).toBe("https://example.com/models/tiny.gguf");
    });

    it("rejects hostile and malformed names with 400", () => {
        for (const bad of [
            () => parseModelRef({repo: "org/repo", file: "../../x.gguf"}),
            () => parseModelRef("hf:org/repo/../../x.gguf"),
            () => parseModelRef("hf:org/repo/..\\..\\x.gguf"),
            () => parseModelRef({url: "https://example.com/..%2F..%2Fx.gguf"}),
            () => parseModelRef({url: "https://example.com/a/%2E%2E"}),
            () => parseModelRef({url: "https://example.com/x.gguf", filename: "../x.gguf"}),
            () => parseModelRef({repo: "org/repo", file: "aux.gguf"}),
            () => parseModelRef({repo: "org/repo", file: "C:/x.gguf"}),
            () => parseModelRef({repo: "../repo", quant: "Q4_K_M"}),
            () => parseModelRef({repo: "org/..", quant: "Q4_K_M"}),
            () => parseModelRef("llama3.2:latest"),
            () => parseModelRef("file:///etc/passwd"),
            () => parseModelRef({url: "ftp://example.com/x.gguf"}),
            () => parseModelRef({url: "https://example.com/readme.txt"}),
            () => parseModelRef(42),
            () => parseModelRef({repo: "org/repo", file: "a.gguf", quant: "Q4_0"}),
            () => parseModelRef("")
        ]) {
            expect(errOf(bad).status).toBe(400);
        }
    });

    it("refuses non-Hugging Face references where only those are allowed", () => {
        expect(errOf(() => parseModelRef("https://example.com/x.gguf", {hfOnly: true})).status).toBe(400);
    });

    it("names the target folder after the repo or the URL file", () => {
        expect(targetFolderName(parseModelRef("hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M"))).toBe("Qwen2.5-0.5B-Instruct-GGUF");
        expect(targetFolderName(parseModelRef({url: "https://e.com/big-00001-of-00002.gguf"}))).toBe("big");
    });
});

describe("names", () => {
    it("matches quantization tags as whole tokens", () => {
        expect(nameHasQuant("qwen2.5-0.5b-instruct-q4_k_m.gguf", "Q4_K_M")).toBe(true);
        expect(nameHasQuant("model-Q4_K_M.gguf", "Q4_K")).toBe(false);
        expect(nameHasQuant("model-IQ4_XS.gguf", "Q4_XS")).toBe(false);
        expect(nameHasQuant("Q4_K_M/model-00001-of-00002.gguf", "q4_k_m")).toBe(true);
        expect(quantFromFileName("Llama-3-8B-Instruct-Q4_K_M.gguf")).toBe("Q4_K_M");
        expect(quantFromFileName("model-UD-Q4_K_XL-00001-of-00003.gguf")).toBe("UD-Q4_K_XL");
        expect(quantFromFileName("mmproj-model-f16.gguf")).toBe("F16");
        expect(quantFromFileName("tinyllama.gguf")).toBeNull();
    });

    it("derives registry-style names", () => {
        expect(modelNameFromFile("qwen2.5-0.5b-instruct-q4_k_m.gguf")).toBe("qwen2.5-0.5b-instruct:q4_k_m");
        expect(modelNameFromFile("Big-Model-Q8_0-00001-of-00002.gguf")).toBe("big-model:q8_0");
        expect(modelNameFromFile("tiny.gguf")).toBe("tiny");
    });

    it("keeps joined paths inside the root", () => {
        const root = path.resolve("/tmp/models-root");
        expect(resolveInside(root, "a", "b.gguf")).toBe(path.join(root, "a", "b.gguf"));
        expect(() => resolveInside(root, "..", "x.gguf")).toThrow(DownloadError);
        expect(() => resolveInside(root, path.resolve("/etc/passwd"))).toThrow(DownloadError);
    });
});

describe("selectHfFiles", () => {
    const entries: HfFileEntry[] = [
        {path: "README.md", size: 10, sha256: null},
        {path: "model-Q4_K_M.gguf", size: 100, sha256: "a".repeat(64)},
        {path: "model-Q8_0.gguf", size: 200, sha256: "b".repeat(64)},
        {path: "model-IQ4_XS.gguf", size: 90, sha256: "c".repeat(64)},
        {path: "mmproj-model-f32.gguf", size: 40, sha256: "d".repeat(64)},
        {path: "mmproj-model-f16.gguf", size: 20, sha256: "e".repeat(64)},
        {path: "Q6_K/model-Q6_K-00002-of-00002.gguf", size: 50, sha256: "f".repeat(64)},
        {path: "Q6_K/model-Q6_K-00001-of-00002.gguf", size: 60, sha256: "0".repeat(64)},
        {path: "BF16/model-BF16-00001-of-00003.gguf", size: 60, sha256: "1".repeat(64)}
    ];
    const ref = (over: Partial<HfModelRef>): HfModelRef => ({kind: "hf", repo: "org/repo", revision: "main", file: null, quant: null, projector: true, ...over});

    it("resolves a quant to its file and brings the F16 projector", () => {
        const sel = selectHfFiles(entries, ref({quant: "q4_k_m"}));
        expect(sel.model.map((f) => f.path)).toEqual(["model-Q4_K_M.gguf"]);
        expect(sel.projector?.path).toBe("mmproj-model-f16.gguf");
        expect(sel.quant).toBe("q4_k_m");
    });

    it("defaults to Q4_K_M and can skip the projector", () => {
        const sel = selectHfFiles(entries, ref({projector: false}));
        expect(sel.model[0]!.path).toBe("model-Q4_K_M.gguf");
        expect(sel.projector).toBeNull();
    });

    it("downloads split sets together, in order", () => {
        const sel = selectHfFiles(entries, ref({quant: "Q6_K"}));
        expect(sel.model.map((f) => f.path)).toEqual(["Q6_K/model-Q6_K-00001-of-00002.gguf", "Q6_K/model-Q6_K-00002-of-00002.gguf"]);
        const byFile = selectHfFiles(entries, ref({file: "Q6_K/model-Q6_K-00002-of-00002.gguf"}));
        expect(byFile.model).toHaveLength(2);
    });

    it("reports incomplete split sets and unknown quants", () => {
        expect(errOf(() => selectHfFiles(entries, ref({quant: "BF16"}))).status).toBe(502);
        const e = errOf(() => selectHfFiles(entries, ref({quant: "Q2_K"})));
        expect(e.status).toBe(404);
        expect(e.message).toContain("Q8_0");
        expect(errOf(() => selectHfFiles(entries, ref({file: "nope.gguf"}))).status).toBe(404);
    });

    it("refuses a hostile path published by a mirror", () => {
        const hostile: HfFileEntry[] = [{path: "../../x-Q4_K_M.gguf", size: 1, sha256: null}];
        expect(errOf(() => selectHfFiles(hostile, ref({quant: "Q4_K_M"}))).status).toBe(400);
    });

    it("takes the only model of a repo when no tag is given and Q4_K_M is absent", () => {
        const sel = selectHfFiles([{path: "tiny-f16.gguf", size: 5, sha256: null}], ref({}));
        expect(sel.model[0]!.path).toBe("tiny-f16.gguf");
    });
});

describe("resolveHfSettings", () => {
    it("takes the environment over the config, then the login token file, and sends the token only to Hugging Face", () => {
        const home = tempHome("zc-hf-");
        try {
            const cfg = testConfig(home, {downloads: {hf_token: "cfg", hf_endpoint: "https://mirror.example/"}});
            expect(resolveHfSettings(cfg, {}, home)).toMatchObject({endpoint: "https://mirror.example", token: "cfg", tokenSource: "config"});
            expect(resolveHfSettings(cfg, {HF_TOKEN: "env", HF_ENDPOINT: "https://other.example"}, home)).toMatchObject({endpoint: "https://other.example", token: "env"});
            const bare = testConfig(home);
            expect(resolveHfSettings(bare, {}, home)).toMatchObject({endpoint: "https://huggingface.co", token: null});
            fs.mkdirSync(path.join(home, ".cache", "huggingface"), {recursive: true});
            fs.writeFileSync(path.join(home, ".cache", "huggingface", "token"), "hf_file\n");
            const hf = resolveHfSettings(bare, {}, home);
            expect(hf).toMatchObject({token: "hf_file", tokenSource: "file"});
            expect(hfHeaders(hf, "https://huggingface.co/org/repo/resolve/main/x.gguf").authorization).toBe("Bearer hf_file");
            expect(hfHeaders(hf, "https://example.com/x.gguf").authorization).toBeUndefined();
        } finally {
            rmrf(home);
        }
    });
});
