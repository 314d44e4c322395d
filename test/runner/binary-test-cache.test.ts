/**
 * The binary-test pass cache: a pass is found again only for the same binary files, GPU type, Node and OS (a stale
 * or foreign entry is ignored), and while getLlama runs node-llama-cpp's test fork is answered from it or run for
 * real and recorded. The "binary test" here is a script that speaks node-llama-cpp's test protocol.
 */
import {fork} from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {afterEach, beforeEach, describe, expect, it} from "vitest";
import {BinaryTestCache, binaryTestKey} from "../../src/runner/binary-test-cache.js";
import {getModuleVersion} from "node-llama-cpp";
import {BINARY_TEST_PROTOCOL_VERSIONS, binaryTestCacheFor, withBinaryTestCache} from "../../src/runner/binary-test-fork.js";

let dir: string;
let binary: string;
let cacheFile: string;

beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "zc-bintest-"));
    fs.mkdirSync(path.join(dir, "bins"));
    binary = path.join(dir, "bins", "llama-addon.node");
    fs.writeFileSync(binary, "binary v1");
    fs.writeFileSync(path.join(dir, "bins", "libggml-base.so"), "lib v1");
    cacheFile = path.join(dir, "binary-tests.json");
});

afterEach(() => fs.rmSync(dir, {recursive: true, force: true}));

describe("binary test cache", () => {
    it("finds a recorded pass for the same binary and GPU type", () => {
        const cache = new BinaryTestCache(cacheFile);
        const key = binaryTestKey({bindingBinaryPath: binary, gpu: false})!;
        expect(cache.passed(key)).toBe(false);
        cache.recordPass(key);
        expect(new BinaryTestCache(cacheFile).passed(binaryTestKey({bindingBinaryPath: binary, gpu: false})!)).toBe(true);
    });

    it("ignores a pass for another GPU type, a changed binary or a changed library beside it", () => {
        const cache = new BinaryTestCache(cacheFile);
        cache.recordPass(binaryTestKey({bindingBinaryPath: binary, gpu: false})!);
        expect(cache.passed(binaryTestKey({bindingBinaryPath: binary, gpu: "cuda"})!)).toBe(false);
        fs.writeFileSync(path.join(dir, "bins", "libggml-base.so"), "lib v2, longer");
        expect(cache.passed(binaryTestKey({bindingBinaryPath: binary, gpu: false})!)).toBe(false);
        cache.recordPass(binaryTestKey({bindingBinaryPath: binary, gpu: false})!);
        fs.writeFileSync(binary, "binary v2, reinstalled");
        expect(cache.passed(binaryTestKey({bindingBinaryPath: binary, gpu: false})!)).toBe(false);
    });

    it("ignores a file of another format, a malformed file, and has no key for a missing binary", () => {
        const key = binaryTestKey({bindingBinaryPath: binary, gpu: false})!;
        fs.writeFileSync(cacheFile, JSON.stringify({format: 99, passed: {[key]: {at: "then"}}}));
        expect(new BinaryTestCache(cacheFile).passed(key)).toBe(false);
        fs.writeFileSync(cacheFile, "{not json");
        expect(new BinaryTestCache(cacheFile).passed(key)).toBe(false);
        expect(binaryTestKey({bindingBinaryPath: path.join(dir, "missing.node"), gpu: false})).toBeNull();
    });
});

/** A stand-in for node-llama-cpp's testBindingBinary.js child: the same messages; fails when FAIL is set. */
const TEST_SCRIPT = `
process.on("message", (m) => {
    if (m.type === "start") process.send({type: "loaded"});
    else if (m.type === "test") { if (process.env.FAIL) process.exit(1); process.send({type: "done"}); }
    else if (m.type === "exit") process.exit(0);
});
process.send({type: "ready"});
`;

/** Drives a test fork the way node-llama-cpp does; resolves with whether it passed and whether a real process ran. */
function runBinaryTest(script: string, env: NodeJS.ProcessEnv = {}): Promise<{passed: boolean; realPid: boolean}> {
    return new Promise((resolve) => {
        const child = fork(script, [], {stdio: ["ignore", "ignore", "ignore", "ipc"], env: {...process.env, ...env, TEST_BINDING_CP: "true"}});
        let passed = false;
        child.on("message", (m: {type: string}) => {
            if (m.type === "ready") child.send({type: "start", bindingBinaryPath: binary, gpu: false});
            else if (m.type === "loaded") child.send({type: "test", bindingBinaryPath: binary, gpu: false});
            else if (m.type === "done") {
                passed = true;
                child.send({type: "exit"});
            }
        });
        child.on("exit", (code) => resolve({passed: passed && code === 0, realPid: child.pid != null}));
    });
}

describe("withBinaryTestCache", () => {
    it("runs the real test once, records its pass, then answers from the cache without a process", async () => {
        const script = path.join(dir, "testBindingBinary.cjs");
        fs.writeFileSync(script, TEST_SCRIPT);
        const cache = new BinaryTestCache(cacheFile);
        expect(await withBinaryTestCache(cache, () => runBinaryTest(script))).toEqual({passed: true, realPid: true});
        fs.rmSync(script); // a real fork would now fail
        expect(await withBinaryTestCache(cache, () => runBinaryTest(script))).toEqual({passed: true, realPid: false});
    });

    it("records nothing for a failed test, and leaves fork as it was afterwards", async () => {
        const script = path.join(dir, "testBindingBinary.cjs");
        fs.writeFileSync(script, TEST_SCRIPT);
        const cache = new BinaryTestCache(cacheFile);
        expect((await withBinaryTestCache(cache, () => runBinaryTest(script, {FAIL: "1"}))).passed).toBe(false);
        expect(cache.passed(binaryTestKey({bindingBinaryPath: binary, gpu: false})!)).toBe(false);
        // outside withBinaryTestCache a fork is Node's own, whatever the cache holds
        cache.recordPass(binaryTestKey({bindingBinaryPath: binary, gpu: false})!);
        expect(await runBinaryTest(script)).toEqual({passed: true, realPid: true});
    });

    it("answers from the cache only for node-llama-cpp versions whose test conversation it imitates", async () => {
        const cache = new BinaryTestCache(cacheFile);
        expect(binaryTestCacheFor("0.0.1-other", cache)).toBeNull();
        // an upgrade of node-llama-cpp fails here until testBindingBinary.js is re-read and the version added
        expect(BINARY_TEST_PROTOCOL_VERSIONS).toContain(await getModuleVersion());
        expect(binaryTestCacheFor(await getModuleVersion(), cache)).toBe(cache);
    });
});
