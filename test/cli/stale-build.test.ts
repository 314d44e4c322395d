/** A build older than the source beside it is named on start; a current build, the source and a package are quiet. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {afterAll, describe, expect, it} from "vitest";
import {newestFile, staleBuildWarning} from "../../src/cli/stale-build.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "zc-stale-"));
afterAll(() => fs.rmSync(root, {recursive: true, force: true}));

function write(file: string, text: string, mtimeMs: number): void {
    const p = path.join(root, file);
    fs.mkdirSync(path.dirname(p), {recursive: true});
    fs.writeFileSync(p, text);
    fs.utimesSync(p, mtimeMs / 1000, mtimeMs / 1000);
}

describe("stale build", () => {
    const builtAt = Date.parse("2026-03-01T12:00:00Z");

    it("is quiet without src/ (an installed package) and when running the source", () => {
        write("dist/build-info.json", JSON.stringify({version: "1.0.0", built_at_ms: builtAt}), builtAt);
        expect(staleBuildWarning(root, "build")).toBeNull();
        write("src/cli/start.ts", "x", builtAt + 60_000);
        expect(staleBuildWarning(root, "source")).toBeNull();
    });

    it("names the newest changed file when the source changed after the build", () => {
        write("src/cli/start.ts", "x", builtAt - 60_000);
        write("src/runtime/deep/job.ts", "y", builtAt + 5_000);
        expect(newestFile(path.join(root, "src"))?.file).toBe(path.join(root, "src", "runtime", "deep", "job.ts"));
        const w = staleBuildWarning(root, "build");
        expect(w).toMatch(/^warning: dist\/ is older than the source \(src[/\\]runtime[/\\]deep[/\\]job\.ts changed since the build of 2026-03-01T12:00:00\.000Z\)/);
        expect(w).toContain("npm run build");
    });

    it("is quiet once rebuilt, and warns when the build left no record", () => {
        write("dist/build-info.json", JSON.stringify({version: "1.0.0", built_at_ms: builtAt + 10_000}), builtAt + 10_000);
        expect(staleBuildWarning(root, "build")).toBeNull();
        fs.rmSync(path.join(root, "dist", "build-info.json"));
        expect(staleBuildWarning(root, "build")).toMatch(/changed since the build\);/);
    });
});
