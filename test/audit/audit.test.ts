import fs from "node:fs";
import type {AddressInfo} from "node:net";
import path from "node:path";
import Fastify from "fastify";
import {afterEach, beforeEach, describe, expect, it} from "vitest";
import {registerAuditRoutes} from "../../src/api/audit.js";
import {AuditError, buildSafeToDeleteList, deleteApproved, type SafeToDeleteReport} from "../../src/audit/index.js";
import type {ProviderConfig} from "../../src/config/load.js";
import {silentLogger} from "../../src/log/logger.js";
import type {ModelEntry} from "../../src/registry/types.js";
import {discoverExternalModels} from "../../src/sources/index.js";
import {rmrf, tempHome, testConfig} from "../download/helpers.js";
import {fakeGguf, hashTree, makeHfCache, makeOllamaStore, sha256} from "../sources/fake-stores.js";

let home: string;
let config: ProviderConfig;
let ollamaStore: string;
let hub: string;
let models: ModelEntry[];
const DAY = 24 * 3600 * 1000;

const X = fakeGguf(64 * 1024, 1);
const Y = fakeGguf(32 * 1024, 2);
const Z = fakeGguf(32 * 1024, 3);
const W = fakeGguf(48 * 1024, 4);

function put(rel: string, content: Buffer): string {
    const p = path.join(config.paths.models, ...rel.split("/"));
    fs.mkdirSync(path.dirname(p), {recursive: true});
    fs.writeFileSync(p, content);
    return p;
}

function entry(name: string, file: string, over: Partial<ModelEntry> = {}): ModelEntry {
    const st = fs.statSync(file);
    return {
        name, path: file, abs_path: file, files: [file], size_bytes: st.size, status: "unloaded", keep_loaded: false, pinned: false,
        aliases: [], source: "models_dir", read_only: false, projector: null, fingerprint: "f", modified_at: new Date(st.mtimeMs).toISOString(),
        mtime_ms: st.mtimeMs, quant_tag: "", base_name: name, metadata: null, ...over
    };
}

function candidatePaths(r: SafeToDeleteReport): Record<string, string> {
    return Object.fromEntries(r.candidates.map((c) => [path.relative(config.paths.models, c.path).split(path.sep).join("/"), c.reason]));
}

function listAll(dir: string): string[] {
    const out: string[] = [];
    const walk = (d: string): void => {
        for (const e of fs.readdirSync(d, {withFileTypes: true})) {
            const p = path.join(d, e.name);
            if (e.isDirectory()) walk(p);
            else out.push(path.relative(dir, p).split(path.sep).join("/"));
        }
    };
    walk(dir);
    return out.sort();
}

beforeEach(() => {
    home = tempHome("zc-audit-");
    ollamaStore = path.join(home, "stores", "ollama");
    hub = path.join(home, "stores", "hub");
    config = testConfig(home, {
        downloads: {orphan_part_days: 7},
        import_sources: {ollama: true, ollama_dir: ollamaStore, lmstudio: false, huggingface: true, huggingface_dir: hub}
    });
    const a = put("A/a-Q4_K_M.gguf", X);
    put("B/a-copy-Q4_K_M.gguf", X);
    const c = put("C/only-Q8_0.gguf", Y);
    const d = put("D/z-Q8_0.gguf", Z);
    const broken = put("E/broken.gguf", Buffer.from("not a model at all"));
    put("F/mmproj-orphan-f16.gguf", fakeGguf(1000, 9));
    const used = put("H/h-Q4_0.gguf", fakeGguf(500, 10));
    const usedProj = put("H/mmproj-h-f16.gguf", fakeGguf(700, 11));
    const oldPart = put("G/old.gguf.part", Buffer.alloc(5000, 1));
    fs.utimesSync(oldPart, new Date(Date.now() - 10 * DAY), new Date(Date.now() - 10 * DAY));
    put("G/new.gguf.part", Buffer.alloc(3000, 2));
    const busyPart = put("G/busy.gguf.part", Buffer.alloc(4000, 3));
    fs.utimesSync(busyPart, new Date(Date.now() - 30 * DAY), new Date(Date.now() - 30 * DAY));
    // Split model, two identical copies: both parts of one copy must go, never one part of each.
    for (const dir of ["S1", "S2"]) {
        put(`${dir}/big-Q8_0-00001-of-00002.gguf`, fakeGguf(20_000, 20));
        put(`${dir}/big-Q8_0-00002-of-00002.gguf`, fakeGguf(20_000, 21));
    }
    makeOllamaStore(ollamaStore, [{model: "tiny", tag: "latest", gguf: X}, {model: "tiny", tag: "q4", gguf: X}, {model: "solo", tag: "latest", gguf: W}]);
    makeHfCache(hub, "org/solo-GGUF", "c0ffee", [{rel: "solo-Q4_K_M.gguf", content: W}]);
    models = [
        entry("a", a, {pinned: true}), entry("only", c), entry("z", d),
        entry("broken", broken, {status: "invalid", reason: "not a GGUF file"}),
        entry("h", used, {projector: usedProj}),
        entry("big", path.join(config.paths.models, "S1", "big-Q8_0-00001-of-00002.gguf"), {files: ["S1", "S1"].map((s, i) => path.join(config.paths.models, s, `big-Q8_0-0000${i + 1}-of-00002.gguf`))}),
        entry("big-2", path.join(config.paths.models, "S2", "big-Q8_0-00001-of-00002.gguf"), {files: [1, 2].map((i) => path.join(config.paths.models, "S2", `big-Q8_0-0000${i}-of-00002.gguf`))})
    ];
});

afterEach(() => {
    rmrf(home);
});

describe("safe-to-delete list", () => {
    it("lists duplicates, orphaned parts, invalid files and unused projectors, with advice for read-only stores", async () => {
        const storesBefore = hashTree(path.join(home, "stores"));
        const progress: number[] = [];
        const report = await buildSafeToDeleteList(config, models, {
            envOpts: {env: {}, homedir: home},
            activeParts: [path.join(config.paths.models, "G", "busy.gguf.part")],
            onProgress: (p) => progress.push(p.done_bytes)
        });
        expect(candidatePaths(report)).toEqual({
            "B/a-copy-Q4_K_M.gguf": "duplicate",
            "E/broken.gguf": "invalid_gguf",
            "F/mmproj-orphan-f16.gguf": "unused_projector",
            "G/old.gguf.part": "orphan_part",
            "S2/big-Q8_0-00001-of-00002.gguf": "duplicate",
            "S2/big-Q8_0-00002-of-00002.gguf": "duplicate"
        });
        const dup = report.candidates.find((c) => c.path.endsWith("a-copy-Q4_K_M.gguf"))!;
        expect(dup.kept?.path).toBe(path.join(config.paths.models, "A", "a-Q4_K_M.gguf"));
        expect(dup.detail).toMatch(/identical/);
        for (const c of report.candidates) {
            expect(c.size_bytes).toBeGreaterThan(0);
            expect(path.isAbsolute(c.path)).toBe(true);
        }

        // Ollama's copy of X: advice, never a candidate; both tags must go for the blob to be freed.
        const blob = path.join(ollamaStore, "blobs", `sha256-${sha256(X)}`);
        const ollamaAdvice = report.advice.find((a) => a.path === blob)!;
        expect(ollamaAdvice.command).toBe("ollama rm tiny:latest tiny:q4");
        expect(ollamaAdvice.duplicate_of).toBe(path.join(config.paths.models, "A", "a-Q4_K_M.gguf"));
        // W exists only in Ollama and the HF cache: Ollama's copy is kept, the cache one gets the cache tool.
        const hfAdvice = report.advice.find((a) => a.source === "huggingface")!;
        expect(hfAdvice.command).toBe("huggingface-cli delete-cache");
        expect(hfAdvice.detail).toContain("models--org--solo-GGUF");
        expect(hfAdvice.duplicate_of).toBe(path.join(ollamaStore, "blobs", `sha256-${sha256(W)}`));
        expect(report.candidates.some((c) => c.path.startsWith(ollamaStore) || c.path.startsWith(hub))).toBe(false);

        // Y and Z share a size but not content: hashed, not duplicates.
        expect(report.duplicates.some((d) => d.keep.endsWith("only-Q8_0.gguf") || d.copies.some((p) => p.endsWith("only-Q8_0.gguf")))).toBe(false);
        expect(progress.length).toBeGreaterThan(0);
        expect(progress[progress.length - 1]).toBe(report.hashed_bytes);
        expect(hashTree(path.join(home, "stores"))).toBe(storesBefore);

        // Hashes are cached: the second audit hashes nothing.
        const again = await buildSafeToDeleteList(config, models, {envOpts: {env: {}, homedir: home}, activeParts: [path.join(config.paths.models, "G", "busy.gguf.part")]});
        expect(again.hashed_files).toBe(0);
        expect(candidatePaths(again)).toEqual(candidatePaths(report));
    });

    it("never offers the only copy of a model", async () => {
        const report = await buildSafeToDeleteList(config, models, {envOpts: {env: {}, homedir: home}});
        const paths = report.candidates.map((c) => c.path);
        for (const m of models.filter((x) => x.status !== "invalid")) {
            // at least one full copy of every valid model's content stays
            const remaining = m.files.filter((f) => !paths.includes(f));
            const keptElsewhere = report.candidates.filter((c) => m.files.includes(c.path)).every((c) => c.kept && !paths.includes(c.kept.path));
            expect(remaining.length === m.files.length || keptElsewhere).toBe(true);
        }
        expect(paths).not.toContain(path.join(config.paths.models, "C", "only-Q8_0.gguf"));
        expect(paths).not.toContain(path.join(config.paths.models, "A", "a-Q4_K_M.gguf"));
    });

    it("uses the same stores the registry adopts when none are passed", async () => {
        const ext = await discoverExternalModels(config, silentLogger, {env: {}, homedir: home});
        const a = await buildSafeToDeleteList(config, models, {external: ext});
        expect(a.advice.length).toBe(2);
    });
});

describe("deleteApproved", () => {
    it("deletes nothing without a valid token or with a path that is not a candidate", async () => {
        const report = await buildSafeToDeleteList(config, models, {envOpts: {env: {}, homedir: home}});
        const before = listAll(config.paths.models);
        const dup = report.candidates.find((c) => c.reason === "duplicate")!.path;
        const attempts: Array<[unknown, unknown, number]> = [
            [[dup], undefined, 400],
            [[dup], "", 400],
            [[dup], "123.abc", 403],
            [[dup], `${Date.now() + 60_000}.${"A".repeat(43)}`, 403],
            [[dup, path.join(config.paths.models, "A", "a-Q4_K_M.gguf")], report.token, 400],
            [[path.join(ollamaStore, "blobs", `sha256-${sha256(X)}`)], report.token, 400],
            [[], report.token, 400],
            ["not-a-list", report.token, 400]
        ];
        for (const [paths, token, status] of attempts) {
            await expect(deleteApproved(config, report.candidates, paths, token)).rejects.toMatchObject({status});
        }
        // A token from an earlier listing does not cover a changed list.
        await expect(deleteApproved(config, report.candidates.slice(1), [report.candidates[1]!.path], report.token)).rejects.toBeInstanceOf(AuditError);
        // Expired.
        await expect(deleteApproved(config, report.candidates, [dup], report.token, {now: Date.now() + 16 * 60_000})).rejects.toMatchObject({status: 403});
        expect(listAll(config.paths.models)).toEqual(before);
    });

    it("refuses a file changed since the listing, and a duplicate whose kept copy vanished", async () => {
        const report = await buildSafeToDeleteList(config, models, {envOpts: {env: {}, homedir: home}});
        const broken = report.candidates.find((c) => c.reason === "invalid_gguf")!.path;
        fs.appendFileSync(broken, "more");
        await expect(deleteApproved(config, report.candidates, [broken], report.token)).rejects.toMatchObject({status: 409});
        const dup = report.candidates.find((c) => c.path.endsWith("a-copy-Q4_K_M.gguf"))!;
        fs.rmSync(dup.kept!.path);
        await expect(deleteApproved(config, report.candidates, [dup.path], report.token)).rejects.toMatchObject({status: 409});
        expect(fs.existsSync(dup.path)).toBe(true);
    });

    it("deletes exactly the approved candidates and leaves the read-only stores untouched", async () => {
        const storesBefore = hashTree(path.join(home, "stores"));
        const report = await buildSafeToDeleteList(config, models, {envOpts: {env: {}, homedir: home}});
        const approve = report.candidates.filter((c) => c.reason === "duplicate" || c.reason === "orphan_part").map((c) => c.path);
        const result = await deleteApproved(config, report.candidates, approve, report.token);
        expect(result.deleted.map((d) => d.path).sort()).toEqual([...approve].sort());
        expect(result.failed).toEqual([]);
        expect(result.freed_bytes).toBe(report.candidates.filter((c) => approve.includes(c.path)).reduce((n, c) => n + c.size_bytes, 0));
        for (const p of approve) expect(fs.existsSync(p)).toBe(false);
        expect(fs.existsSync(path.join(config.paths.models, "E", "broken.gguf"))).toBe(true);
        expect(fs.existsSync(path.join(config.paths.models, "A", "a-Q4_K_M.gguf"))).toBe(true);
        expect(fs.existsSync(path.join(config.paths.models, "S1", "big-Q8_0-00002-of-00002.gguf"))).toBe(true);
        expect(hashTree(path.join(home, "stores"))).toBe(storesBefore);
    });
});

describe("audit routes", () => {
    it("lists with a token and deletes only with it, then rescans", async () => {
        let rescans = 0;
        const app = Fastify();
        const envModels = models;
        registerAuditRoutes(app, {config, logger: silentLogger, listModels: async () => envModels, rescan: async () => {
            rescans++;
        }});
        await app.listen({host: "127.0.0.1", port: 0});
        const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
        try {
            const res = await fetch(`${base}/models/safe-to-delete`);
            expect(res.status).toBe(200);
            const report = await res.json() as SafeToDeleteReport;
            expect(report.candidates.length).toBeGreaterThan(0);
            const target = report.candidates.find((c) => c.reason === "invalid_gguf")!.path;
            const post = async (body: unknown): Promise<{status: number; json: Record<string, unknown>}> => {
                const r = await fetch(`${base}/models/delete`, {method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(body)});
                return {status: r.status, json: await r.json() as Record<string, unknown>};
            };
            expect((await post({paths: [target]})).status).toBe(400);
            const forged = await post({paths: [target], token: `${Date.now() + 60_000}.${"B".repeat(43)}`});
            expect(forged.status).toBe(403);
            expect(typeof forged.json.error).toBe("string");
            expect(fs.existsSync(target)).toBe(true);
            expect(rescans).toBe(0);

            const ok = await post({paths: [target], token: report.token});
            expect(ok.status).toBe(200);
            expect((ok.json.deleted as Array<{path: string}>).map((d) => d.path)).toEqual([target]);
            expect(fs.existsSync(target)).toBe(false);
            expect(rescans).toBe(1);
            // Single use.
            const other = report.candidates.find((c) => c.reason === "unused_projector")!.path;
            expect((await post({paths: [other], token: report.token})).status).toBe(403);
            expect(fs.existsSync(other)).toBe(true);
        } finally {
            await app.close();
        }
    });
});
