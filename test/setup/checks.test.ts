/**
 * The provider checks, the tests step's default: which models they load, and a fresh `npm run setup` on a home with
 * two models and an upstream, where every check runs against the provider as setup configured it.
 */
import fs from "node:fs";
import path from "node:path";
import {afterAll, describe, expect, test} from "vitest";
import {loadConfig} from "../../src/config/load.js";
import type {GgufMetadata, ModelEntry} from "../../src/registry/types.js";
import {modelsToCheck} from "../../src/setup/checks/models.js";
import {CHECKED_ROUTES} from "../../src/setup/checks/routes.js";
import type {CheckResult} from "../../src/setup/checks/types.js";
import {validateReport} from "../../src/setup/schemas.js";
import type {TestResultsFile} from "../../src/setup/steps/test-results.js";
import {CHECKS_COMMAND, estimateCheckSeconds} from "../../src/setup/steps/tests.js";
import {loadTasklist} from "../../src/setup/tasklist.js";
import {addModel, makeHome, removeHome} from "../helpers/home.js";
import {startOllamaStandIn} from "../upstream/standin.js";
import {git, readReport, runSetup, testOverrides} from "./helpers.js";

const homes: string[] = [];
const closers: Array<() => Promise<void>> = [];
afterAll(async () => {
    for (const c of closers) await c();
    for (const h of homes) await removeHome(h);
});

function entry(name: string, opts: {size: number; generated?: boolean; fingerprint?: string; invalid?: boolean}): ModelEntry {
    const metadata = {
        architecture: "llama", parameter_count: opts.size, general_name: opts.generated ? "ZombieCoder Test llama" : "Qwen", is_embedding: false, has_fim: false,
        context_length: 4096, block_count: 2, head_count: 4, head_count_kv: 2, embedding_length: 64, vocab_size: 300
    } as GgufMetadata;
    return {
        name, path: name, abs_path: `/m/${name}.gguf`, files: [`/m/${name}.gguf`], size_bytes: opts.size, status: opts.invalid ? "invalid" : "unloaded", reason: opts.invalid ? "not a GGUF file" : undefined,
        keep_loaded: true, pinned: false, aliases: [], source: "models_dir", read_only: false, projector: null, fingerprint: opts.fingerprint ?? name,
        modified_at: "", mtime_ms: 0, quant_tag: "", base_name: name, metadata: opts.invalid ? null : metadata
    };
}

describe("which models the checks load", () => {
    const cfg = loadConfig({home: "/srv/zc", env: {}, overrides: {ram_threshold_mb: 1000}});

    test("every usable model, smallest first, each file content once; generated test models only without real ones; too big ones reported", () => {
        const pick = modelsToCheck([
            entry("big", {size: 900e6}), entry("small", {size: 100e6}), entry("small-copy", {size: 100e6, fingerprint: "small"}),
            entry("test", {size: 1e6, generated: true}), entry("huge", {size: 5e9}), entry("broken", {size: 10, invalid: true})
        ], cfg);
        expect(pick.check.map((m) => m.name)).toEqual(["small", "big"]);
        expect(Object.fromEntries(pick.skipped.map((s) => [s.model.name, s.why]))).toEqual({
            "broken": "not a usable GGUF: not a GGUF file",
            "small-copy": "the same file content as small, which is checked",
            "test": "a generated test model (real models are installed; those are checked)",
            "huge": expect.stringMatching(/^needs about \d+ MB, more than ram_threshold_mb \(1000 MB\): the provider refuses to load it$/)
        });
        // Only generated models: they are what there is to check.
        expect(modelsToCheck([entry("t1", {size: 2e5, generated: true}), entry("t2", {size: 3e5, generated: true})], cfg).check.map((m) => m.name)).toEqual(["t1", "t2"]);
    });

    test("every route the tasklist names for the tests step is one the checks cover", () => {
        const tests = loadTasklist().find((t) => t.id === "tests")!;
        const named = [...tests.description.matchAll(/\/(?:api|v1|runtime|models|download|health)[\w/{}.-]*/g)].map((m) => m[0].replace(/[.,]$/, ""));
        expect(named.length).toBeGreaterThan(10);
        const covered = CHECKED_ROUTES.map((r) => r.split(" ")[1]!);
        for (const r of named) expect(covered.some((c) => c === r || c.startsWith(`${r}/`)), r).toBe(true);
    });

    test("the plan's estimate grows with the models' size", () => {
        expect(estimateCheckSeconds([2e5, 3.8e8])).toBeLessThan(60);
        expect(estimateCheckSeconds([4.7e9])).toBeGreaterThan(estimateCheckSeconds([4e8]));
    });
});

describe("a fresh npm run setup with two models and an upstream", () => {
    test("the provider checks load both models, chat with real timings, pass every route, and the tree is clean after", async () => {
        const h = await makeHome("zc-setup-checks-");
        homes.push(h);
        await addModel(h, "coder/coder-q8_0.gguf", {seed: 11, fim: true});
        await addModel(h, "chat/chat-q8_0.gguf", {seed: 12, embeddingLength: 128});
        const upstream = await startOllamaStandIn(["remote-llama:latest"]);
        closers.push(() => upstream.close());

        const r = await runSetup(h, ["--non-interactive", "--no-serve"], {
            configOverrides: {...testOverrides(), setup: {test_command: null, branch: "feature/provider-setup"}, upstreams: [{name: "standin", url: upstream.url, type: "ollama"}]}
        });
        expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
        const report = readReport(h);
        validateReport("provider_setup_report.schema.json", report);
        const step = report.steps.find((s) => s.id === "tests")!;
        expect(step.status, step.errors.join("\n")).toBe("done");
        const results = JSON.parse(fs.readFileSync(report.tests.results_file!, "utf8")) as TestResultsFile;
        validateReport("setup_test_results.schema.json", results);
        expect(results).toMatchObject({suite: "provider_checks", command: CHECKS_COMMAND, passed: true, vitest: null});
        const checks = results.checks!;
        const byId = new Map(checks.map((c: CheckResult) => [c.id, c]));
        const failed = checks.filter((c) => !c.ok && !c.skipped).map((c) => `${c.id}: ${c.detail}`);
        expect(failed).toEqual([]);

        // Both models loaded, chatted with a speed from their own counts, and stayed resident.
        for (const m of ["coder", "chat"]) {
            expect(byId.get(`model:${m}:load`)).toMatchObject({ok: true, skipped: false});
            const chat = byId.get(`model:${m}:chat`)!;
            expect(chat.tokens_per_second).toBeGreaterThan(0);
            expect(chat.detail).toMatch(/tokens\/s/);
            expect(byId.get(`model:${m}:resident`)).toMatchObject({ok: true});
            expect(byId.get(`model:${m}:resident`)!.load_ms).toBeLessThan(50);
        }
        // The key: refused without it and with a wrong one, let in with it.
        expect([byId.get("auth:no-key")?.status, byId.get("auth:wrong-key")?.status, byId.get("auth:key")?.status]).toEqual([401, 401, 200]);
        for (const route of CHECKED_ROUTES) expect(byId.get(`route:${route}`), route).toMatchObject({ok: true});
        expect(byId.get("route:POST /download/start")!.status).toBe(400);
        expect(byId.get("fim")).toMatchObject({ok: true, skipped: false, model: "coder"});
        expect(byId.get("upstream:standin:list")).toMatchObject({ok: true});
        expect(byId.get("upstream:standin:chat")).toMatchObject({ok: true, model: "remote-llama:latest"});
        expect(upstream.seen.some((s) => s.path === "/api/chat")).toBe(true);

        // Setup's last commit leaves nothing behind: the index the check servers and the scan rewrote is ignored.
        expect((await git(h).raw(["status", "--porcelain", "--untracked-files=all"])).trim()).toBe("");
        expect((await git(h).raw(["ls-files", "--", "registry/models_index.json"])).trim()).toBe("");
        expect(fs.existsSync(path.join(h, "registry", "models_index.json"))).toBe(true);
        // The run ends with where the key is and a snippet naming the larger model.
        const tail = r.stdout.trimEnd().split("\n").slice(-8).join("\n");
        expect(tail).toContain(`API key: in ${path.join(h, "config", "api_key.txt")}`);
        expect(tail).toContain("Model: chat (only generated test models are installed; this is the largest)");
        expect(tail).toMatch(/curl .*"model":"chat"/);
    }, 600_000);
});
