import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {afterEach, beforeEach, describe, expect, it} from "vitest";
import {HashCache, hashCachePath} from "../../src/audit/hash-cache.js";
import {DownloadError} from "../../src/download/errors.js";
import {DownloadManager, type DownloadProgressEvent} from "../../src/download/manager.js";
import {bytes, HfStandin, sha256} from "./hf-standin.js";
import {rmrf, tempHome, testConfig, waitFor} from "./helpers.js";

const REPO = "Qwen/Qwen2.5-0.5B-Instruct-GGUF";
const FILE = "qwen2.5-0.5b-instruct-q4_k_m.gguf";
const BIG = 256 * 1024;

let standin: HfStandin;
let home: string;
const managers: DownloadManager[] = [];

async function manager(opts: Partial<Parameters<typeof DownloadManager.create>[0]> = {}, configOver: Parameters<typeof testConfig>[1] = {}): Promise<DownloadManager> {
    const config = testConfig(home, {...configOver, downloads: {hf_endpoint: standin.base, ...configOver.downloads}});
    const m = await DownloadManager.create({
        config, env: {}, retryDelayMs: () => 5, progressIntervalMs: 0, freeSpace: async () => 1e12, ...opts
    });
    managers.push(m);
    return m;
}

function errOf(p: Promise<unknown>): Promise<DownloadError> {
    return p.then(() => {
        throw new Error("expected a rejection");
    }, (err: unknown) => {
        if (err instanceof DownloadError) return err;
        throw err;
    });
}

beforeEach(async () => {
    home = tempHome();
    standin = new HfStandin();
    await standin.start();
});

afterEach(async () => {
    for (const m of managers.splice(0)) await m.close();
    await standin.close();
    rmrf(home);
});

describe("DownloadManager", () => {
    it("downloads, verifies, records the hash, and rescans before reporting completion", async () => {
        const content = bytes(BIG, 7);
        const proj = bytes(4096, 8);
        standin.addRepo(REPO, [
            {path: FILE, content},
            {path: "qwen2.5-0.5b-instruct-q8_0.gguf", content: bytes(1000, 9)},
            {path: "mmproj-qwen-f16.gguf", content: proj},
            {path: "README.md", content: Buffer.from("hi"), lfs: false}
        ]);
        let rescans = 0;
        const m = await manager({rescan: async () => {
            rescans++;
        }});
        const events: DownloadProgressEvent[] = [];
        const {job} = await m.start("hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M");
        expect(job.total_bytes).toBe(BIG + proj.length);
        expect(job.target).toBe(path.join(m.config.paths.models, "Qwen2.5-0.5B-Instruct-GGUF", FILE));
        expect(job.ollama_name).toBe(`hf.co/${REPO}:Q4_K_M`);
        m.subscribe(job.id, (ev) => events.push(ev));
        const done = await m.wait(job.id);
        expect(done.status).toBe("completed");
        expect(rescans).toBe(1);
        expect(sha256(fs.readFileSync(job.target))).toBe(sha256(content));
        expect(fs.readFileSync(path.join(path.dirname(job.target), "mmproj-qwen-f16.gguf")).equals(proj)).toBe(true);
        expect(fs.existsSync(`${job.target}.part`)).toBe(false);
        expect(fs.existsSync(`${job.target}.part.lock`)).toBe(false);
        expect(done.files.every((f) => f.verified)).toBe(true);

        // Progress: monotonic, and the last event equals the total.
        const seq = events.map((e) => e.bytes);
        for (let i = 1; i < seq.length; i++) expect(seq[i]).toBeGreaterThanOrEqual(seq[i - 1]!);
        const last = events[events.length - 1]!;
        expect(last.status).toBe("completed");
        expect(last.bytes).toBe(last.total);
        expect(last.total).toBe(BIG + proj.length);

        // The audit will not need to hash the file again.
        const st = fs.statSync(job.target);
        const cache = await HashCache.load(hashCachePath(m.config));
        expect(cache.get(job.target, st.size, st.mtimeMs)).toBe(sha256(content));
        const sidecar = JSON.parse(fs.readFileSync(path.join(path.dirname(job.target), ".download.json"), "utf8")) as {files: Record<string, {sha256: string; ollama_name: string}>};
        expect(sidecar.files[FILE]!.ollama_name).toBe(`hf.co/${REPO}:Q4_K_M`);

        // No Authorization header without a token.
        expect(standin.requests.every((r) => r.authorization == null)).toBe(true);
    });

    it("sends the Hugging Face token as a Bearer header", async () => {
        standin.addRepo(REPO, [{path: FILE, content: bytes(1000)}]);
        const m = await manager({}, {downloads: {hf_token: "hf_secret"}});
        const {job} = await m.start({repo: REPO, quant: "Q4_K_M"});
        expect((await m.wait(job.id)).status).toBe("completed");
        expect(standin.requests.length).toBeGreaterThan(0);
        expect(standin.requests.every((r) => r.authorization === "Bearer hf_secret")).toBe(true);
    });

    it("resumes a dropped connection from the byte it had", async () => {
        const content = bytes(BIG, 3);
        standin.addRepo(REPO, [{path: FILE, content}]);
        const dropAt = 100_000;
        standin.dropAfter.set(FILE, dropAt);
        const m = await manager();
        const {job} = await m.start(`hf:${REPO}/${FILE}`);
        const done = await m.wait(job.id);
        expect(done.status).toBe("completed");
        const gets = standin.resolveRequests(FILE);
        expect(gets.length).toBe(2);
        expect(gets[0]!.range).toBeNull();
        expect(gets[1]!.range).toBe(`bytes=${dropAt}-`);
        expect(sha256(fs.readFileSync(job.target))).toBe(sha256(content));
    });

    it("resumes after a restart of the manager", async () => {
        const content = bytes(BIG, 4);
        standin.addRepo(REPO, [{path: FILE, content}]);
        standin.chunkSize = 8 * 1024;
        standin.chunkDelayMs = 15;
        const first = await manager();
        const {job} = await first.start(`hf:${REPO}:Q4_K_M`);
        await waitFor(() => (first.get(job.id)?.downloaded_bytes ?? 0) > 40_000, 20_000, "some bytes");
        await first.close();
        const partBytes = fs.statSync(`${job.target}.part`).size;
        expect(partBytes).toBeGreaterThan(0);
        expect(partBytes).toBeLessThan(BIG);
        standin.chunkDelayMs = 0;

        const second = await manager();
        expect(second.get(job.id)?.status).toMatch(/queued|downloading/);
        const done = await second.wait(job.id);
        expect(done.status).toBe("completed");
        expect(done.resumed_from_bytes).toBe(partBytes);
        const gets = standin.resolveRequests(FILE);
        expect(gets[gets.length - 1]!.range).toBe(`bytes=${partBytes}-`);
        expect(sha256(fs.readFileSync(job.target))).toBe(sha256(content));
    });

    it("rejects a sha256 mismatch and keeps the bytes as .part", async () => {
        const content = bytes(5000, 5);
        standin.addRepo(REPO, [{path: FILE, content, publishedSha256: "0".repeat(64)}]);
        const m = await manager();
        const {job} = await m.start(`hf:${REPO}:Q4_K_M`);
        const done = await m.wait(job.id);
        expect(done.status).toBe("failed");
        expect(done.error_code).toBe("checksum");
        expect(done.http_status).toBe(502);
        expect(done.error).toMatch(/sha256 mismatch/);
        expect(fs.existsSync(job.target)).toBe(false);
        expect(fs.readFileSync(`${job.target}.part`).equals(content)).toBe(true);
    });

    it("refuses with 507 before writing a byte when the disk is too small", async () => {
        standin.addRepo(REPO, [{path: FILE, content: bytes(1000), advertisedSize: 50 * 1024 ** 3}]);
        const m = await manager({freeSpace: async () => 10 * 1024 ** 3});
        const e = await errOf(m.start(`hf:${REPO}:Q4_K_M`));
        expect(e.status).toBe(507);
        expect(e.message).toMatch(/not enough disk space/);
        expect(fs.existsSync(path.join(m.config.paths.models, "Qwen2.5-0.5B-Instruct-GGUF"))).toBe(false);
        expect(standin.resolveRequests(FILE)).toHaveLength(0);
        expect(m.list()).toHaveLength(0);
    });

    it("refuses a huge Content-Length learned only from the GET, before writing", async () => {
        standin.direct.set("huge.gguf", {path: "huge.gguf", content: bytes(1000), lfs: false, advertisedSize: 50 * 1024 ** 3});
        standin.refuseHead = true;
        const m = await manager({freeSpace: async () => 10 * 1024 ** 3});
        const {job} = await m.start({url: `${standin.base}/direct/huge.gguf`});
        expect(job.total_bytes).toBeNull();
        const done = await m.wait(job.id);
        expect(done.status).toBe("failed");
        expect(done.http_status).toBe(507);
        expect(fs.existsSync(`${job.target}.part`)).toBe(false);
        expect(fs.existsSync(job.target)).toBe(false);
    });

    it("rejects a hostile file name", async () => {
        standin.addRepo(REPO, [{path: FILE, content: bytes(10)}]);
        const m = await manager();
        expect((await errOf(m.start({repo: REPO, file: "../../x.gguf"}))).status).toBe(400);
        expect((await errOf(m.start({url: `${standin.base}/direct/..%2F..%2Fx.gguf`}))).status).toBe(400);
        expect(fs.existsSync(path.join(home, "x.gguf"))).toBe(false);
    });

    it("cancel keeps the .part by default and a later start resumes from it; delete removes it", async () => {
        const content = bytes(BIG, 6);
        standin.addRepo(REPO, [{path: FILE, content}]);
        standin.chunkSize = 8 * 1024;
        standin.chunkDelayMs = 15;
        const m = await manager();
        const {job} = await m.start(`hf:${REPO}:Q4_K_M`);
        await waitFor(() => (m.get(job.id)?.downloaded_bytes ?? 0) > 30_000, 20_000, "some bytes");
        const cancelled = await m.cancel(job.id);
        expect(cancelled.status).toBe("cancelled");
        const kept = fs.statSync(`${job.target}.part`).size;
        expect(kept).toBeGreaterThan(0);

        standin.chunkDelayMs = 0;
        const again = await m.start(`hf:${REPO}:Q4_K_M`);
        expect(again.job.id).not.toBe(job.id);
        expect(again.job.resumed_from_bytes).toBe(kept);
        expect((await m.wait(again.job.id)).status).toBe("completed");
        expect(sha256(fs.readFileSync(job.target))).toBe(sha256(content));
        await expect(m.cancel(again.job.id)).rejects.toMatchObject({status: 409});
        await expect(m.cancel("dl_nope")).rejects.toMatchObject({status: 404});

        // delete: the partial goes away
        fs.rmSync(job.target);
        standin.chunkDelayMs = 15;
        const third = await m.start(`hf:${REPO}:Q4_K_M`);
        await waitFor(() => (m.get(third.job.id)?.downloaded_bytes ?? 0) > 10_000, 20_000, "some bytes");
        await m.cancel(third.job.id, {deletePartial: true});
        expect(fs.existsSync(`${job.target}.part`)).toBe(false);
    });

    it("cancelling an old job with delete keeps the .part a newer job of the same file is downloading", async () => {
        const content = bytes(BIG, 12);
        standin.addRepo(REPO, [{path: FILE, content}]);
        standin.chunkSize = 8 * 1024;
        standin.chunkDelayMs = 15;
        const m = await manager();
        const old = await m.start(`hf:${REPO}:Q4_K_M`);
        await waitFor(() => (m.get(old.job.id)?.downloaded_bytes ?? 0) > 20_000, 20_000, "some bytes");
        await m.cancel(old.job.id);
        const part = `${old.job.target}.part`;
        const again = await m.start(`hf:${REPO}:Q4_K_M`);
        expect(again.existing).toBe(false);
        await waitFor(() => (m.get(again.job.id)?.downloaded_bytes ?? 0) > again.job.resumed_from_bytes, 20_000, "the new job running");

        // the old id is no handle on the running download's bytes
        const res = await m.cancel(old.job.id, {deletePartial: true});
        expect(res.status).toBe("cancelled");
        expect(res.parts_kept).toEqual([{path: part, reason: expect.stringMatching(/newer download/) as unknown}]);
        expect(fs.existsSync(part)).toBe(true);
        standin.chunkDelayMs = 0;
        const done = await m.wait(again.job.id);
        expect(done.status).toBe("completed");
        expect(sha256(fs.readFileSync(done.target))).toBe(sha256(content));
    });

    it("cancelling with delete keeps a .part whose lock another live process holds, and removes it once the lock is gone", async () => {
        standin.addRepo(REPO, [{path: FILE, content: bytes(BIG, 13)}]);
        standin.chunkSize = 8 * 1024;
        standin.chunkDelayMs = 15;
        const m = await manager();
        const {job} = await m.start(`hf:${REPO}:Q4_K_M`);
        await waitFor(() => (m.get(job.id)?.downloaded_bytes ?? 0) > 10_000, 20_000, "some bytes");
        await m.cancel(job.id);
        const part = `${job.target}.part`;
        // `npm run pull` in another process (our parent: alive, not us) took the file over
        fs.writeFileSync(`${part}.lock`, JSON.stringify({pid: process.ppid, host: os.hostname(), since: new Date().toISOString()}));
        const kept = await m.cancel(job.id, {deletePartial: true});
        expect(kept.parts_kept).toEqual([{path: part, reason: expect.stringMatching(/holds its lock/) as unknown}]);
        expect(fs.existsSync(part)).toBe(true);
        fs.rmSync(`${part}.lock`);
        const removed = await m.cancel(job.id, {deletePartial: true});
        expect(removed.parts_kept).toEqual([]);
        expect(fs.existsSync(part)).toBe(false);
    });

    it("two concurrent starts of the same model share one job", async () => {
        const content = bytes(BIG, 14);
        standin.addRepo(REPO, [{path: FILE, content}]);
        const m = await manager();
        const [a, b] = await Promise.all([m.start(`hf:${REPO}:Q4_K_M`), m.start(`hf:${REPO}:Q4_K_M`)]);
        expect(b.job.id).toBe(a.job.id);
        expect([a.existing, b.existing].sort()).toEqual([false, true]);
        expect((await m.wait(a.job.id)).status).toBe("completed");
        // two spellings of the same file meet at the target
        fs.rmSync(a.job.target);
        const [c, d] = await Promise.all([m.start({repo: REPO, quant: "Q4_K_M"}), m.start({repo: REPO, file: FILE})]);
        expect(c.job.id).not.toBe(a.job.id);
        expect(d.job.id).toBe(c.job.id);
        expect([c.existing, d.existing].sort()).toEqual([false, true]);
        const done = await m.wait(c.job.id);
        expect(done.status).toBe("completed");
        expect(sha256(fs.readFileSync(done.target))).toBe(sha256(content));
        expect(m.list().filter((j) => j.status === "failed")).toEqual([]);
    });

    it("limits concurrent downloads and joins a repeated request", async () => {
        standin.addRepo(REPO, [{path: FILE, content: bytes(BIG, 1)}, {path: "qwen2.5-0.5b-instruct-q8_0.gguf", content: bytes(BIG, 2)}]);
        standin.chunkSize = 8 * 1024;
        standin.chunkDelayMs = 10;
        const m = await manager({}, {downloads: {max_concurrent: 1}});
        const a = await m.start(`hf:${REPO}:Q4_K_M`);
        const b = await m.start(`hf:${REPO}:Q8_0`);
        const again = await m.start({repo: REPO, quant: "Q4_K_M"});
        expect(again.existing).toBe(true);
        expect(again.job.id).toBe(a.job.id);
        await waitFor(() => m.get(a.job.id)?.status === "downloading", 5000, "first running");
        expect(m.get(b.job.id)?.status).toBe("queued");
        standin.chunkDelayMs = 0;
        expect((await m.wait(a.job.id)).status).toBe("completed");
        expect((await m.wait(b.job.id)).status).toBe("completed");
    });

    it("skips a file that is already in place and refuses one that differs", async () => {
        const content = bytes(2000, 11);
        standin.addRepo(REPO, [{path: FILE, content}]);
        const m = await manager();
        const dir = path.join(m.config.paths.models, "Qwen2.5-0.5B-Instruct-GGUF");
        fs.mkdirSync(dir, {recursive: true});
        fs.writeFileSync(path.join(dir, FILE), content);
        const {job} = await m.start(`hf:${REPO}:Q4_K_M`);
        expect((await m.wait(job.id)).status).toBe("completed");
        expect(standin.resolveRequests(FILE)).toHaveLength(0);
        fs.writeFileSync(path.join(dir, FILE), bytes(10));
        expect((await errOf(m.start(`hf:${REPO}:Q4_K_M`))).status).toBe(409);
    });

    it("maps upstream failures: unknown repo 404, gated 502, unknown quant 404", async () => {
        const m = await manager();
        expect((await errOf(m.start("hf:nobody/nothing:Q4_K_M"))).status).toBe(404);
        standin.addRepo(REPO, [{path: FILE, content: bytes(10)}]);
        expect((await errOf(m.start(`hf:${REPO}:Q2_K`))).status).toBe(404);
        standin.treeStatus = 401;
        const gated = await errOf(m.start(`hf:${REPO}:Q4_K_M`));
        expect(gated.status).toBe(502);
        expect(gated.message).toMatch(/HF_TOKEN/);
    });

    it("retries 5xx with backoff, and gives up after the configured retries", async () => {
        standin.direct.set("flaky.gguf", {path: "flaky.gguf", content: bytes(50_000), lfs: false});
        const m = await manager({}, {downloads: {retries: 2}});
        standin.failGets = {status: 503, remaining: 2};
        const ok = await m.start({url: `${standin.base}/direct/flaky.gguf`});
        expect((await m.wait(ok.job.id)).status).toBe("completed");
        expect(standin.resolveRequests("flaky.gguf")).toHaveLength(3);

        fs.rmSync(ok.job.target);
        standin.failGets = {status: 503, remaining: 10};
        const bad = await m.start({url: `${standin.base}/direct/flaky.gguf`});
        const done = await m.wait(bad.job.id);
        expect(done.status).toBe("failed");
        expect(done.http_status).toBe(502);
        expect(done.error).toMatch(/giving up after 2 retries/);
    });
    it("restarts from byte 0 when the server ignores Range, and still verifies", async () => {
        const content = bytes(BIG, 12);
        standin.addRepo(REPO, [{path: FILE, content}]);
        standin.dropAfter.set(FILE, 50_000);
        standin.ignoreRange = true;
        const m = await manager();
        const {job} = await m.start(`hf:${REPO}:Q4_K_M`);
        const done = await m.wait(job.id);
        expect(done.status).toBe("completed");
        const gets = standin.resolveRequests(FILE);
        expect(gets[1]!.range).toBe("bytes=50000-");
        expect(sha256(fs.readFileSync(job.target))).toBe(sha256(content));
    });

    it("aborts a stalled connection and resumes it with Range", async () => {
        const content = bytes(40_000, 13);
        standin.direct.set("slow.gguf", {path: "slow.gguf", content, lfs: false});
        standin.chunkSize = 10_000;
        standin.chunkDelayMs = 400;
        const m = await manager({stallTimeoutMs: 150}, {downloads: {retries: 1}});
        const {job} = await m.start({url: `${standin.base}/direct/slow.gguf`});
        const done = await m.wait(job.id);
        // Each attempt gets one chunk and then stalls; progress resets the retry budget, so it completes.
        expect(done.status).toBe("completed");
        expect(standin.resolveRequests("slow.gguf").map((r) => r.range)).toEqual([null, "bytes=10000-", "bytes=20000-", "bytes=30000-"]);
        expect(fs.readFileSync(job.target).equals(content)).toBe(true);
    });
});
