/** `npm run service`: --dry-run changes nothing and runs nothing (execa itself is spied on), approval is required. */
import fs from "node:fs";
import path from "node:path";
import {afterAll, beforeEach, describe, expect, it, vi} from "vitest";

const execaSpy = vi.hoisted(() => ({calls: [] as unknown[][]}));
vi.mock("execa", async (importOriginal) => {
    const real = await importOriginal<typeof import("execa")>();
    return {
        ...real,
        execa: (...args: unknown[]) => {
            execaSpy.calls.push(args);
            throw new Error("execa must not run in this test");
        }
    };
});

const {main} = await import("../../src/cli/service.js");
const {silentLogger} = await import("../../src/log/logger.js");
const {SEED_NSSM_PATH} = await import("../../src/service/windows.js");
const {linuxProbe, recordingRunner, snapshot, tempDir, winProbe} = await import("./helpers.js");

const dirs: string[] = [];
afterAll(() => {
    for (const d of dirs) fs.rmSync(d, {recursive: true, force: true});
});

beforeEach(() => {
    execaSpy.calls.length = 0;
});

function world() {
    const root = tempDir("cli");
    dirs.push(root);
    const home = path.join(root, "provider home");
    const userHome = path.join(root, "user home");
    fs.mkdirSync(path.join(home, "config"), {recursive: true});
    fs.mkdirSync(userHome);
    fs.writeFileSync(path.join(home, "config", "provider_config.json"), JSON.stringify({auth: {enable_api_key: false}}));
    return {root, home, userHome};
}

function capture() {
    const out: string[] = [];
    const err: string[] = [];
    return {out, err, deps: {out: (t: string) => out.push(t), err: (t: string) => err.push(t), logger: silentLogger, env: {}}};
}

describe("service CLI --dry-run", () => {
    it.each(["install", "uninstall", "start", "stop", "restart", "status"])("%s --dry-run prints the plan, writes nothing and runs nothing (Linux)", async (action) => {
        const {root, home, userHome} = world();
        // The unit "exists" for actions on an installed service.
        const unit = path.join(userHome, ".config", "systemd", "user", "zombiecoderai.service");
        if (action !== "install") {
            fs.mkdirSync(path.dirname(unit), {recursive: true});
            fs.writeFileSync(unit, "[Unit]\n");
        }
        const before = snapshot(root);
        const rec = recordingRunner();
        const c = capture();
        const code = await main([action, "--dry-run", "--home", home], {...c.deps, runner: rec.runner, probe: linuxProbe(userHome)});
        expect(code).toBe(0);
        expect(rec.calls).toEqual([]);
        expect(execaSpy.calls).toEqual([]);
        expect(snapshot(root)).toEqual(before);
        const text = c.out.join("\n");
        expect(text).toContain("--dry-run: nothing was changed and no command was run.");
        expect(text).toMatch(new RegExp(`^${action} provider service "zombiecoderai.service" on linux \\(systemd, user scope\\)`));
        if (action === "install") {
            expect(text).toContain("| Restart=always");
            expect(text).toContain("$ systemctl --user enable zombiecoderai.service");
        }
    });

    it("Windows install --dry-run shows the NSSM commands, and the winget step when NSSM is missing", async () => {
        const {root, home} = world();
        const before = snapshot(root);
        const c = capture();
        const rec = recordingRunner();
        expect(await main(["install", "--dry-run", "--home", home], {...c.deps, runner: rec.runner, probe: winProbe([SEED_NSSM_PATH])})).toBe(0);
        expect(c.out.join("\n")).toContain("$ C:\\tools\\nssm\\nssm.exe set ZombieCoderAI AppExit Default Restart");
        const winget = "C:\\Users\\Jane Doe\\AppData\\Local\\Microsoft\\WindowsApps\\winget.exe";
        const c2 = capture();
        expect(await main(["install", "--dry-run", "--home", home], {...c2.deps, runner: rec.runner, probe: winProbe([winget])})).toBe(0);
        expect(c2.out.join("\n")).toContain("First, with your approval:");
        expect(c2.out.join("\n")).toContain("winget.exe\" install --id NSSM.NSSM");
        const c3 = capture();
        expect(await main(["install", "--dry-run", "--home", home], {...c3.deps, runner: rec.runner, probe: winProbe([])})).toBe(2);
        expect(c3.out.join("\n")).toContain("Manual steps:");
        expect(rec.calls).toEqual([]);
        expect(execaSpy.calls).toEqual([]);
        expect(snapshot(root)).toEqual(before);
    });
});

describe("service CLI approval", () => {
    it("refuses to change anything without a terminal or --yes", async () => {
        const {root, home, userHome} = world();
        const before = snapshot(root);
        const rec = recordingRunner();
        const c = capture();
        const code = await main(["install", "--home", home], {...c.deps, runner: rec.runner, probe: linuxProbe(userHome)});
        expect(code).toBe(1);
        expect(c.err.join("\n")).toMatch(/needs approval.*--yes/);
        expect(rec.calls).toEqual([]);
        expect(snapshot(root)).toEqual(before);
    });

    it("install --yes writes the unit and runs systemctl; uninstall --yes undoes it", async () => {
        const {home, userHome} = world();
        const rec = recordingRunner();
        const probe = linuxProbe(userHome);
        const c = capture();
        expect(await main(["install", "--yes", "--home", home], {...c.deps, runner: rec.runner, probe})).toBe(0);
        const unit = path.join(userHome, ".config", "systemd", "user", "zombiecoderai.service");
        expect(fs.readFileSync(unit, "utf8")).toContain(`Environment="ZOMBIECODER_HOME=${home}"`);
        expect(rec.calls.map((x) => x.join(" "))).toContain("systemctl --user restart zombiecoderai.service");
        expect(c.out.join("\n")).toMatch(/install of zombiecoderai.service: done/);

        const st = capture();
        const statusRunner = recordingRunner(() => false, (argv) => (argv.includes("is-active") ? "active\n" : ""));
        expect(await main(["status", "--home", home], {...st.deps, runner: statusRunner.runner, probe})).toBe(0);
        expect(st.out.join("\n")).toBe("zombiecoderai.service (systemd, user): running");

        const un = capture();
        expect(await main(["uninstall", "--yes", "--home", home], {...un.deps, runner: rec.runner, probe})).toBe(0);
        expect(fs.existsSync(unit)).toBe(false);
        expect(execaSpy.calls).toEqual([]);
    });

    it("asks through the injected prompt and honours a no", async () => {
        const {root, home, userHome} = world();
        const before = snapshot(root);
        const rec = recordingRunner();
        const questions: string[] = [];
        const c = capture();
        const code = await main(["install", "--home", home], {...c.deps, runner: rec.runner, probe: linuxProbe(userHome), approve: (q) => {
            questions.push(q);
            return false;
        }});
        expect(code).toBe(1);
        expect(questions).toEqual(["install the provider service \"zombiecoderai.service\" (8 steps)?"]);
        expect(rec.calls).toEqual([]);
        expect(snapshot(root)).toEqual(before);
    });

    it("rejects unknown arguments and a missing action with usage (exit 2)", async () => {
        const c = capture();
        expect(await main(["instal"], c.deps)).toBe(2);
        expect(await main([], c.deps)).toBe(2);
        expect(await main(["install", "--scope", "galaxy"], c.deps)).toBe(2);
        expect(c.err.join("\n")).toContain("usage: npm run service");
    });
});
