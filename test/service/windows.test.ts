import fs from "node:fs";
import path from "node:path";
import {describe, expect, it} from "vitest";
import {loadConfig, projectRoot} from "../../src/config/load.js";
import {applyServicePlan} from "../../src/service/apply.js";
import type {ServiceAction} from "../../src/service/types.js";
import {buildServicePlan, formatCommand} from "../../src/service/plan.js";
import {joinWindowsArgs, quoteWindowsArg} from "../../src/service/quote.js";
import type {CommandRunner} from "../../src/service/runner.js";
import {chooseNssmInstaller, NSSM_PLACEHOLDER, SEED_NSSM_PATH} from "../../src/service/windows.js";
import {memoryFiles, recordingRunner, runArgv, WIN_NODE, WIN_ROOT, winProbe} from "./helpers.js";

const config = loadConfig({home: WIN_ROOT, platform: "win32", env: {}});
const plan = (probe = winProbe([SEED_NSSM_PATH]), action: ServiceAction = "install", cfg = config) =>
    buildServicePlan(cfg, {probe, action, nodePath: WIN_NODE, projectRoot: WIN_ROOT});

/** CommandLineToArgvW's rules (what NSSM's CreateProcess child, node.exe, uses to split its command line). */
function parseWindowsCommandLine(line: string): string[] {
    const args: string[] = [];
    let cur = "";
    let inQuotes = false;
    let have = false;
    for (let i = 0; i < line.length; i++) {
        const c = line[i]!;
        if (c === "\\") {
            let n = 0;
            while (line[i] === "\\") {
                n++;
                i++;
            }
            if (line[i] === "\"") {
                cur += "\\".repeat(Math.floor(n / 2));
                if (n % 2 === 1) cur += "\"";
                else inQuotes = !inQuotes;
                have = true;
            } else {
                cur += "\\".repeat(n);
                i--;
                have = true;
            }
        } else if (c === "\"") {
            inQuotes = !inQuotes;
            have = true;
        } else if ((c === " " || c === "\t") && !inQuotes) {
            if (have) args.push(cur);
            cur = "";
            have = false;
        } else {
            cur += c;
            have = true;
        }
    }
    if (have) args.push(cur);
    return args;
}

/** Records file operations: a Windows plan's paths mean nothing to this Linux disk. */
const fakeFiles = () => memoryFiles();
/** `sc query` exits 1060 (no such service): a first install. */
const noService = (argv: string[]): boolean => argv[1] === "query";

describe("Windows command-line quoting", () => {
    it("round-trips paths with spaces, trailing backslashes and quotes", () => {
        const cases = [
            ["C:\\Program Files\\nodejs\\node.exe", "--home", "C:\\Program Files\\ZombieCoder\\"],
            ["plain", "", "a\"b", "a\\\"b", "tab\there", "C:\\a b\\\\", "\\\\server\\share\\x y"]
        ];
        for (const args of cases) expect(parseWindowsCommandLine(joinWindowsArgs(args))).toEqual(args);
        expect(quoteWindowsArg("C:\\Program Files\\x\\")).toBe("\"C:\\Program Files\\x\\\\\"");
        expect(quoteWindowsArg("C:\\tools\\nssm.exe")).toBe("C:\\tools\\nssm.exe");
    });
});

describe("NSSM install plan", () => {
    const nssm = SEED_NSSM_PATH;
    const sc = "C:\\Windows\\System32\\sc.exe";
    const name = "ZombieCoderAI";
    const logs = "C:\\Program Files\\ZombieCoder\\logs";

    it("registers node with NSSM, sets every option, adds recovery actions and starts it", () => {
        const p = plan();
        expect(p.blocked).toBeUndefined();
        expect(p.prerequisites).toEqual([]);
        expect(p.pathStyle).toBe("win32");
        expect(p.steps[0]).toMatchObject({kind: "mkdir", path: logs});
        expect(runArgv(p.steps)).toEqual([
            [sc, "query", name],
            [nssm, "install", name, WIN_NODE],
            [nssm, "set", name, "Application", WIN_NODE],
            [nssm, "set", name, "AppParameters",
                "\"C:\\Program Files\\ZombieCoder\\dist\\cli\\start.js\" --home \"C:\\Program Files\\ZombieCoder\" " +
                "--config \"C:\\Program Files\\ZombieCoder\\config\\provider_config.json\""],
            [nssm, "set", name, "AppDirectory", WIN_ROOT],
            [nssm, "set", name, "AppEnvironmentExtra", `ZOMBIECODER_HOME=${WIN_ROOT}`, `ZOMBIECODER_CONFIG=${WIN_ROOT}\\config\\provider_config.json`],
            [nssm, "set", name, "DisplayName", "ZombieCoder Provider"],
            [nssm, "set", name, "Description", "ZombieCoder Provider: local LLM server (Ollama, OpenAI and Anthropic APIs)"],
            [nssm, "set", name, "Start", "SERVICE_AUTO_START"],
            [nssm, "set", name, "AppStdout", `${logs}\\provider-service.out.log`],
            [nssm, "set", name, "AppStderr", `${logs}\\provider-service.err.log`],
            [nssm, "set", name, "AppRotateFiles", "1"],
            [nssm, "set", name, "AppRotateOnline", "1"],
            [nssm, "set", name, "AppRotateBytes", "10485760"],
            [nssm, "set", name, "AppExit", "Default", "Restart"],
            [nssm, "set", name, "AppRestartDelay", "5000"],
            [nssm, "set", name, "AppStopMethodConsole", "15000"],
            [nssm, "set", name, "AppKillProcessTree", "1"],
            [sc, "failure", name, "reset=", "86400", "actions=", "restart/5000/restart/5000/restart/60000"],
            [sc, "failureflag", name, "1"],
            [nssm, "stop", name],
            [nssm, "start", name]
        ]);
        // Which of those run depends on whether the service existed: never removed first, never both install and Application.
        const whenOf = (argv: string[]) => p.steps.find((s) => s.kind === "run" && [s.file, ...s.args].join(" ") === argv.join(" "))!.when;
        expect(whenOf([nssm, "install", name, WIN_NODE])).toEqual({fact: "earlier_service", is: false});
        expect(whenOf([nssm, "set", name, "Application", WIN_NODE])).toEqual({fact: "earlier_service", is: true});
        expect(whenOf([nssm, "stop", name])).toEqual({fact: "earlier_service", is: true});
        expect(runArgv(p.rollback)).toEqual([[nssm, "stop", name], [nssm, "remove", name, "confirm"], [nssm, "start", name]]);
        // AppParameters splits back into exactly the arguments node gets.
        const params = runArgv(p.steps).find((a) => a[3] === "AppParameters")![4]!;
        expect(parseWindowsCommandLine(params)).toEqual([`${WIN_ROOT}\\dist\\cli\\start.js`, "--home", WIN_ROOT, "--config", `${WIN_ROOT}\\config\\provider_config.json`]);
    });

    it("finds NSSM in the config first, then on PATH, then at the seed's location", () => {
        const custom = "D:\\Apps\\nssm 2.24\\win64\\nssm.exe";
        const withCustom = loadConfig({home: WIN_ROOT, platform: "win32", env: {}, overrides: {service: {name: "ZombieCoderAI", nssm_path: custom, scope: "auto"}}});
        expect(runArgv(plan(winProbe([custom, SEED_NSSM_PATH]), "install", withCustom).steps)[1]![0]).toBe(custom);
        const onPath = "C:\\bin\\nssm.exe";
        expect(runArgv(plan(winProbe([onPath, SEED_NSSM_PATH], {Path: "C:\\bin"})).steps)[1]![0]).toBe(onPath);
        expect(runArgv(plan(winProbe([SEED_NSSM_PATH])).steps)[1]![0]).toBe(SEED_NSSM_PATH);
        const missingCustom = plan(winProbe([SEED_NSSM_PATH]), "install", withCustom);
        expect(missingCustom.notes.join(" ")).toMatch(/nssm_path .* does not exist/);
    });

    it("names the watchdog service separately and runs dist/cli/watchdog.js", () => {
        const p = buildServicePlan(config, {probe: winProbe([SEED_NSSM_PATH]), component: "watchdog", nodePath: WIN_NODE, projectRoot: WIN_ROOT});
        expect(p.serviceName).toBe("ZombieCoderAIWatchdog");
        const params = runArgv(p.steps).find((a) => a[3] === "AppParameters")![4]!;
        expect(params).toContain("\"C:\\Program Files\\ZombieCoder\\dist\\cli\\watchdog.js\"");
    });
});

describe("installing NSSM when it is missing", () => {
    const wingetDir = "C:\\Users\\Jane Doe\\AppData\\Local\\Microsoft\\WindowsApps";
    const winget = `${wingetDir}\\winget.exe`;
    const scoop = "C:\\Users\\Jane Doe\\scoop\\shims\\scoop.cmd";
    const choco = "C:\\ProgramData\\chocolatey\\bin\\choco.exe";
    const pathWith = {Path: `${wingetDir};C:\\Users\\Jane Doe\\scoop\\shims;C:\\ProgramData\\chocolatey\\bin`};

    it("prefers winget, then scoop, then choco", () => {
        expect(chooseNssmInstaller(winProbe([winget, scoop, choco], pathWith))).toEqual({
            manager: "winget", file: winget, args: ["install", "--id", "NSSM.NSSM", "--exact", "--accept-package-agreements", "--accept-source-agreements"]
        });
        expect(chooseNssmInstaller(winProbe([scoop, choco], pathWith))).toEqual({manager: "scoop", file: scoop, args: ["install", "nssm"]});
        expect(chooseNssmInstaller(winProbe([choco], pathWith))).toEqual({manager: "choco", file: choco, args: ["install", "nssm", "-y"]});
        expect(chooseNssmInstaller(winProbe([], pathWith))).toBeNull();
    });

    it("puts the package-manager install first and uses a placeholder for nssm.exe", () => {
        const p = plan(winProbe([scoop], pathWith));
        expect(runArgv(p.prerequisites)).toEqual([[scoop, "install", "nssm"]]);
        expect(p.placeholders[0]!.placeholder).toBe(NSSM_PLACEHOLDER);
        expect(p.placeholders[0]!.candidates).toContain("C:\\Users\\Jane Doe\\scoop\\shims\\nssm.exe");
        expect(p.placeholders[0]!.candidates).toContain("C:\\Users\\Jane Doe\\AppData\\Local\\Microsoft\\WinGet\\Links\\nssm.exe");
        expect(p.placeholders[0]!.candidates).toContain(SEED_NSSM_PATH);
        expect(runArgv(p.steps).filter((a) => a[0] === NSSM_PLACEHOLDER).length).toBeGreaterThan(10);
    });

    it("asks before installing NSSM, then substitutes where it landed", async () => {
        const p = plan(winProbe([winget], pathWith));
        const files = fakeFiles();
        const questions: string[] = [];
        const rec = recordingRunner();
        const landed = "C:\\Users\\Jane Doe\\AppData\\Local\\Microsoft\\WinGet\\Links\\nssm.exe";
        const r = await applyServicePlan(p, {
            approve: (q) => {
                questions.push(q);
                return true;
            },
            runner: rec.runner,
            exists: (f) => f === landed,
            fileOps: files
        });
        expect(r.status).toBe("done");
        expect(questions).toHaveLength(2);
        expect(questions[1]).toMatch(/install NSSM with winget\? It runs: .*winget\.exe"? install --id NSSM\.NSSM/);
        expect(files.ops).toEqual(["mkdir C:\\Program Files\\ZombieCoder\\logs"]);
        expect(rec.calls[0]).toEqual([winget, "install", "--id", "NSSM.NSSM", "--exact", "--accept-package-agreements", "--accept-source-agreements"]);
        expect(rec.calls.slice(1).filter((c) => c[0] !== "C:\\Windows\\System32\\sc.exe").every((c) => c[0] === landed)).toBe(true);
    });

    it("declining the NSSM install changes nothing", async () => {
        const rec = recordingRunner();
        let n = 0;
        const r = await applyServicePlan(plan(winProbe([winget], pathWith)), {approve: () => ++n === 1, runner: rec.runner, exists: () => false, fileOps: fakeFiles()});
        expect(r.status).toBe("declined");
        expect(rec.calls).toEqual([]);
    });

    it("stops cleanly, with manual steps, when NSSM is still not found after the install", async () => {
        const rec = recordingRunner();
        const r = await applyServicePlan(plan(winProbe([winget], pathWith)), {approve: true, runner: rec.runner, exists: () => false, fileOps: fakeFiles()});
        expect(r.status).toBe("blocked");
        expect(rec.calls).toHaveLength(1);
        expect(r.manualSteps!.join("\n")).toMatch(/nssm\.cc\/download/);
    });

    it("with no NSSM and no package manager: blocked, manual steps, nothing runs, never sc create", async () => {
        const p = plan(winProbe([]));
        expect(p.blocked?.reason).toMatch(/sc\.exe create. alone cannot run node/);
        expect(p.blocked?.manualSteps.join("\n")).toContain(SEED_NSSM_PATH);
        // a command PowerShell passes on whole: it drops the bare `--` of `npm run service -- install`
        expect(p.blocked?.manualSteps.join("\n")).toContain("as Administrator and run: npx zombiecoder service install");
        expect(p.blocked?.manualSteps.join("\n")).not.toContain("npm run service --");
        expect(p.steps).toEqual([]);
        const rec = recordingRunner();
        const r = await applyServicePlan(p, {approve: true, runner: rec.runner});
        expect(r.status).toBe("blocked");
        expect(rec.calls).toEqual([]);
    });
});

describe("a failing install step rolls back", () => {
    const sc = "C:\\Windows\\System32\\sc.exe";
    it("removes the half-installed service", async () => {
        const rec = recordingRunner((argv) => argv.includes("AppExit") || noService(argv));
        const r = await applyServicePlan(plan(), {approve: true, runner: rec.runner, fileOps: fakeFiles()});
        expect(r.status).toBe("failed");
        expect(r.rolledBack).toBe(true);
        expect(r.message).toMatch(/AppExit Default Restart failed: simulated failure/);
        expect(rec.calls[0]).toEqual([sc, "query", "ZombieCoderAI"]);
        expect(rec.calls[1]).toEqual([SEED_NSSM_PATH, "install", "ZombieCoderAI", WIN_NODE]);
        expect(rec.calls.slice(-2)).toEqual([[SEED_NSSM_PATH, "stop", "ZombieCoderAI"], [SEED_NSSM_PATH, "remove", "ZombieCoderAI", "confirm"]]);
        expect(rec.calls.some((c) => c[1] === "start")).toBe(false);
    });

    it("a re-install updates the earlier service in place and never removes it, even when a step fails", async () => {
        // sc query exits 0: the service is there (an earlier, working install).
        const ok = recordingRunner();
        expect((await applyServicePlan(plan(), {approve: true, runner: ok.runner, fileOps: fakeFiles()})).status).toBe("done");
        expect(ok.calls.some((c) => c[1] === "remove" || c[1] === "install")).toBe(false);
        expect(ok.calls[1]).toEqual([SEED_NSSM_PATH, "set", "ZombieCoderAI", "Application", WIN_NODE]);
        // Stopped only at the end, once every setting is in, then started with them.
        expect(ok.calls.slice(-2)).toEqual([[SEED_NSSM_PATH, "stop", "ZombieCoderAI"], [SEED_NSSM_PATH, "start", "ZombieCoderAI"]]);

        const bad = recordingRunner((argv) => argv.includes("AppExit"));
        const r = await applyServicePlan(plan(), {approve: true, runner: bad.runner, fileOps: fakeFiles()});
        expect(r.status).toBe("failed");
        expect(r.rolledBack).toBe(true);
        expect(bad.calls.some((c) => c[1] === "remove" || c[1] === "install" || c[1] === "stop")).toBe(false);
        expect(bad.calls.at(-1)).toEqual([SEED_NSSM_PATH, "start", "ZombieCoderAI"]);
    });

    it("refuses to touch this disk with another OS's plan unless file operations are injected", async () => {
        await expect(applyServicePlan(plan(), {approve: true, runner: recordingRunner().runner})).rejects.toThrow(/plan is for windows/);
    });
});

describe("uninstall, start, stop, restart, status", () => {
    const sc = "C:\\Windows\\System32\\sc.exe";
    it("use NSSM when present", () => {
        expect(runArgv(plan(undefined, "uninstall").steps)).toEqual([[SEED_NSSM_PATH, "stop", "ZombieCoderAI"], [SEED_NSSM_PATH, "remove", "ZombieCoderAI", "confirm"]]);
        expect(runArgv(plan(undefined, "start").steps)).toEqual([[SEED_NSSM_PATH, "start", "ZombieCoderAI"]]);
        expect(runArgv(plan(undefined, "stop").steps)).toEqual([[SEED_NSSM_PATH, "stop", "ZombieCoderAI"]]);
        expect(runArgv(plan(undefined, "restart").steps)).toEqual([[SEED_NSSM_PATH, "restart", "ZombieCoderAI"]]);
        expect(runArgv(plan(undefined, "status").steps)).toEqual([[SEED_NSSM_PATH, "status", "ZombieCoderAI"]]);
    });
    it("fall back to sc.exe without NSSM", () => {
        expect(runArgv(plan(winProbe([]), "uninstall").steps)).toEqual([[sc, "stop", "ZombieCoderAI"], [sc, "delete", "ZombieCoderAI"]]);
        expect(runArgv(plan(winProbe([]), "status").steps)).toEqual([[sc, "query", "ZombieCoderAI"]]);
    });

    /** `sc query` output with the given state, as sc.exe prints it. */
    const query = (state: string, code: number): string =>
        `\r\nSERVICE_NAME: ZombieCoderAI\r\n        TYPE               : 10  WIN32_OWN_PROCESS\r\n        STATE              : ${code}  ${state}\r\n`;

    function scRunner(states: Array<[string, number]>): {runner: CommandRunner; calls: string[][]} {
        const calls: string[][] = [];
        let polls = 0;
        const runner: CommandRunner = async (file, args) => {
            calls.push([file, ...args]);
            if (args[0] === "query") {
                const [state, code] = states[Math.min(polls++, states.length - 1)]!;
                return {exitCode: 0, stdout: query(state, code), stderr: "", failed: false};
            }
            // sc start on a service that is still stopping: ERROR_SERVICE_ALREADY_RUNNING (1056).
            if (args[0] === "start" && states[Math.min(polls, states.length) - 1]?.[0] !== "STOPPED")
                return {exitCode: 1056, stdout: "[SC] StartService FAILED 1056", stderr: "", failed: true};
            return {exitCode: 0, stdout: "", stderr: "", failed: false};
        };
        return {runner, calls};
    }

    it("restart without NSSM waits for STOPPED between sc stop and sc start", async () => {
        const p = plan(winProbe([]), "restart");
        expect(runArgv(p.steps)).toEqual([[sc, "stop", "ZombieCoderAI"], [sc, "query", "ZombieCoderAI"], [sc, "start", "ZombieCoderAI"]]);
        expect(p.steps[1]).toMatchObject({kind: "wait", timeoutMs: 30_000});
        const sc1 = scRunner([["STOP_PENDING", 3], ["STOP_PENDING", 3], ["STOPPED", 1]]);
        const sleeps: number[] = [];
        const r = await applyServicePlan(p, {approve: true, runner: sc1.runner, fileOps: fakeFiles(), sleep: async (ms) => void sleeps.push(ms)});
        expect(r.status, r.message).toBe("done");
        expect(sc1.calls.map((c) => c[1])).toEqual(["stop", "query", "query", "query", "start"]);
        expect(sleeps).toEqual([500, 500]);
    });

    it("restart without NSSM gives up after 30 s of STOP_PENDING and never runs sc start", async () => {
        const stuck = scRunner([["STOP_PENDING", 3]]);
        const r = await applyServicePlan(plan(winProbe([]), "restart"), {approve: true, runner: stuck.runner, fileOps: fakeFiles(), sleep: async () => undefined});
        expect(r.status).toBe("failed");
        expect(r.message).toMatch(/still not STOPPED after 30 s/);
        expect(stuck.calls.filter((c) => c[1] === "query")).toHaveLength(60);
        expect(stuck.calls.some((c) => c[1] === "start")).toBe(false);
    });
});

describe("documentation/operations.md", () => {
    it("lists exactly the commands the tool runs on Windows (reference install in C:\\ZombieCoder)", () => {
        const doc = fs.readFileSync(path.join(projectRoot, "documentation", "operations.md"), "utf8");
        const ref = loadConfig({home: "C:\\ZombieCoder", platform: "win32", env: {}});
        const p = buildServicePlan(ref, {probe: winProbe([SEED_NSSM_PATH]), nodePath: WIN_NODE, projectRoot: "C:\\ZombieCoder"});
        for (const argv of runArgv(p.steps)) expect(doc).toContain(formatCommand(argv[0]!, argv.slice(1), "win32"));
    });
});
