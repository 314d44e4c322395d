/**
 * What the idle server holds (issue #14: the provider with no model loaded, <= 80 MB RSS): packages only some
 * requests need load on those requests, not at start, and start-up code is not optimized (src/cli/start.ts). The
 * real entry runs in its own process with a recorder of every module it loads; after a start, a /health and a clean
 * stop, none of these may be there, and a function made hot then must be optimized.
 */
import fs from "node:fs/promises";
import path from "node:path";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {startCli} from "../helpers/cli-process.js";
import {addModel, makeHome, removeHome} from "../helpers/home.js";

const recorder = path.join(import.meta.dirname, "fixtures", "module-recorder.mjs");
const tieringProbe = path.join(import.meta.dirname, "fixtures", "tiering-probe.mjs");

/** Each package, and what loads it on demand instead. */
const LOADED_ON_DEMAND: Record<string, string> = {
    "@fastify/ajv-compiler": "a route's first request (src/server/lazy-validation.ts)",
    // fastify itself loads fast-json-stringify's serializer module only, for its error bodies
    "@fastify/fast-json-stringify-compiler": "the first route with a response schema",
    "prom-client": "the first /metrics scrape"
    // node-llama-cpp is not listed: run from the source, the registry reads GGUF headers in process (a child in the
    // build); test/registry/engine-free.test.ts keeps it out of the server's static imports
};

/** The package a loaded module's path or URL belongs to, or null for node's own and ours. */
function packageOf(module: string): string | null {
    const m = /node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(decodeURIComponent(module));
    return m ? m[1]!.replace(/\\/g, "/") : null;
}

describe("the idle server's modules", () => {
    let home: string;
    let loaded: string[];
    let tiering: {optimized: boolean};
    beforeAll(async () => {
        home = await makeHome("zc-idle-footprint-");
        await addModel(home, "tiny/tiny-q8_0.gguf");
        const record = path.join(home, "modules.json");
        const tieringRecord = path.join(home, "tiering.json");
        const {child, url, exit} = await startCli(home, {
            nodeArgs: ["--allow-natives-syntax", "--no-concurrent-recompilation"],
            imports: [recorder, tieringProbe],
            env: {MODULE_RECORD_FILE: record, TIERING_RECORD_FILE: tieringRecord}
        });
        expect((await fetch(`${url}/health`)).status).toBe(200);
        child.kill("SIGTERM");
        expect(await exit).toBe(0);
        loaded = JSON.parse(await fs.readFile(record, "utf8")) as string[];
        tiering = JSON.parse(await fs.readFile(tieringRecord, "utf8")) as {optimized: boolean};
    }, 60_000);
    afterAll(async () => removeHome(home));

    it("the recorder sees the packages the server does load", () => {
        const packages = new Set(loaded.map(packageOf));
        expect(packages).toContain("fastify");
        expect(packages).toContain("pino");
        // ES modules too (typebox is one), through the recorder's hook
        expect(loaded.some((m) => m.startsWith("file:") && m.endsWith("/src/server/app.ts"))).toBe(true);
    });

    it("no package an idle server does not need is loaded at start", () => {
        const packages = new Set(loaded.map(packageOf));
        const present = Object.keys(LOADED_ON_DEMAND).filter((p) => packages.has(p));
        expect(present.map((p) => `${p} (belongs to: ${LOADED_ON_DEMAND[p]})`)).toEqual([]);
    });

    it("turns V8's optimizing tier back on once the server listens (it is off for the start-up code only)", () => {
        expect(tiering.optimized).toBe(true);
    });
});
