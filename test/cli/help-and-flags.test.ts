/**
 * Every CLI, spawned as its npm script runs it: `--help` prints the usage and exits 0 without doing the command's
 * work, and an unknown flag exits 2 with a message that names it. The runs go side by side; each answers before
 * the config, the registry or the engine loads.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {afterAll, describe, expect, it} from "vitest";
import {runCli} from "./run-cli.js";

const CLIS = [
    {script: "src/cli/start.ts", usage: "usage: npm start --"},
    {script: "src/cli/scan.ts", usage: "usage: npm run scan --"},
    {script: "src/cli/audit.ts", usage: "usage: npm run audit --"},
    {script: "src/cli/pull.ts", usage: "usage: npm run pull --"},
    {script: "src/cli/service.ts", usage: "usage: npm run service --"},
    {script: "src/cli/watchdog.ts", usage: "usage: npm run watchdog --"},
    {script: "bench/run.ts", usage: "usage: npm run bench --"}
];

// A home the commands would act on if they ignored --help: scan would write its registry index here, start would
// create its logs folder.
const home = fs.mkdtempSync(path.join(os.tmpdir(), "zc-cli-"));
afterAll(() => fs.rmSync(home, {recursive: true, force: true}));
const homeArgs = (script: string) => (script.startsWith("bench/") ? [] : ["--home", home]);

describe.concurrent("every CLI answers --help and rejects an unknown flag", () => {
    it.each(CLIS)("$script --help prints the usage and exits 0", async ({script, usage}) => {
        const r = await runCli(script, [...homeArgs(script), "--help"]);
        expect(r.signal).toBeNull();
        expect(r.stdout.startsWith(usage)).toBe(true);
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
    });

    it.each(CLIS)("$script --bogus exits 2 and names the flag", async ({script, usage}) => {
        const r = await runCli(script, [...homeArgs(script), "--bogus"]);
        expect(r.signal).toBeNull();
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/^error: unknown option --bogus\n/);
        expect(r.stderr).toContain(usage);
        expect(r.stdout).toBe("");
    });

    it("pull without a model exits 2 and says what is missing", async () => {
        const r = await runCli("src/cli/pull.ts", ["--home", home]);
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/^error: missing model to download\n/);
    });
});

// Not concurrent: it runs once every command above has exited.
describe("after --help and usage errors", () => {
    it("nothing was done in the home: no registry index, no logs", () => {
        expect(fs.readdirSync(home)).toEqual([]);
    });
});
