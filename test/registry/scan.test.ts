import fs from "node:fs/promises";
import fsSync from "node:fs";
import path from "node:path";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {Ajv} from "ajv";
import {scanModels} from "../../src/registry/scan.js";
import {readIndex} from "../../src/registry/index-file.js";
import type {ProviderConfig} from "../../src/config/load.js";
import {addModel, makeHome, removeHome, testConfig} from "../helpers/home.js";

let home: string;
let config: ProviderConfig;

beforeAll(async () => {
    home = await makeHome("zc-scan-");
    await addModel(home, "qwen2.5-1.5b-instruct-gguf/qwen2.5-1.5b-instruct-q8_0.gguf", {quantization: "q8_0"});
    await addModel(home, "qwen2.5-1.5b-instruct-gguf/qwen2.5-1.5b-instruct-f16.gguf", {quantization: "f16"});
    await addModel(home, "nested/deeper/still/tiny-qwen2-q8_0.gguf", {architecture: "qwen2", quantization: "q8_0"});
    await addModel(home, "splitty/splitty-q8_0.gguf", {split: 3});
    await addModel(home, "vision/vision-model-f32.gguf", {projector: true, quantization: "f32"});
    await addModel(home, "broken/broken-q8_0.gguf", {truncateTensorData: true});
    await addModel(home, "agent/agent-q8_0.gguf", {tools: true});
    const models = path.join(home, "models");
    await fs.mkdir(path.join(models, "junk"), {recursive: true});
    await fs.writeFile(path.join(models, "junk", "readme.gguf"), "this is a text file, not a model\n");
    await fs.writeFile(path.join(models, "junk", "empty.gguf"), "");
    await fs.writeFile(path.join(models, "junk", "magic.gguf"), Buffer.from("GGML\0\0\0\0 wrong magic bytes"));
    await fs.writeFile(path.join(models, "junk", "notes.txt"), "ignored");
    await fs.writeFile(path.join(models, "junk", "partial.gguf.part"), "ignored partial download");
    await fs.writeFile(path.join(models, "junk", "partial.gguf.ipull"), "ignored partial download");
    // a symlink loop: models/loop/back -> models
    await fs.mkdir(path.join(models, "loop"), {recursive: true});
    await fs.symlink(models, path.join(models, "loop", "back"), "dir");
    config = testConfig(home);
});
afterAll(async () => removeHome(home));

describe("discovery", () => {
    it("finds every model once, names it from folder and file, and reads its header", async () => {
        const {index, warnings} = await scanModels(config);
        const byName = new Map(index.models.map((m) => [m.name, m]));
        // the preferred quantization gets the bare name, the other one `name:quant`
        expect(byName.get("qwen2.5-1.5b-instruct")?.metadata?.quantization).toBe("Q8_0");
        expect(byName.get("qwen2.5-1.5b-instruct:f16")?.metadata?.quantization).toBe("F16");
        expect(byName.get("qwen2.5-1.5b-instruct")?.path).toBe("models/qwen2.5-1.5b-instruct-gguf/qwen2.5-1.5b-instruct-q8_0.gguf");
        const qwen2 = byName.get("tiny-qwen2")!;
        expect(qwen2.metadata?.architecture).toBe("qwen2");
        expect(byName.get("qwen2.5-1.5b-instruct")?.metadata?.architecture).toBe("llama");
        expect(qwen2.metadata?.context_length).toBeGreaterThan(0);
        expect(qwen2.metadata?.has_chat_template).toBe(true);
        expect(qwen2.metadata?.parameter_count).toBeGreaterThan(0);
        expect(qwen2.status).toBe("unloaded");
        // nothing found twice through the symlink loop, and the loop was reported
        expect(index.models.filter((m) => m.name.startsWith("tiny-qwen2"))).toHaveLength(1);
        expect(warnings.some((w) => /symlink loop|already scanned/.test(w))).toBe(true);
    });

    it("knows from the header alone which chat wrapper a model gets and whether it supports tools", async () => {
        const {index} = await scanModels(config);
        const agent = index.models.find((m) => m.name === "agent")!;
        expect(agent.metadata?.supports_tools).toBe(true);
        expect(agent.metadata?.chat_wrapper).toBe("JinjaTemplate");
        const plain = index.models.find((m) => m.name === "qwen2.5-1.5b-instruct")!;
        expect(plain.metadata?.supports_tools).toBe(false);
        expect(plain.metadata?.chat_wrapper).toBe("ChatML");
    });

    it("treats split parts as one model and projectors as attachments", async () => {
        const {index} = await scanModels(config);
        const split = index.models.filter((m) => m.name.startsWith("splitty"));
        expect(split).toHaveLength(1);
        expect(split[0]!.files).toHaveLength(3);
        expect(split[0]!.status).toBe("unloaded");
        expect(split[0]!.size_bytes).toBe(split[0]!.files.reduce((a, f) => a + fsSync.statSync(f).size, 0));
        expect(index.models.some((m) => m.name.includes("mmproj"))).toBe(false);
        const vision = index.models.find((m) => m.name === "vision-model")!;
        expect(vision.projector).toMatch(/mmproj-.*\.gguf$/);
        expect(index.projectors).toHaveLength(1);
        expect(index.projectors[0]!.model).toBe("vision-model");
    });

    it("lists bad files as invalid with a reason and keeps scanning", async () => {
        const {index} = await scanModels(config);
        const reason = (file: string) => index.models.find((m) => m.abs_path.endsWith(file))?.reason;
        expect(index.models.find((m) => m.abs_path.endsWith("readme.gguf"))?.status).toBe("invalid");
        expect(reason("readme.gguf")).toMatch(/not a GGUF file/);
        expect(reason("empty.gguf")).toMatch(/empty file/);
        expect(reason("magic.gguf")).toMatch(/wrong magic/);
        expect(reason("broken-q8_0.gguf")).toMatch(/truncated/);
        expect(index.models.some((m) => m.abs_path.endsWith(".part") || m.abs_path.endsWith(".ipull") || m.abs_path.endsWith(".txt"))).toBe(false);
    });

    it("writes an index whose entries carry name, path, size, status, fingerprint, source and metadata", async () => {
        await scanModels(config);
        const raw = JSON.parse(await fs.readFile(config.paths.registry, "utf8")) as {models: unknown[]};
        const ajv = new Ajv({allErrors: true});
        const validate = ajv.compile({
            type: "object",
            required: ["version", "models"],
            properties: {
                models: {
                    type: "array",
                    items: {
                        type: "object",
                        required: ["name", "path", "size_bytes", "status", "keep_loaded", "fingerprint", "metadata", "source"],
                        properties: {
                            name: {type: "string"}, path: {type: "string"}, size_bytes: {type: "integer"},
                            status: {enum: ["unloaded", "invalid", "loaded"]}, keep_loaded: {type: "boolean"},
                            fingerprint: {type: "string", pattern: "^[0-9a-f]{64}$"}
                        }
                    }
                }
            }
        });
        expect(validate(raw), JSON.stringify(validate.errors)).toBe(true);
        expect(raw.models.length).toBeGreaterThan(5);
    });

    it("writes atomically: a reader never sees a partial index and no temp file is left", async () => {
        let reads = 0;
        let stop = false;
        const reader = (async () => {
            while (!stop) {
                try {
                    JSON.parse(await fs.readFile(config.paths.registry, "utf8"));
                    reads++;
                } catch (err) {
                    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
                }
                await new Promise((r) => setImmediate(r));
            }
        })();
        for (let i = 0; i < 15; i++) await scanModels(config, {previous: null});
        stop = true;
        await reader;
        expect(reads).toBeGreaterThan(0);
        const leftovers = (await fs.readdir(path.dirname(config.paths.registry))).filter((f) => f.endsWith(".tmp"));
        expect(leftovers).toEqual([]);
    });

    it("rescans incrementally: only changed files are read again, and names stay stable", async () => {
        const first = await scanModels(config, {previous: null});
        expect(first.stats.headerReads).toBeGreaterThan(5);
        const second = await scanModels(config);
        expect(second.stats.headerReads).toBe(0);
        expect(second.index.models.map((m) => m.name)).toEqual(first.index.models.map((m) => m.name));
        // touch one file: exactly one header read
        const target = path.join(home, "models", "nested", "deeper", "still", "tiny-qwen2-q8_0.gguf");
        const later = new Date(Date.now() + 5000);
        await fs.utimes(target, later, later);
        const third = await scanModels(config);
        expect(third.stats.headerReads).toBe(1);
        // a new quantization added later never renames the model that already had the bare name
        await addModel(home, "qwen2.5-1.5b-instruct-gguf/qwen2.5-1.5b-instruct-q4_k_m.gguf", {quantization: "q8_0"});
        const fourth = await scanModels(config);
        expect(fourth.stats.headerReads).toBe(1);
        const names = fourth.index.models.map((m) => m.name);
        expect(fourth.index.models.find((m) => m.name === "qwen2.5-1.5b-instruct")?.abs_path).toMatch(/q8_0\.gguf$/);
        expect(names).toContain("qwen2.5-1.5b-instruct:q4_k_m");
        await fs.rm(path.join(home, "models", "qwen2.5-1.5b-instruct-gguf", "qwen2.5-1.5b-instruct-q4_k_m.gguf"));
    });

    // the first scan reads 1,001 headers: ~40 s on a busy 2-core machine, past the default 60 s at a load of 11
    it("a rescan of 1,000 unchanged files reads no header", async () => {
        const big = await makeHome("zc-scan-1000-");
        try {
            const info = await addModel(big, "seed/seed-q8_0.gguf");
            for (let i = 0; i < 1000; i++) {
                const dir = path.join(big, "models", `copy-${String(i).padStart(4, "0")}`);
                await fs.mkdir(dir, {recursive: true});
                await fs.link(info.path, path.join(dir, `model-${i}-q8_0.gguf`));
            }
            const c = testConfig(big);
            const first = await scanModels(c);
            expect(first.index.models).toHaveLength(1001);
            expect(new Set(first.index.models.map((m) => m.name)).size).toBe(1001);
            const again = await scanModels(c);
            expect(again.stats.headerReads).toBe(0);
            expect(again.stats.reused).toBe(1001);
        } finally {
            await removeHome(big);
        }
    }, 180_000);

    it("reads headers in a child process (as the build does) with the same facts and reasons as in this process", async () => {
        // the index the tests above wrote holds this process's reads: reusing it costs no header read
        const here = await scanModels(config, {write: false, headerReading: "in-process"});
        const child = await scanModels(config, {previous: null, write: false, headerReading: "child"});
        expect(child.stats.headerReads).toBeGreaterThan(5);
        const facts = (r: typeof here) => r.index.models.map((m) => ({name: m.name, status: m.status, reason: m.reason, metadata: m.metadata, projector: m.projector}));
        expect(facts(child)).toEqual(facts(here));
        // the bad files keep their own reasons across the process line, and the projector is still an attachment
        expect(child.index.models.find((m) => m.name === "magic")?.reason).toMatch(/not a GGUF file/);
        expect(child.index.models.find((m) => m.name === "broken")?.reason).toMatch(/truncated/);
        expect(child.index.projectors).toEqual(here.index.projectors);
    });

    it("reads a previous index back, and ignores a damaged one", async () => {
        expect((await readIndex(config.paths.registry))?.models.length).toBeGreaterThan(0);
        const damaged = path.join(home, "registry", "damaged.json");
        await fs.writeFile(damaged, "{\"version\": 1, \"models\": [");
        expect(await readIndex(damaged)).toBeNull();
    });
});
