/**
 * Where runners keep their caches: a per-user folder that survives a restart, on each OS's own terms, used only
 * when it is private to the user; and the keyed file's format, limit and tolerance of a damaged file.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {afterAll, describe, expect, it} from "vitest";
import {userCacheDir} from "../../src/config/home.js";
import {defaultCacheDirs, KeyedCacheFile, privateCacheFile} from "../../src/runner/private-cache.js";

const temp = fs.mkdtempSync(path.join(os.tmpdir(), "zc-private-cache-"));
afterAll(() => fs.rmSync(temp, {recursive: true, force: true}));

describe("the runners' cache folder", () => {
    it("is the per-user cache folder each OS names", () => {
        expect(userCacheDir({platform: "win32", env: {LOCALAPPDATA: "C:\\Users\\ana\\AppData\\Local"}})).toBe("C:\\Users\\ana\\AppData\\Local\\ZombieCoder\\Cache");
        expect(userCacheDir({platform: "darwin", env: {HOME: "/Users/ana"}})).toBe("/Users/ana/Library/Caches/ZombieCoder");
        expect(userCacheDir({platform: "linux", env: {HOME: "/home/ana"}})).toBe("/home/ana/.cache/zombiecoder");
        expect(userCacheDir({platform: "linux", env: {HOME: "/home/ana", XDG_CACHE_HOME: "/var/cache/ana"}})).toBe("/var/cache/ana/zombiecoder");
        // the XDG spec ignores a relative XDG_CACHE_HOME
        expect(userCacheDir({platform: "linux", env: {HOME: "/home/ana", XDG_CACHE_HOME: "cache"}})).toBe("/home/ana/.cache/zombiecoder");
    });

    it("takes ZOMBIECODER_CACHE_DIR first and the temporary folder last", () => {
        const dirs = defaultCacheDirs({ZOMBIECODER_CACHE_DIR: path.join(temp, "chosen"), HOME: os.homedir()});
        expect(dirs[0]).toBe(path.join(temp, "chosen"));
        expect(dirs.at(-1)!.startsWith(os.tmpdir())).toBe(true);
        expect(privateCacheFile("x.json", dirs)).toBe(path.join(temp, "chosen", "x.json"));
    });

    it.skipIf(process.platform === "win32")("passes over a folder others can write to", () => {
        const open = path.join(temp, "open");
        fs.mkdirSync(open, {mode: 0o777});
        fs.chmodSync(open, 0o777);
        const own = path.join(temp, "own");
        expect(privateCacheFile("x.json", [open, own])).toBe(path.join(own, "x.json"));
        expect(privateCacheFile("x.json", [open])).toBeNull();
    });
});

describe("a keyed cache file", () => {
    it("keeps the newest entries up to its limit and ignores another format or a damaged file", () => {
        const file = path.join(temp, "keyed.json");
        const cache = new KeyedCacheFile<number>(file, 1, 2);
        cache.set("a", 1);
        cache.set("b", 2);
        cache.set("c", 3);
        expect([cache.get("a"), cache.get("b"), cache.get("c")]).toEqual([undefined, 2, 3]);
        expect(new KeyedCacheFile<number>(file, 2).get("c")).toBeUndefined();
        fs.writeFileSync(file, "{not json");
        expect(cache.get("c")).toBeUndefined();
        cache.set("d", 4);
        expect(cache.get("d")).toBe(4);
    });
});
