/**
 * Which of two identical copies the safe-to-delete list keeps: the one whose served name is in use (config aliases, a
 * Modelfile, the names the index already had), then the older one; never "the shorter folder path" first.
 */
import fs from "node:fs";
import path from "node:path";
import {afterEach, beforeEach, describe, expect, it} from "vitest";
import {buildSafeToDeleteList} from "../../src/audit/index.js";
import type {ProviderConfig} from "../../src/config/load.js";
import type {ModelEntry} from "../../src/registry/types.js";
import {rmrf, tempHome, testConfig} from "../download/helpers.js";
import {fakeGguf} from "../sources/fake-stores.js";

let home: string;
let config: ProviderConfig;
const DAY = 24 * 3600 * 1000;
const W = fakeGguf(40 * 1024, 7);

/** A file in models_dir, `ageDays` old. */
function put(rel: string, ageDays: number): string {
    const p = path.join(config.paths.models, ...rel.split("/"));
    fs.mkdirSync(path.dirname(p), {recursive: true});
    fs.writeFileSync(p, W);
    const t = new Date(Date.now() - ageDays * DAY);
    fs.utimesSync(p, t, t);
    return p;
}

function entry(name: string, file: string, over: Partial<ModelEntry> = {}): ModelEntry {
    const st = fs.statSync(file);
    return {
        name, path: file, abs_path: file, files: [file], size_bytes: st.size, status: "unloaded", keep_loaded: false, pinned: false,
        aliases: [], source: "models_dir", read_only: false, projector: null, fingerprint: "f", modified_at: new Date(st.mtimeMs).toISOString(),
        mtime_ms: st.mtimeMs, quant_tag: "f32", base_name: "tiny", metadata: null, ...over
    };
}

async function candidate(models: ModelEntry[], opts: {existingNames?: Set<string>; cfg?: ProviderConfig} = {}) {
    const report = await buildSafeToDeleteList(opts.cfg ?? config, models, {envOpts: {env: {}, homedir: home}, existingNames: opts.existingNames});
    const dups = report.candidates.filter((c) => c.reason === "duplicate");
    expect(dups).toHaveLength(1);
    return {offered: path.relative(config.paths.models, dups[0]!.path), kept: path.relative(config.paths.models, dups[0]!.kept!.path), detail: dups[0]!.detail};
}

beforeEach(() => {
    home = tempHome("zc-keep-");
    config = testConfig(home, {import_sources: {ollama: false, lmstudio: false, huggingface: false}});
});

afterEach(() => {
    rmrf(home);
});

describe("which copy of a duplicate is kept", () => {
    it("the original whose name the index already had, not the newer copy in the shorter folder (the issue's case)", async () => {
        const original = put("tiny/tiny-f32.gguf", 10);
        const copy = put("old/tiny-f32.gguf", 1);
        const r = await candidate([entry("tiny", original), entry("tiny:f32", copy)], {existingNames: new Set(["tiny"])});
        expect(r).toMatchObject({offered: path.join("old", "tiny-f32.gguf"), kept: path.join("tiny", "tiny-f32.gguf")});
        expect(r.detail).toContain(`kept: its served name is in use ("tiny" was already in the index)`);
        // The prompt states the rule.
        expect(r.detail).toContain("the one whose served name is in use (config aliases, a Modelfile, the names the index already had) is kept, then the older one");
    });

    it("a name in use wins over age: the newer copy is kept when it is the one clients call", async () => {
        const older = put("a/tiny-f32.gguf", 30);
        const used = put("b/tiny-f32.gguf", 2);
        expect(await candidate([entry("tiny-a", older), entry("tiny", used)], {existingNames: new Set(["tiny"])})).toMatchObject({kept: path.join("b", "tiny-f32.gguf")});
    });

    it("config aliases, a models.<name> entry or a Modelfile count as in use", async () => {
        const older = put("a/tiny-f32.gguf", 30);
        const aliased = put("bb/tiny-f32.gguf", 2);
        const withAliases = {...config, models: {"tiny-b": {aliases: ["claude-3-5-haiku"]}}};
        const r = await candidate([entry("tiny-a", older), entry("tiny-b", aliased)], {cfg: withAliases});
        expect(r.kept).toBe(path.join("bb", "tiny-f32.gguf"));
        expect(r.detail).toContain(`config aliases "claude-3-5-haiku" name "tiny-b"`);
        const modelfile = await candidate([entry("tiny-a", older), entry("tiny-b", aliased, {defaults: {modelfile: "FROM ./tiny-f32.gguf\n"}})]);
        expect(modelfile.kept).toBe(path.join("bb", "tiny-f32.gguf"));
        expect(modelfile.detail).toContain("a Modelfile in its folder");
    });

    it("nothing in use: the older copy stays, whatever its folder", async () => {
        const newer = put("a/tiny-f32.gguf", 1);
        const older = put("much/longer/folder/tiny-f32.gguf", 20);
        const r = await candidate([entry("tiny", newer), entry("tiny:2", older)]);
        expect(r).toMatchObject({kept: path.join("much", "longer", "folder", "tiny-f32.gguf"), offered: path.join("a", "tiny-f32.gguf")});
        expect(r.detail).toMatch(/kept: the older copy \(its model is there since \d{4}-\d\d-\d\d\)/);
    });

    it("both in use: the older one", async () => {
        const older = put("x/tiny-f32.gguf", 9);
        const newer = put("y/tiny-f32.gguf", 3);
        expect(await candidate([entry("tiny", newer), entry("tiny:f32", older)], {existingNames: new Set(["tiny", "tiny:f32"])})).toMatchObject({kept: path.join("x", "tiny-f32.gguf")});
    });
});
