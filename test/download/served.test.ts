/**
 * End to end on the real server: a model downloaded from the stand-in is registered and answers a generation;
 * a generated Ollama store is adopted, served under its Ollama names, and left byte-for-byte untouched.
 */
import fs from "node:fs";
import path from "node:path";
import {afterEach, beforeEach, describe, expect, it} from "vitest";
import {registerDownloadRoutes} from "../../src/api/downloads.js";
import {DownloadManager} from "../../src/download/manager.js";
import {writeTestModel} from "../../src/gguf/test-model.js";
import {silentLogger} from "../../src/log/logger.js";
import {testConfig as serverTestConfig} from "../helpers/home.js";
import {startTestServer, type TestServer} from "../helpers/server.js";
import {hashTree, makeOllamaStore} from "../sources/fake-stores.js";
import {HfStandin} from "./hf-standin.js";
import {rmrf, tempHome} from "./helpers.js";

let home: string;
let scratch: string;
let standin: HfStandin;
let server: TestServer | null = null;
let downloads: DownloadManager | null = null;

beforeEach(async () => {
    home = tempHome("zc-served-");
    scratch = tempHome("zc-served-src-");
    standin = new HfStandin();
    await standin.start();
});

afterEach(async () => {
    await downloads?.close();
    downloads = null;
    await server?.close(1000);
    server = null;
    await standin.close();
    // The registry may still flush a status change to the index after close; remove the home until it stays gone.
    for (let i = 0; i < 10; i++) {
        rmrf(home);
        await new Promise((r) => setTimeout(r, 200));
        if (!fs.existsSync(home)) break;
    }
    rmrf(scratch);
});

async function generate(s: TestServer, model: string): Promise<void> {
    const gen = await s.json<{response?: string; done?: boolean; error?: string}>("/api/generate", {model, prompt: "Hello", stream: false, options: {num_predict: 3, temperature: 0}});
    expect(gen.status, JSON.stringify(gen.body)).toBe(200);
    expect(typeof gen.body.response).toBe("string");
    expect(gen.body.done).toBe(true);
}

describe("served end to end", () => {
    it("downloads from the stand-in, registers the model at once, and serves it", async () => {
        const model = await writeTestModel(path.join(scratch, "tiny-q8_0.gguf"), {quantization: "q8_0"});
        standin.addRepo("zc/Tiny-GGUF", [{path: "tiny-q8_0.gguf", content: fs.readFileSync(model.path)}]);
        const overrides = {downloads: {max_concurrent: 1, hf_token: null, hf_endpoint: standin.base, retries: 2, orphan_part_days: 7}};
        const config = serverTestConfig(home, overrides);
        const dm = await DownloadManager.create({config, env: {}, freeSpace: async () => 1e12});
        downloads = dm;
        server = await startTestServer(home, overrides, {downloads: dm});
        const start = await server.json<{id: string; total_bytes: number}>("/download/start", {model: "hf:zc/Tiny-GGUF:Q8_0"});
        expect(start.status).toBe(202);
        expect(start.body.total_bytes).toBe(model.totalSize);
        const done = await dm.wait(start.body.id);
        expect(done.status, done.error ?? "").toBe("completed");
        expect(done.target).toBe(path.join(config.paths.models, "Tiny-GGUF", "tiny-q8_0.gguf"));
        const tags = await server.json<{models: Array<{name: string; source: string}>}>("/api/tags");
        const entry = tags.body.models.find((m) => m.name.startsWith("tiny"));
        expect(entry, JSON.stringify(tags.body)).toBeDefined();
        await generate(server, entry!.name);
    });

    it("adopts a generated Ollama store, serves it under Ollama names, and never writes to it", async () => {
        const model = await writeTestModel(path.join(scratch, "m.gguf"), {quantization: "q8_0"});
        const store = path.join(scratch, "ollama", "models");
        makeOllamaStore(store, [
            {model: "tinyllama", tag: "latest", gguf: fs.readFileSync(model.path), params: {temperature: 0.2, stop: ["<|end|>"]}, system: "Be brief.", template: "{{ .System }} {{ .Prompt }}"},
            {namespace: "someone", model: "tiny", tag: "v1", gguf: fs.readFileSync(model.path)}
        ]);
        const before = hashTree(store);
        server = await startTestServer(home, {
            import_sources: {ollama: true, ollama_dir: store, lmstudio: false, lmstudio_dir: null, huggingface: false, huggingface_dir: null}
        }, {externalSources: true});
        const tags = await server.json<{models: Array<{name: string; source: string}>}>("/api/tags");
        const names = tags.body.models.map((m) => m.name);
        expect(names).toContain("tinyllama:latest");
        expect(names).toContain("someone/tiny:v1");
        expect(tags.body.models.find((m) => m.name === "tinyllama:latest")!.source).toBe("ollama");
        const show = await server.json<{template?: string; system?: string}>("/api/show", {model: "tinyllama:latest"});
        expect(show.status).toBe(200);
        expect(show.body.template).toBe("{{ .System }} {{ .Prompt }}");
        await generate(server, "tinyllama:latest");
        await server.close(1000);
        server = null;
        expect(hashTree(store)).toBe(before);
    });
});
