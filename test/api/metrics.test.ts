import fs from "node:fs/promises";
import path from "node:path";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {DownloadManager} from "../../src/download/manager.js";
import {bytes, HfStandin} from "../download/hf-standin.js";
import {addModel, makeHome, removeHome, testConfig} from "../helpers/home.js";
import {sse, startTestServer, type TestServer} from "../helpers/server.js";

/**
 * The Prometheus text format (0.0.4), parsed the way a scraper reads it: families declared by `# TYPE` before their
 * samples, label values with their escapes, special float values, and the rules a histogram must keep.
 */
interface Sample {
    name: string;
    labels: Record<string, string>;
    value: number;
}

interface Family {
    name: string;
    type: string;
    help: string | null;
    samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseValue(text: string, line: string): number {
    if (text === "+Inf") return Infinity;
    if (text === "-Inf") return -Infinity;
    if (text === "NaN") return NaN;
    if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value '${text}' in: ${line}`);
    return Number(text);
}

function parseLabels(text: string, line: string): {labels: Record<string, string>; rest: string} {
    const labels: Record<string, string> = {};
    let i = 0;
    for (;;) {
        while (text[i] === " ") i++;
        if (text[i] === "}") return {labels, rest: text.slice(i + 1)};
        const eq = text.indexOf("=", i);
        const name = text.slice(i, eq).trim();
        if (eq < 0 || !LABEL_NAME.test(name) || text[eq + 1] !== '"') throw new Error(`bad label at ${i} in: ${line}`);
        let value = "";
        for (i = eq + 2; text[i] !== '"'; i++) {
            if (i >= text.length) throw new Error(`unterminated label value in: ${line}`);
            if (text[i] === "\\") {
                const next = text[++i];
                value += next === "n" ? "\n" : next;
            } else value += text[i];
        }
        if (name in labels) throw new Error(`label ${name} twice in: ${line}`);
        labels[name] = value;
        i++;
        if (text[i] === ",") i++;
        else if (text[i] !== "}") throw new Error(`expected , or } at ${i} in: ${line}`);
    }
}

/** The family a sample belongs to: its own name, or a histogram's or summary's _bucket/_sum/_count. */
function familyOfSample(name: string, families: Map<string, Family>): Family | undefined {
    const direct = families.get(name);
    if (direct) return direct;
    const m = /^(.*)_(bucket|sum|count)$/.exec(name);
    const base = m ? families.get(m[1]!) : undefined;
    return base && (base.type === "histogram" || base.type === "summary") ? base : undefined;
}

function parsePrometheus(text: string): Map<string, Family> {
    const families = new Map<string, Family>();
    for (const line of text.split("\n")) {
        if (line.trim() === "") continue;
        if (line.startsWith("#")) {
            const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
            if (!m) continue;
            const [, kind, name, rest] = m as unknown as [string, string, string, string];
            if (!METRIC_NAME.test(name)) throw new Error(`bad metric name in: ${line}`);
            const fam = families.get(name) ?? {name, type: "untyped", help: null, samples: []};
            if (kind === "TYPE") {
                if (fam.samples.length > 0) throw new Error(`TYPE after samples: ${line}`);
                if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(rest)) throw new Error(`bad type: ${line}`);
                fam.type = rest;
            } else fam.help = rest;
            families.set(name, fam);
            continue;
        }
        const nameEnd = line.search(/[{ ]/);
        const name = line.slice(0, nameEnd);
        if (!METRIC_NAME.test(name)) throw new Error(`bad sample name in: ${line}`);
        let rest = line.slice(nameEnd);
        let labels: Record<string, string> = {};
        if (rest.startsWith("{")) ({labels, rest} = parseLabels(rest.slice(1), line));
        const parts = rest.trim().split(/\s+/);
        if (parts.length < 1 || parts.length > 2) throw new Error(`bad sample: ${line}`);
        const fam = familyOfSample(name, families);
        if (!fam) throw new Error(`sample of an undeclared family: ${line}`);
        fam.samples.push({name, labels, value: parseValue(parts[0]!, line)});
    }
    for (const fam of families.values()) if (fam.type === "histogram") checkHistogram(fam);
    return families;
}

/** Buckets count cumulatively, end with +Inf, and the +Inf bucket is the count. */
function checkHistogram(fam: Family): void {
    const series = new Map<string, Sample[]>();
    for (const s of fam.samples) {
        const {le: _le, ...rest} = s.labels;
        const key = JSON.stringify(rest);
        series.set(key, [...(series.get(key) ?? []), s]);
    }
    for (const [key, samples] of series) {
        const buckets = samples.filter((s) => s.name === `${fam.name}_bucket`);
        const count = samples.find((s) => s.name === `${fam.name}_count`);
        expect(buckets.at(-1)?.labels.le, `${fam.name} ${key}`).toBe("+Inf");
        for (let i = 1; i < buckets.length; i++) {
            const le = (b: Sample) => parseValue(b.labels.le!, `${fam.name} le`);
            expect(le(buckets[i]!)).toBeGreaterThan(le(buckets[i - 1]!));
            expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
        }
        expect(buckets.at(-1)!.value).toBe(count?.value);
    }
}

/** The value of one series (0 when it does not exist yet, as Prometheus treats a counter not yet seen). */
function value(families: Map<string, Family>, sample: string, labels: Record<string, string> = {}): number {
    for (const fam of families.values()) {
        for (const s of fam.samples) {
            if (s.name !== sample) continue;
            if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
        }
    }
    return 0;
}

let home: string;
let server: TestServer;
let standin: HfStandin;
let downloads: DownloadManager;
const DOWNLOAD_BYTES = 120_000;

beforeAll(async () => {
    home = await makeHome("zc-metrics-");
    await addModel(home, "plain/plain-q8_0.gguf", {seed: 31});
    standin = new HfStandin();
    await standin.start();
    standin.addRepo("metrics/Tiny-GGUF", [{path: "Tiny-Q4_K_M.gguf", content: bytes(DOWNLOAD_BYTES, 7)}]);
    const overrides = {downloads: {max_concurrent: 1, hf_token: null, hf_endpoint: standin.base, retries: 0, orphan_part_days: 7}};
    downloads = await DownloadManager.create({config: testConfig(home, overrides), env: {}, progressIntervalMs: 0, freeSpace: async () => 1e12});
    server = await startTestServer(home, overrides, {downloads});
});

afterAll(async () => {
    await server?.close(1000);
    await standin?.close();
    await removeHome(home);
});

async function scrape(): Promise<Map<string, Family>> {
    const res = await server.api("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    return parsePrometheus(await res.text());
}

const CHAT = "/v1/chat/completions";

describe("GET /metrics", () => {
    it("needs the key like every data route", async () => {
        const res = await fetch(`${server.url}/metrics`);
        expect(res.status).toBe(401);
    });

    it("parses cleanly, names every family by the conventions, and says what each one is", async () => {
        const families = await scrape();
        expect(families.size).toBeGreaterThan(10);
        for (const fam of families.values()) {
            expect(fam.name).toMatch(/^zombiecoder_/);
            expect(fam.help, fam.name).toBeTruthy();
            if (fam.type === "counter") expect(fam.name).toMatch(/_total$/);
            if (fam.name.endsWith("_total")) expect(fam.type).toBe("counter");
            if (/_(seconds|bytes)$/.test(fam.name) || fam.name.endsWith("_bytes_total")) expect(["gauge", "histogram", "counter"]).toContain(fam.type);
        }
        expect(families.get("zombiecoder_request_duration_seconds")?.type).toBe("histogram");
        expect(families.get("zombiecoder_time_to_first_token_seconds")?.type).toBe("histogram");
        expect(value(families, "zombiecoder_model_state", {model: "plain", state: "unloaded"})).toBe(1);
        expect(value(families, "zombiecoder_memory_budget_bytes")).toBe(server.runtime.config.ram_threshold_mb * 1024 * 1024);
    });

    it("counters move with requests: requests, durations, time to first token, tokens, loads and memory", async () => {
        const before = await scrape();
        const labels = {route: CHAT, model: "plain", status: "200"};
        const whole = await server.json<{usage: {prompt_tokens: number; completion_tokens: number}}>(CHAT,
            {model: "plain", messages: [{role: "user", content: "Say hello"}], max_tokens: 6, temperature: 0});
        expect(whole.status).toBe(200);
        const streamed = await server.api(CHAT, {method: "POST", json: {model: "plain", messages: [{role: "user", content: "Say hello"}], max_tokens: 5, temperature: 0, stream: true, stream_options: {include_usage: true}}});
        const events = await sse(streamed);
        const usage = events.map((e) => (e.data.startsWith("{") ? JSON.parse(e.data) as {usage?: {prompt_tokens: number; completion_tokens: number}} : {})).find((c) => c.usage)!.usage!;
        await server.api("/no/such/route");
        await server.api("/another/unknown/path");

        const after = await scrape();
        const grew = (sample: string, l: Record<string, string>) => value(after, sample, l) - value(before, sample, l);
        expect(grew("zombiecoder_requests_total", labels)).toBe(2);
        expect(grew("zombiecoder_request_duration_seconds_count", {route: CHAT, model: "plain"})).toBe(2);
        expect(value(after, "zombiecoder_request_duration_seconds_sum", {route: CHAT, model: "plain"})).toBeGreaterThan(0);
        expect(grew("zombiecoder_time_to_first_token_seconds_count", {model: "plain"})).toBe(2);
        expect(grew("zombiecoder_generated_tokens_total", {model: "plain"})).toBe(whole.body.usage.completion_tokens + usage.completion_tokens);
        expect(grew("zombiecoder_prompt_tokens_total", {model: "plain"})).toBe(whole.body.usage.prompt_tokens + usage.prompt_tokens);
        // every prompt token was either evaluated or reused from a sequence's cache
        expect(grew("zombiecoder_prompt_tokens_evaluated_total", {model: "plain"}) + grew("zombiecoder_prompt_tokens_cached_total", {model: "plain"}))
            .toBe(whole.body.usage.prompt_tokens + usage.prompt_tokens);
        expect(grew("zombiecoder_model_loads_total", {model: "plain"})).toBe(1);
        expect(value(after, "zombiecoder_model_load_duration_seconds_count", {model: "plain"})).toBe(1);
        expect(value(after, "zombiecoder_model_state", {model: "plain", state: "loaded"})).toBe(1);
        expect(value(after, "zombiecoder_model_state", {model: "plain", state: "unloaded"})).toBe(0);
        expect(value(after, "zombiecoder_resident_models")).toBe(1);
        expect(value(after, "zombiecoder_model_memory_bytes", {model: "plain"})).toBeGreaterThan(0);
        expect(value(after, "zombiecoder_queued_jobs", {model: "plain"})).toBe(0);
        // unknown paths share one series instead of one per path
        expect(grew("zombiecoder_requests_total", {route: "unmatched", status: "404"})).toBe(2);
        const routes = new Set(after.get("zombiecoder_requests_total")!.samples.map((s) => s.labels.route));
        expect(routes.has("/no/such/route")).toBe(false);
    });

    it("unloads count with their reason, and a runner that dies counts as a crash", async () => {
        const before = await scrape();
        expect((await server.json("/runtime/unload/plain", {})).status).toBe(200);
        expect((await server.json("/runtime/load/plain", {})).status).toBe(200);
        const pid = server.runtime.manager.status().find((s) => s.name === "plain")!.runner_pid!;
        process.kill(pid, "SIGKILL");
        for (let i = 0; i < 100 && server.runtime.manager.stateOf("plain") !== "failed"; i++) await new Promise((r) => setTimeout(r, 50));
        const after = await scrape();
        const grew = (sample: string, l: Record<string, string>) => value(after, sample, l) - value(before, sample, l);
        expect(grew("zombiecoder_model_unloads_total", {model: "plain", reason: "explicit"})).toBe(1);
        expect(grew("zombiecoder_model_loads_total", {model: "plain"})).toBe(1);
        expect(grew("zombiecoder_runner_crashes_total", {model: "plain"})).toBe(1);
        expect(value(after, "zombiecoder_model_state", {model: "plain", state: "failed"})).toBe(1);
    });

    it("download bytes count what the downloads received", async () => {
        const before = await scrape();
        const start = await server.json<{id: string}>("/download/start", {model: "hf:metrics/Tiny-GGUF:Q4_K_M"});
        expect(start.status).toBe(202);
        const done = await downloads.wait(start.body.id);
        expect(done.status).toBe("completed");
        const after = await scrape();
        expect(value(after, "zombiecoder_download_bytes_total") - value(before, "zombiecoder_download_bytes_total")).toBe(DOWNLOAD_BYTES);
        expect(value(after, "zombiecoder_downloads", {status: "completed"})).toBe(1);
        // a second scrape adds nothing for a download that received nothing more
        expect(value(await scrape(), "zombiecoder_download_bytes_total")).toBe(value(after, "zombiecoder_download_bytes_total"));
        await fs.rm(path.join(home, "models", "metrics"), {recursive: true, force: true});
    });
});

describe("the parser itself", () => {
    it("reads escapes and special values, and refuses what a scraper would refuse", () => {
        const fams = parsePrometheus([
            "# HELP a_total A.", "# TYPE a_total counter", 'a_total{x="q\\"uote\\\\ and \\n line"} 3 1700000000000',
            "# TYPE g gauge", "g NaN", "g{k=\"v\"} +Inf"
        ].join("\n"));
        expect(fams.get("a_total")!.samples[0]!.labels.x).toBe('q"uote\\ and \n line');
        expect(Number.isNaN(fams.get("g")!.samples[0]!.value)).toBe(true);
        expect(fams.get("g")!.samples[1]!.value).toBe(Infinity);
        expect(() => parsePrometheus("undeclared 1")).toThrow(/undeclared family/);
        expect(() => parsePrometheus('# TYPE b gauge\nb{x="1" 2')).toThrow();
        expect(() => parsePrometheus("# TYPE c gauge\nc one")).toThrow(/bad value/);
        expect(() => parsePrometheus('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 1')).toThrow();
    });
});
