/** The commands' own argument checks on top of the shared parser, through their importable main(). */
import {describe, expect, it, vi} from "vitest";
import {main as serviceMain} from "../../src/cli/service.js";
import {main as watchdogMain} from "../../src/cli/watchdog.js";

function capture() {
    const out: string[] = [];
    const err: string[] = [];
    return {out, err, deps: {out: (t: string) => out.push(t), err: (t: string) => err.push(t), env: {}}};
}

describe("service arguments", () => {
    it("names an unknown action and lists the real ones", async () => {
        const c = capture();
        expect(await serviceMain(["instal"], c.deps)).toBe(2);
        expect(c.err.join("\n")).toMatch(/^error: unknown action "instal": expected one of install, uninstall, start, stop, restart, status\n\nusage: npm run service/);
    });

    it("asks for a missing action", async () => {
        const c = capture();
        expect(await serviceMain(["--dry-run"], c.deps)).toBe(2);
        expect(c.err.join("\n")).toMatch(/^error: missing action\n/);
    });

    it("rejects a --scope other than user or system, inline or not", async () => {
        for (const argv of [["install", "--scope", "galaxy"], ["install", "--scope=galaxy"]]) {
            const c = capture();
            expect(await serviceMain(argv, c.deps)).toBe(2);
            expect(c.err.join("\n")).toMatch(/^error: --scope: expected "user" or "system", got "galaxy"/);
        }
    });

    it("prints the usage on stdout for --help, whatever else is on the line", async () => {
        const c = capture();
        expect(await serviceMain(["install", "--yes", "--help"], c.deps)).toBe(0);
        expect(c.out.join("\n")).toMatch(/^usage: npm run service -- <install\|uninstall\|start\|stop\|restart\|status>/);
        expect(c.err).toEqual([]);
    });
});

describe("watchdog arguments", () => {
    it("rejects an unknown --mode and an unknown flag with exit 2", async () => {
        const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
        try {
            expect(await watchdogMain(["--mode", "sideways"])).toBe(2);
            expect(await watchdogMain(["--leave-runing"])).toBe(2);
            const text = stderr.mock.calls.map((c) => String(c[0])).join("");
            expect(text).toMatch(/^error: --mode: expected auto, direct or service, got "sideways"\n/);
            expect(text).toContain("error: unknown option --leave-runing\n");
        } finally {
            stderr.mockRestore();
        }
    });
});
