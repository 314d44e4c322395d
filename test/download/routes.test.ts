import fs from "node:fs";
import type {AddressInfo} from "node:net";
import Fastify, {type FastifyInstance} from "fastify";
import {Ollama} from "ollama";
import {afterEach, beforeEach, describe, expect, it} from "vitest";
import {registerDownloadRoutes} from "../../src/api/downloads.js";
import {DownloadManager, type DownloadProgressEvent} from "../../src/download/manager.js";
import {silentLogger} from "../../src/log/logger.js";
import {bytes, HfStandin, sha256} from "./hf-standin.js";
import {rmrf, tempHome, testConfig} from "./helpers.js";

const REPO = "bartowski/Tiny-GGUF";
const FILE = "Tiny-Q4_K_M.gguf";

let standin: HfStandin;
let home: string;
let app: FastifyInstance;
let base: string;
let downloads: DownloadManager;
let rescans: number;
let freeBytes: number;

beforeEach(async () => {
    home = tempHome();
    standin = new HfStandin();
    await standin.start();
    standin.addRepo(REPO, [{path: FILE, content: bytes(200_000, 21)}, {path: "mmproj-Tiny-f16.gguf", content: bytes(3000, 22)}]);
    const config = testConfig(home, {downloads: {hf_endpoint: standin.base}});
    rescans = 0;
    freeBytes = 1e12;
    downloads = await DownloadManager.create({config, env: {}, retryDelayMs: () => 5, progressIntervalMs: 0, freeSpace: async () => freeBytes});
    app = Fastify();
    registerDownloadRoutes(app, {config, logger: silentLogger, downloads, rescan: async () => {
        rescans++;
    }});
    await app.listen({host: "127.0.0.1", port: 0});
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterEach(async () => {
    await downloads.close();
    await app.close();
    await standin.close();
    rmrf(home);
});

async function post(path: string, body: unknown): Promise<{status: number; json: Record<string, unknown>}> {
    const res = await fetch(`${base}${path}`, {method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(body)});
    return {status: res.status, json: await res.json() as Record<string, unknown>};
}

/** Reads an SSE stream to its end (the server closes it after the terminal event). */
async function readSse(url: string): Promise<Array<{event: string; data: DownloadProgressEvent}>> {
    const res = await fetch(url);
    expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
    const text = await res.text();
    const out: Array<{event: string; data: DownloadProgressEvent}> = [];
    for (const block of text.split("\n\n")) {
        const ev = /^event: (.+)$/m.exec(block)?.[1];
        const data = /^data: (.+)$/m.exec(block)?.[1];
        if (ev && data) out.push({event: ev, data: JSON.parse(data) as DownloadProgressEvent});
    }
    return out;
}

describe("download routes", () => {
    it("starts with 202, streams SSE progress to completion, and lists the job", async () => {
        standin.chunkSize = 8 * 1024;
        standin.chunkDelayMs = 2;
        const start = await post("/download/start", {model: `hf:${REPO}:Q4_K_M`});
        expect(start.status).toBe(202);
        expect(start.json.total_bytes).toBe(203_000);
        expect(String(start.json.target)).toContain(FILE);
        const events = await readSse(`${base}/download/events/${String(start.json.id)}`);
        const last = events[events.length - 1]!;
        expect(last.event).toBe("completed");
        expect(last.data.bytes).toBe(203_000);
        expect(last.data.total).toBe(203_000);
        for (let i = 1; i < events.length; i++) expect(events[i]!.data.bytes).toBeGreaterThanOrEqual(events[i - 1]!.data.bytes);
        for (const e of events) expect(e.data).toHaveProperty("speed");
        expect(events.some((e) => e.event === "progress")).toBe(true);
        expect(rescans).toBe(1);

        const status = await fetch(`${base}/download/status/${String(start.json.id)}`);
        expect((await status.json() as {status: string}).status).toBe("completed");
        const list = await (await fetch(`${base}/download/list`)).json() as {downloads: Array<{id: string}>};
        expect(list.downloads.map((d) => d.id)).toContain(start.json.id);
        expect(sha256(fs.readFileSync(String(start.json.target)))).toBe(sha256(bytes(200_000, 21)));
    });

    it("accepts {repo, quant}, {repo, file} and {url}", async () => {
        standin.direct.set("direct.gguf", {path: "direct.gguf", content: bytes(1000, 5), lfs: false});
        const a = await post("/download/start", {repo: REPO, quant: "q4_k_m", projector: false});
        expect(a.status).toBe(202);
        await downloads.wait(String(a.json.id));
        const noProj = downloads.get(String(a.json.id))!;
        expect(noProj.files.map((f) => f.name)).toEqual([FILE]);
        fs.rmSync(noProj.target);
        const a2 = await post("/download/start", {model: `hf:${REPO}:Q4_K_M`, projector: false});
        expect((await downloads.wait(String(a2.json.id))).files.map((f) => f.name)).toEqual([FILE]);
        const b = await post("/download/start", {model: {repo: REPO, file: "mmproj-Tiny-f16.gguf"}});
        expect(b.status).toBe(202);
        const c = await post("/download/start", {url: `${standin.base}/direct/direct.gguf`});
        expect(c.status).toBe(202);
        expect((await downloads.wait(String(c.json.id))).status).toBe("completed");
    });

    it("answers errors as {error} with the right status", async () => {
        const bad = await post("/download/start", {model: {repo: REPO, file: "../../x.gguf"}});
        expect(bad.status).toBe(400);
        expect(typeof bad.json.error).toBe("string");
        expect((await post("/download/start", {model: "hf:nobody/none:Q4_K_M"})).status).toBe(404);
        freeBytes = 1000;
        const full = await post("/download/start", {model: `hf:${REPO}:Q4_K_M`});
        expect(full.status).toBe(507);
        expect(String(full.json.error)).toMatch(/disk space/);
        expect((await fetch(`${base}/download/status/dl_unknown`)).status).toBe(404);
        expect((await fetch(`${base}/download/events/dl_unknown`)).status).toBe(404);
        expect((await post("/download/cancel/dl_unknown", {})).status).toBe(404);
        standin.treeStatus = 500;
        freeBytes = 1e12;
        expect((await post("/download/start", {model: `hf:${REPO}:Q4_K_M`})).status).toBe(502);
    });

    it("cancels over HTTP, keeping or deleting the .part", async () => {
        standin.chunkSize = 4 * 1024;
        standin.chunkDelayMs = 20;
        const start = await post("/download/start", {model: `hf:${REPO}:Q4_K_M`, projector: false});
        const id = String(start.json.id);
        for (let i = 0; i < 500 && (downloads.get(id)?.downloaded_bytes ?? 0) < 10_000; i++) await new Promise((r) => setTimeout(r, 10));
        const res = await post(`/download/cancel/${id}?delete=true`, {});
        expect(res.status).toBe(200);
        expect(res.json.status).toBe("cancelled");
        expect(fs.existsSync(`${String(start.json.target)}.part`)).toBe(false);
    });

    it("cancel ?delete=true of an old job leaves the running job's .part alone and says it was kept", async () => {
        standin.chunkSize = 4 * 1024;
        standin.chunkDelayMs = 20;
        const first = await post("/download/start", {model: `hf:${REPO}:Q4_K_M`, projector: false});
        const oldId = String(first.json.id);
        for (let i = 0; i < 500 && (downloads.get(oldId)?.downloaded_bytes ?? 0) < 10_000; i++) await new Promise((r) => setTimeout(r, 10));
        expect((await post(`/download/cancel/${oldId}`, {})).json.status).toBe("cancelled");
        const second = await post("/download/start", {model: `hf:${REPO}:Q4_K_M`, projector: false});
        const newId = String(second.json.id);
        expect(newId).not.toBe(oldId);
        const part = `${String(second.json.target)}.part`;
        for (let i = 0; i < 500 && downloads.get(newId)?.status !== "downloading"; i++) await new Promise((r) => setTimeout(r, 10));

        const res = await post(`/download/cancel/${oldId}?delete=true`, {});
        expect(res.status).toBe(200);
        expect(res.json.parts_kept).toEqual([{path: part, reason: expect.stringMatching(/newer download/) as unknown}]);
        expect(fs.existsSync(part)).toBe(true);
        standin.chunkDelayMs = 0;
        const done = await downloads.wait(newId);
        expect(done.error).toBeNull();
        expect(done.status).toBe("completed");
        expect(sha256(fs.readFileSync(done.target))).toBe(sha256(bytes(200_000, 21)));
    });

    it("two identical starts at once answer the same job, the second as existing", async () => {
        const [a, b] = await Promise.all([
            post("/download/start", {model: `hf:${REPO}:Q4_K_M`}),
            post("/download/start", {model: `hf:${REPO}:Q4_K_M`})
        ]);
        expect([a.status, b.status]).toEqual([202, 202]);
        expect(b.json.id).toBe(a.json.id);
        expect([a.json.existing, b.json.existing].sort()).toEqual([false, true]);
        expect((await downloads.wait(String(a.json.id))).status).toBe("completed");
        expect(downloads.list()).toHaveLength(1);
    });

    it("serves /api/pull as NDJSON that ollama-js parses, ending in success", async () => {
        standin.chunkSize = 16 * 1024;
        const ollama = new Ollama({host: base});
        const statuses: string[] = [];
        const completed: number[] = [];
        const stream = await ollama.pull({model: `hf.co/${REPO}:Q4_K_M`, stream: true});
        for await (const part of stream) {
            statuses.push(part.status);
            if (part.digest === `sha256:${sha256(bytes(200_000, 21))}`) completed.push(part.completed);
        }
        expect(statuses[0]).toBe("pulling manifest");
        expect(statuses.slice(-3)).toEqual(["verifying sha256 digest", "writing manifest", "success"]);
        expect(statuses.some((s) => s.startsWith("pulling ") && s !== "pulling manifest")).toBe(true);
        expect(completed[completed.length - 1]).toBe(200_000);
        for (let i = 1; i < completed.length; i++) expect(completed[i]).toBeGreaterThanOrEqual(completed[i - 1]!);
        expect(rescans).toBe(1);
    });

    it("serves /api/pull with stream:false and reports errors", async () => {
        const ollama = new Ollama({host: base});
        const res = await ollama.pull({model: `hf.co/${REPO}:Q4_K_M`, stream: false});
        expect(res.status).toBe("success");
        await expect(ollama.pull({model: "llama3.2", stream: false})).rejects.toMatchObject({status_code: 400});
        await expect(ollama.pull({model: `hf.co/${REPO}:Q2_K`, stream: true})).rejects.toMatchObject({status_code: 404});
        const noBody = await post("/api/pull", {});
        expect(noBody.status).toBe(400);
        expect(noBody.json.error).toBe("model is required");
    });

    it("streams a mid-download failure as an {error} line", async () => {
        standin.addRepo("org/bad-GGUF", [{path: "bad-Q4_K_M.gguf", content: bytes(5000, 1), publishedSha256: "1".repeat(64)}]);
        const ollama = new Ollama({host: base});
        const stream = await ollama.pull({model: "hf.co/org/bad-GGUF:Q4_K_M", stream: true});
        await expect((async () => {
            for await (const part of stream) void part;
        })()).rejects.toThrow(/sha256 mismatch/);
    });
});
