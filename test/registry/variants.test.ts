/** Variants over scanned models: inheritance of defaults, chains, and the config mistakes they report. */
import {describe, expect, it} from "vitest";
import type {ModelOverride} from "../../src/config/schema.js";
import type {ModelEntry} from "../../src/registry/types.js";
import {buildVariants} from "../../src/registry/variants.js";

function file(name: string, extra: Partial<ModelEntry> = {}): ModelEntry {
    return {
        name, path: `models/${name}.gguf`, abs_path: `/h/models/${name}.gguf`, files: [`/h/models/${name}.gguf`], size_bytes: 1, status: "unloaded",
        keep_loaded: true, pinned: false, aliases: [], source: "models_dir", read_only: false, projector: null, fingerprint: "f".repeat(64),
        modified_at: "", mtime_ms: 0, quant_tag: "q8_0", base_name: name, metadata: null, ...extra
    };
}

describe("buildVariants", () => {
    it("folds the base's Modelfile and config defaults into the view; the variant's own stay in its config entry", () => {
        const base = file("qwen", {aliases: ["q"], defaults: {system: "from modelfile", options: {temperature: 0.5, top_k: 10}, stop: ["A"], template: "{{ .Prompt }}"}});
        const overrides: Record<string, ModelOverride> = {
            qwen: {options: {top_k: 20}, messages: [{role: "user", content: "hi"}]},
            helper: {from: "q", system: "mine"}
        };
        const {views, fileOf, problems} = buildVariants([base], overrides);
        expect(problems).toEqual([]);
        expect(views).toHaveLength(1);
        const v = views[0]!;
        expect(v.name).toBe("helper");
        expect(v.abs_path).toBe(base.abs_path);
        expect(v.aliases).toEqual([]);
        expect(v.base_name).toBe("helper");
        expect(v.defaults).toEqual({system: "from modelfile", options: {temperature: 0.5, top_k: 20}, stop: ["A"], messages: [{role: "user", content: "hi"}], template: "{{ .Prompt }}"});
        expect(fileOf.get("helper")).toBe(base);
    });

    it("follows a chain of variants to the file, whatever order the config lists them in", () => {
        const base = file("llama");
        const overrides: Record<string, ModelOverride> = {
            c: {from: "b-alias", options: {num_predict: 3}},
            b: {from: "a", system: "B", aliases: ["b-alias"]},
            a: {from: "llama", options: {temperature: 0}}
        };
        const {views, fileOf, problems} = buildVariants([base], overrides);
        expect(problems).toEqual([]);
        expect(views.map((v) => v.name).sort()).toEqual(["a", "b", "c"]);
        const c = views.find((v) => v.name === "c")!;
        expect(c.defaults).toEqual({system: "B", options: {temperature: 0}});
        expect(fileOf.get("c")).toBe(base);
        expect(views.find((v) => v.name === "b")!.aliases).toEqual(["b-alias"]);
    });

    it("reports a missing base, a loop, a variant of a broken one, a file's own name and runner settings", () => {
        const overrides: Record<string, ModelOverride> = {
            lost: {from: "gone"},
            x: {from: "y"},
            y: {from: "x"},
            child: {from: "lost"},
            llama: {from: "qwen"},
            tuned: {from: "qwen", context_size: 4096, pinned: true}
        };
        const {views, problems} = buildVariants([file("llama"), file("qwen")], overrides);
        expect(views.map((v) => v.name)).toEqual(["tuned"]);
        expect(problems).toEqual(expect.arrayContaining([
            expect.stringMatching(/^models\.lost\.from names "gone", which is not/),
            expect.stringMatching(/makes a loop: (x → y → x|y → x → y)/),
            expect.stringMatching(/^models\.child\.from names the variant "lost", which cannot be served/),
            expect.stringMatching(/^models\.llama\.from is ignored: an installed model is called "llama"/),
            expect.stringMatching(/^models\.tuned: context_size, pinned belong to the runner of "qwen"/)
        ]));
    });

    it("an invalid base gives an invalid view, which is never served", () => {
        const {views} = buildVariants([file("bad", {status: "invalid", reason: "truncated"})], {v: {from: "bad"}});
        expect(views[0]!.status).toBe("invalid");
    });
});
