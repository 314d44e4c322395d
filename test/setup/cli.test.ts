/** The setup CLI's own contract: --help, and flags it does not know. Nothing here touches a home. */
import {expect, test} from "vitest";
import {main} from "../../src/cli/setup.js";

async function cli(args: string[]): Promise<{code: number; stdout: string; stderr: string}> {
    let stdout = "";
    let stderr = "";
    const code = await main(args, {out: (t) => void (stdout += t), err: (t) => void (stderr += t), interactive: false});
    return {code, stdout, stderr};
}

test("--help prints the usage with every option and exits 0", async () => {
    for (const flag of ["--help", "-h"]) {
        const r = await cli([flag]);
        expect(r.code).toBe(0);
        expect(r.stderr).toBe("");
        expect(r.stdout).toMatch(/^usage: npm run setup -- \[options\]/);
        for (const option of ["--plan", "--yes", "--no-yes", "--non-interactive", "--answers FILE", "--resume", "--no-serve", "--serve", "--skip STEP", "--home DIR", "--config FILE"])
            expect(r.stdout).toContain(option);
    }
});

test("an unknown flag, an unknown step or a missing value exits 2 with the reason", async () => {
    const unknown = await cli(["--bogus"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown argument "--bogus"');
    expect(unknown.stderr).toContain("usage: npm run setup");
    expect(unknown.stdout).toBe("");

    const step = await cli(["--skip", "models,nope"]);
    expect(step.code).toBe(2);
    expect(step.stderr).toContain('--skip: unknown step "nope"');

    const value = await cli(["--answers"]);
    expect(value.code).toBe(2);
    expect(value.stderr).toContain("--answers needs a value");
});
