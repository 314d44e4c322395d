import fs from "node:fs";
import path from "node:path";
import {afterEach, beforeEach, describe, expect, it} from "vitest";
import {discoverExternalModels, discoverHfCache, discoverLmStudio, discoverOllama, ollamaDisplayName, sourceDirs} from "../../src/sources/index.js";
import {rmrf, tempHome, testConfig} from "../download/helpers.js";
import {fakeGguf, hashTree, makeHfCache, makeLmStudioStore, makeOllamaStore, sha256} from "./fake-stores.js";

let root: string;

beforeEach(() => {
    root = tempHome("zc-src-");
});

afterEach(() => {
    rmrf(root);
});

describe("Ollama store", () => {
    it("adopts models under their Ollama names with params, system, template and messages, and never writes", async () => {
        const store = path.join(root, "ollama", "models");
        const llama = fakeGguf(4096, 1);
        makeOllamaStore(store, [
            {
                model: "llama3.2", tag: "latest", gguf: llama,
                params: {stop: ["<|eot_id|>"], temperature: 0.6, num_ctx: 4096},
                system: "You are terse.", template: "{{ .System }}{{ .Prompt }}",
                messages: [{role: "user", content: "hi"}, {role: "assistant", content: "hello"}]
            },
            {model: "llama3.2", tag: "3b", gguf: llama},
            {namespace: "someuser", model: "coder", tag: "v1", gguf: fakeGguf(2048, 2), projector: fakeGguf(512, 3)},
            {host: "hf.co", namespace: "bartowski", model: "Qwen2.5-GGUF", tag: "Q4_K_M", gguf: fakeGguf(1024, 4)},
            {model: "with-adapter", tag: "latest", gguf: fakeGguf(1000, 5), adapter: Buffer.from("lora")},
            {model: "not-gguf", tag: "latest", gguf: Buffer.from("safetensors-ish bytes")}
        ]);
        const before = hashTree(store);
        const models = await discoverOllama(store);
        expect(hashTree(store)).toBe(before);

        const byName = new Map(models.map((m) => [m.name, m]));
        expect([...byName.keys()].sort()).toEqual(["hf.co/bartowski/Qwen2.5-GGUF:Q4_K_M", "llama3.2:3b", "llama3.2:latest", "someuser/coder:v1"]);
        const l = byName.get("llama3.2:latest")!;
        expect(l.source).toBe("ollama");
        expect(l.files).toEqual([path.join(store, "blobs", `sha256-${sha256(llama)}`)]);
        expect(l.blob_sha256).toBe(sha256(llama));
        expect(l.defaults).toEqual({
            stop: ["<|eot_id|>"], options: {temperature: 0.6, num_ctx: 4096}, system: "You are terse.",
            template: "{{ .System }}{{ .Prompt }}", messages: [{role: "user", content: "hi"}, {role: "assistant", content: "hello"}]
        });
        expect(l.digest).toBe(sha256(fs.readFileSync(path.join(store, "manifests", "registry.ollama.ai", "library", "llama3.2", "latest"))));
        // Two tags share one blob, as in a real store.
        expect(byName.get("llama3.2:3b")!.files).toEqual(l.files);
        expect(byName.get("someuser/coder:v1")!.projector).toMatch(/sha256-[0-9a-f]{64}$/);
        expect(byName.get("llama3.2:3b")!.defaults).toBeUndefined();
    });

    it("formats names as Ollama displays them", () => {
        expect(ollamaDisplayName("registry.ollama.ai", "library", "qwen2.5", "0.5b")).toBe("qwen2.5:0.5b");
        expect(ollamaDisplayName("registry.ollama.ai", "user", "m", "t")).toBe("user/m:t");
        expect(ollamaDisplayName("hf.co", "org", "repo", "Q8_0")).toBe("hf.co/org/repo:Q8_0");
    });

    it("ignores a manifest whose digest is crafted to leave the store", async () => {
        const store = path.join(root, "ollama");
        const file = path.join(store, "manifests", "registry.ollama.ai", "library", "evil", "latest");
        fs.mkdirSync(path.dirname(file), {recursive: true});
        fs.writeFileSync(file, JSON.stringify({layers: [{mediaType: "application/vnd.ollama.image.model", digest: "sha256:../../../etc/passwd", size: 1}]}));
        expect(await discoverOllama(store)).toEqual([]);
    });
});

describe("LM Studio and the Hugging Face cache", () => {
    it("adopts LM Studio files with split sets and projectors", async () => {
        const store = path.join(root, "lmstudio", "models");
        makeLmStudioStore(store, [
            {rel: "lmstudio-community/Qwen2.5-7B-Instruct-GGUF/Qwen2.5-7B-Instruct-Q4_K_M.gguf", content: fakeGguf(100, 1)},
            {rel: "lmstudio-community/Qwen2.5-7B-Instruct-GGUF/mmproj-Qwen2.5-7B-F16.gguf", content: fakeGguf(50, 2)},
            {rel: "unsloth/Big-GGUF/Big-Q8_0-00001-of-00002.gguf", content: fakeGguf(100, 3)},
            {rel: "unsloth/Big-GGUF/Big-Q8_0-00002-of-00002.gguf", content: fakeGguf(100, 4)},
            {rel: "unsloth/Broken-GGUF/Broken-Q8_0-00001-of-00003.gguf", content: fakeGguf(100, 5)}
        ]);
        const before = hashTree(store);
        const models = await discoverLmStudio(store);
        expect(hashTree(store)).toBe(before);
        expect(models.map((m) => m.name).sort()).toEqual(["big:q8_0", "qwen2.5-7b-instruct:q4_k_m"]);
        const qwen = models.find((m) => m.name.startsWith("qwen"))!;
        expect(qwen.projector).toMatch(/mmproj-Qwen2.5-7B-F16\.gguf$/);
        expect(qwen.repo).toBe("lmstudio-community/Qwen2.5-7B-Instruct-GGUF");
        expect(models.find((m) => m.name === "big:q8_0")!.files).toHaveLength(2);
    });

    it("adopts the hub cache once per blob, preferring refs/main", async () => {
        const hub = path.join(root, "hf", "hub");
        const content = fakeGguf(300, 9);
        makeHfCache(hub, "Qwen/Qwen2.5-0.5B-Instruct-GGUF", "abc123", [{rel: "qwen2.5-0.5b-instruct-q4_k_m.gguf", content}]);
        makeHfCache(hub, "Qwen/Qwen2.5-0.5B-Instruct-GGUF", "old999", [{rel: "qwen2.5-0.5b-instruct-q4_k_m.gguf", content}]);
        // The second call rewrote refs/main; point it back at the newer snapshot.
        fs.writeFileSync(path.join(hub, "models--Qwen--Qwen2.5-0.5B-Instruct-GGUF", "refs", "main"), "abc123");
        const before = hashTree(hub);
        const models = await discoverHfCache(hub);
        expect(hashTree(hub)).toBe(before);
        expect(models).toHaveLength(1);
        expect(models[0]!.name).toBe("qwen2.5-0.5b-instruct:q4_k_m");
        expect(models[0]!.repo).toBe("Qwen/Qwen2.5-0.5B-Instruct-GGUF");
        expect(models[0]!.revision).toBe("abc123");
        expect(models[0]!.files[0]).toContain(path.join("snapshots", "abc123"));
        if (fs.lstatSync(models[0]!.files[0]!).isSymbolicLink()) expect(models[0]!.blob_sha256).toBe(sha256(content));
    });
});

describe("discoverExternalModels", () => {
    it("honours import_sources switches and directories", async () => {
        const ollama = path.join(root, "o");
        const lm = path.join(root, "lm");
        const hub = path.join(root, "hub");
        makeOllamaStore(ollama, [{model: "tiny", tag: "latest", gguf: fakeGguf(64, 1)}]);
        makeLmStudioStore(lm, [{rel: "pub/repo/model-Q4_0.gguf", content: fakeGguf(64, 2)}]);
        makeHfCache(hub, "org/repo", "c1", [{rel: "x-Q8_0.gguf", content: fakeGguf(64, 3)}]);
        const home = path.join(root, "home");
        fs.mkdirSync(home);
        const all = await discoverExternalModels(testConfig(home, {import_sources: {
            ollama: true, ollama_dir: ollama, lmstudio: true, lmstudio_dir: lm, huggingface: true, huggingface_dir: hub
        }}), undefined, {env: {}, homedir: home});
        expect(all.map((m) => `${m.source}:${m.name}`).sort()).toEqual(["huggingface:x:q8_0", "lmstudio:model:q4_0", "ollama:tiny:latest"]);

        const onlyOllama = await discoverExternalModels(testConfig(home, {import_sources: {
            ollama: true, ollama_dir: ollama, lmstudio: false, lmstudio_dir: lm, huggingface: false, huggingface_dir: hub
        }}), undefined, {env: {}, homedir: home});
        expect(onlyOllama.map((m) => m.source)).toEqual(["ollama"]);
    });

    it("finds default folders from the environment and the home folder", () => {
        const home = path.join(root, "home2");
        fs.mkdirSync(path.join(home, ".ollama", "models"), {recursive: true});
        fs.mkdirSync(path.join(home, ".lmstudio", "models"), {recursive: true});
        const hfHome = path.join(root, "hfhome");
        fs.mkdirSync(path.join(hfHome, "hub"), {recursive: true});
        const cfg = testConfig(home, {import_sources: {ollama: true, lmstudio: true, huggingface: true}});
        const dirs = sourceDirs(cfg, {env: {HF_HOME: hfHome}, homedir: home, platform: "win32"});
        expect(dirs.ollama).toEqual([path.join(home, ".ollama", "models")]);
        expect(dirs.lmstudio).toEqual([path.join(home, ".lmstudio", "models")]);
        expect(dirs.huggingface).toEqual([path.join(hfHome, "hub")]);
        const custom = path.join(root, "custom-ollama");
        fs.mkdirSync(custom);
        expect(sourceDirs(cfg, {env: {OLLAMA_MODELS: custom}, homedir: home}).ollama).toEqual([custom]);
    });

    it("skips a store folder that lies inside models_dir", async () => {
        const home = path.join(root, "home3");
        const inside = path.join(home, "models", "lm");
        makeLmStudioStore(inside, [{rel: "pub/repo/m-Q4_0.gguf", content: fakeGguf(64, 2)}]);
        const found = await discoverExternalModels(testConfig(home, {import_sources: {lmstudio: true, lmstudio_dir: inside}}), undefined, {env: {}, homedir: home});
        expect(found).toEqual([]);
    });
});
