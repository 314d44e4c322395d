/** The service step on Windows: a terminal that is not elevated is named as the reason before anything is asked. */
import {afterAll, describe, expect, test} from "vitest";
import type {CommandRunner} from "../../src/service/runner.js";
import {SEED_NSSM_PATH} from "../../src/service/windows.js";
import {createServiceStep} from "../../src/setup/steps/install-service.js";
import {windowsElevation} from "../../src/setup/windows-admin.js";
import {makeHome, removeHome} from "../helpers/home.js";
import {winProbe} from "../service/helpers.js";
import {stepContext} from "./helpers.js";

const homes: string[] = [];
afterAll(async () => {
    for (const h of homes) await removeHome(h);
});

/** `whoami /groups /fo csv /nh` as Windows prints it, at one integrity level. */
function whoami(level: "Medium" | "High", calls: string[][] = []): CommandRunner {
    const sid = level === "High" ? "S-1-16-12288" : "S-1-16-8192";
    return async (file, args) => {
        calls.push([file, ...args]);
        return {
            exitCode: 0, failed: false, stderr: "",
            stdout: `"Everyone","Well-known group","S-1-1-0","Mandatory group, Enabled by default, Enabled group"\r\n"Mandatory Label\\${level} Mandatory Level","Label","${sid}",""\r\n`
        };
    };
}

const probe = () => winProbe([SEED_NSSM_PATH]);

describe("installing the Windows service needs an Administrator terminal", () => {
    test("not elevated: skipped before any question, saying so and what to run from an elevated terminal", async () => {
        const h = await makeHome("zc-setup-winadmin-");
        homes.push(h);
        const calls: string[][] = [];
        const step = createServiceStep({probe, runner: whoami("Medium", calls)});
        const p = await step.prepare(stepContext(h, "service"));
        expect(calls).toEqual([["C:\\Windows\\System32\\whoami.exe", "/groups", "/fo", "csv", "/nh"]]);
        expect(p.approvals).toEqual([]);
        expect(p.skip).toContain("Installing a Windows service needs a terminal started as Administrator, and this one is not");
        expect(p.skip).toContain("Medium integrity level");
        expect(p.skip).toContain("\"Run as administrator\"");
        expect(p.skip).toContain("npx zombiecoder service install\n");
        expect(p.skip).toContain("npx zombiecoder service install --watchdog");
        expect(p.skip).not.toContain("npm run service --");
        expect(p.summary).toEqual(["cannot install the Windows service: this terminal is not running as Administrator"]);
    });

    test("elevated: the plan is shown and service:install is asked", async () => {
        const h = await makeHome("zc-setup-winadmin-ok-");
        homes.push(h);
        const p = await createServiceStep({probe, runner: whoami("High")}).prepare(stepContext(h, "service"));
        expect(p.skip).toBeUndefined();
        expect(p.approvals.map((a) => a.id)).toEqual(["service:install"]);
        expect(p.approvals[0]!.details).toContain("nssm");
    });

    test("when whoami cannot answer, the step goes on rather than guess (NSSM then says what is wrong)", async () => {
        const failing: CommandRunner = async () => ({exitCode: null, failed: true, stdout: "", stderr: "", message: "spawn ENOENT"});
        const e = await windowsElevation(probe(), failing);
        expect(e.elevated).toBe(true);
        expect(e.detail).toContain("could not tell");
    });
});
