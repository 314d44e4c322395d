import fs from "node:fs";
import path from "node:path";
import {execa} from "execa";
import {afterAll, describe, expect, it} from "vitest";
import {loadConfig, projectRoot} from "../../src/config/load.js";
import {silentLogger} from "../../src/log/logger.js";
import {applyServicePlan} from "../../src/service/apply.js";
import {buildServicePlan, describePlan} from "../../src/service/plan.js";
import {findOnPath, defaultProbe} from "../../src/service/probe.js";
import {renderSystemdUnit} from "../../src/service/systemd.js";
import {buildTarget} from "../../src/service/target.js";
import {watchdogOptionsFromConfig} from "../../src/watchdog/options.js";
import {linuxProbe, recordingRunner, runArgv, tempDir} from "./helpers.js";

const dirs: string[] = [];
afterAll(() => {
    for (const d of dirs) fs.rmSync(d, {recursive: true, force: true});
});

function setup(homeName = "svc home") {
    const root = tempDir(homeName);
    dirs.push(root);
    const userHome = path.join(root, "user home");
    fs.mkdirSync(userHome);
    const config = loadConfig({home: path.join(root, "provider home"), env: {}});
    return {root, userHome, config};
}

const systemdAnalyze = findOnPath("systemd-analyze", defaultProbe());

async function verify(unitFile: string): Promise<{exitCode: number | undefined; stderr: string}> {
    const r = await execa("systemd-analyze", ["verify", unitFile], {reject: false, timeout: 20_000});
    return {exitCode: r.exitCode, stderr: r.stderr};
}

describe("systemd unit", () => {
    it("has restart, start limit, working directory, environment, stop timeout and kill mode", () => {
        const {userHome, config} = setup();
        const plan = buildServicePlan(config, {probe: linuxProbe(userHome), nodePath: "/opt/node 20/bin/node", projectRoot: "/srv/zombie coder"});
        expect(plan.scope).toBe("user");
        const write = plan.steps.find((s) => s.kind === "write")!;
        expect(write.path).toBe(path.join(userHome, ".config", "systemd", "user", "zombiecoderai.service"));
        const unit = write.kind === "write" ? write.content : "";
        const lines = unit.split("\n");
        for (const expected of [
            "Restart=always",
            "RestartSec=5",
            "StartLimitBurst=10",
            "StartLimitIntervalSec=300",
            "KillMode=mixed",
            `TimeoutStopSec=${config.shutdown_grace_seconds + 5}`,
            "WorkingDirectory=/srv/zombie coder",
            `Environment="ZOMBIECODER_HOME=${config.home}"`,
            `Environment="ZOMBIECODER_CONFIG=${config.configPath}"`,
            `ExecStart="/opt/node 20/bin/node" "/srv/zombie coder/dist/cli/start.js" --home "${config.home}" --config "${config.configPath}"`,
            `StandardOutput=append:${config.paths.logs}/provider-service.out.log`,
            "WantedBy=default.target"
        ]) expect(lines).toContain(expected);
        // StartLimit* belong to [Unit] in current systemd; in [Service] they are ignored with a warning.
        expect(unit.indexOf("StartLimitBurst")).toBeLessThan(unit.indexOf("[Service]"));
        expect(lines.some((l) => l.startsWith("User="))).toBe(false);
    });

    it("user scope enables lingering; system scope goes to /etc/systemd/system, runs as the sudo caller", () => {
        const {userHome, config} = setup();
        const user = buildServicePlan(config, {probe: linuxProbe(userHome, {files: ["/usr/bin/systemd-analyze"]})});
        const unitPath = path.join(userHome, ".config", "systemd", "user", "zombiecoderai.service");
        expect(runArgv(user.steps)).toEqual([
            ["systemd-analyze", "verify", unitPath],
            ["systemctl", "--user", "daemon-reload"],
            ["systemctl", "--user", "enable", "zombiecoderai.service"],
            ["systemctl", "--user", "restart", "zombiecoderai.service"],
            ["loginctl", "enable-linger", "jane"]
        ]);
        const sys = buildServicePlan(config, {probe: linuxProbe(userHome, {uid: 0, env: {SUDO_USER: "jane"}})});
        expect(sys.scope).toBe("system");
        const write = sys.steps.find((s) => s.kind === "write")!;
        expect(write.path).toBe("/etc/systemd/system/zombiecoderai.service");
        const content = write.kind === "write" ? write.content : "";
        expect(content).toContain("\nUser=jane\n");
        expect(content).toContain("WantedBy=multi-user.target");
        expect(content).toContain("After=network.target");
        expect(runArgv(sys.steps)).toEqual([
            ["systemctl", "daemon-reload"], ["systemctl", "enable", "zombiecoderai.service"], ["systemctl", "restart", "zombiecoderai.service"]
        ]);
        // Scope from the config or the flag wins over "auto".
        expect(buildServicePlan(config, {probe: linuxProbe(userHome, {uid: 0}), scope: "user"}).scope).toBe("user");
        expect(buildServicePlan(config, {probe: linuxProbe(userHome), scope: "system"}).notes.join(" ")).toMatch(/needs root/);
    });

    it("the system-wide watchdog runs as root, in service mode, so that it may restart the system unit", async () => {
        const {userHome, config} = setup();
        const probe = linuxProbe(userHome, {uid: 0, env: {SUDO_USER: "jane"}, files: ["/etc/systemd/system/zombiecoderai.service"]});
        const wd = buildServicePlan(config, {probe, component: "watchdog"});
        expect(wd.scope).toBe("system");
        const write = wd.steps.find((s) => s.kind === "write")!;
        expect(write.path).toBe("/etc/systemd/system/zombiecoderai-watchdog.service");
        const unit = write.kind === "write" ? write.content : "";
        // As jane, `systemctl restart zombiecoderai.service` (a system unit) is refused by polkit.
        expect(unit.split("\n").some((l) => l.startsWith("User="))).toBe(false);
        expect(unit).toMatch(/^ExecStart=.*dist\/cli\/watchdog\.js .* --mode service$/m);
        expect(unit).toContain("After=network.target zombiecoderai.service");
        expect(wd.notes.join(" ")).toMatch(/runs as root/);
        // The provider's system unit still runs as the sudo caller.
        const provider = buildServicePlan(config, {probe});
        const pw = provider.steps.find((s) => s.kind === "write")!;
        expect(pw.kind === "write" && pw.content).toContain("\nUser=jane\n");
        // The user-scope watchdog is unchanged: auto mode, no --mode.
        const userWd = buildServicePlan(config, {probe: linuxProbe(userHome), component: "watchdog"}).steps.find((s) => s.kind === "write")!;
        expect(userWd.kind === "write" && userWd.content).not.toContain("--mode");

        // That root watchdog restarts the system unit with a plain systemctl (no --user).
        const rec = recordingRunner();
        const opts = await watchdogOptionsFromConfig(config, {mode: "service", runner: rec.runner, probe, logger: silentLogger});
        await opts.restartService!();
        expect(rec.calls).toEqual([["systemctl", "restart", "zombiecoderai.service"]]);
    });

    it("escapes % and $ so systemd does not expand them", () => {
        const {userHome, config} = setup();
        const target = buildTarget({...config, home: "/data/100% $HOME"}, "linux", linuxProbe(userHome), {component: "provider"});
        const unit = renderSystemdUnit(target, {scope: "user"});
        expect(unit).toContain("--home \"/data/100%% $$HOME\"");
        expect(unit).toContain("Environment=\"ZOMBIECODER_HOME=/data/100%% $HOME\"");
    });

    it.skipIf(!systemdAnalyze)("passes systemd-analyze verify, with spaces, % and quotes in paths (user and system scope, provider and watchdog)", async () => {
        const {root, userHome} = setup("verify me");
        const home = path.join(root, "home with 'quotes' & 50%");
        fs.mkdirSync(home);
        const config = loadConfig({home, env: {}});
        for (const [scope, component] of [["user", "provider"], ["system", "provider"], ["user", "watchdog"]] as const) {
            const target = buildTarget(config, "linux", linuxProbe(userHome), {component, nodePath: process.execPath, projectRoot});
            const file = path.join(root, `unit dir ${scope}`, component === "provider" ? "zombiecoderai.service" : "zombiecoderai-watchdog.service");
            fs.mkdirSync(path.dirname(file), {recursive: true});
            fs.writeFileSync(file, renderSystemdUnit(target, {scope, user: scope === "system" ? "root" : undefined}));
            const r = await verify(file);
            expect(r.stderr.split("\n").filter((l) => l.includes(path.basename(file)))).toEqual([]);
            expect(r.exitCode).toBe(0);
        }
    });
});

describe("applying a systemd plan (commands recorded, files in a temp home)", () => {
    it("writes the unit, runs systemctl in order, and uninstall removes it", async () => {
        const {userHome, config} = setup();
        const probe = linuxProbe(userHome);
        const rec = recordingRunner();
        const install = await applyServicePlan(buildServicePlan(config, {probe}), {approve: true, runner: rec.runner, logger: silentLogger});
        expect(install.status).toBe("done");
        const unitPath = path.join(userHome, ".config", "systemd", "user", "zombiecoderai.service");
        expect(fs.existsSync(unitPath)).toBe(true);
        expect((fs.statSync(unitPath).mode & 0o777).toString(8)).toBe("644");
        expect(fs.existsSync(config.paths.logs)).toBe(true);
        expect(rec.calls.map((c) => c.slice(0, 3).join(" "))).toEqual([
            "systemctl --user daemon-reload", "systemctl --user enable", "systemctl --user restart", "loginctl enable-linger jane"
        ]);

        rec.calls.length = 0;
        const un = await applyServicePlan(buildServicePlan(config, {probe, action: "uninstall"}), {approve: true, runner: rec.runner, logger: silentLogger});
        expect(un.status).toBe("done");
        expect(fs.existsSync(unitPath)).toBe(false);
        expect(rec.calls).toEqual([
            ["systemctl", "--user", "disable", "--now", "zombiecoderai.service"],
            ["systemctl", "--user", "daemon-reload"],
            ["systemctl", "--user", "reset-failed", "zombiecoderai.service"]
        ]);
    });

    it("rolls back (disables and deletes the unit) when enabling fails", async () => {
        const {userHome, config} = setup();
        const rec = recordingRunner((argv) => argv.includes("enable"));
        const r = await applyServicePlan(buildServicePlan(config, {probe: linuxProbe(userHome)}), {approve: true, runner: rec.runner, logger: silentLogger});
        expect(r.status).toBe("failed");
        expect(r.rolledBack).toBe(true);
        expect(fs.existsSync(path.join(userHome, ".config", "systemd", "user", "zombiecoderai.service"))).toBe(false);
        expect(rec.calls.at(-2)).toEqual(["systemctl", "--user", "disable", "--now", "zombiecoderai.service"]);
    });

    it("a failed re-install puts the earlier unit back and starts it again, instead of removing it", async () => {
        const {userHome, config} = setup();
        const probe = linuxProbe(userHome);
        const unitPath = path.join(userHome, ".config", "systemd", "user", "zombiecoderai.service");
        fs.mkdirSync(path.dirname(unitPath), {recursive: true});
        const earlier = "[Unit]\nDescription=the earlier, working install\n";
        fs.writeFileSync(unitPath, earlier, {mode: 0o644});

        const rec = recordingRunner((argv) => argv.includes("restart"));
        const r = await applyServicePlan(buildServicePlan(config, {probe}), {approve: true, runner: rec.runner, logger: silentLogger});
        expect(r.status).toBe("failed");
        expect(r.rolledBack).toBe(true);
        expect(fs.readFileSync(unitPath, "utf8")).toBe(earlier);
        expect(fs.existsSync(`${unitPath}.zc-backup`)).toBe(false);
        const rollback = rec.calls.slice(rec.calls.findIndex((c) => c.includes("restart")) + 1);
        expect(rollback).toEqual([["systemctl", "--user", "daemon-reload"], ["systemctl", "--user", "restart", "zombiecoderai.service"]]);
        expect(rec.calls.some((c) => c.includes("disable"))).toBe(false);

        // A re-install that works replaces the unit and leaves no copy behind.
        const ok = await applyServicePlan(buildServicePlan(config, {probe}), {approve: true, runner: recordingRunner().runner, logger: silentLogger});
        expect(ok.status).toBe("done");
        expect(fs.readFileSync(unitPath, "utf8")).toContain("Restart=always");
        expect(fs.existsSync(`${unitPath}.zc-backup`)).toBe(false);
    });

    it("a stale copy from an interrupted install is never restored over a first install", async () => {
        const {userHome, config} = setup();
        const unitPath = path.join(userHome, ".config", "systemd", "user", "zombiecoderai.service");
        fs.mkdirSync(path.dirname(unitPath), {recursive: true});
        fs.writeFileSync(`${unitPath}.zc-backup`, "stale\n");
        const rec = recordingRunner((argv) => argv.includes("enable"));
        const r = await applyServicePlan(buildServicePlan(config, {probe: linuxProbe(userHome)}), {approve: true, runner: rec.runner, logger: silentLogger});
        expect(r.status).toBe("failed");
        expect(fs.existsSync(unitPath)).toBe(false);
        expect(fs.existsSync(`${unitPath}.zc-backup`)).toBe(false);
    });

    it("a declined plan changes nothing", async () => {
        const {root, userHome, config} = setup();
        const rec = recordingRunner();
        const before = fs.readdirSync(root, {recursive: true});
        const r = await applyServicePlan(buildServicePlan(config, {probe: linuxProbe(userHome)}), {approve: () => false, runner: rec.runner});
        expect(r.status).toBe("declined");
        expect(rec.calls).toEqual([]);
        expect(fs.readdirSync(root, {recursive: true})).toEqual(before);
    });

    it("describes the plan with shell-quoted commands and the unit text", () => {
        const {userHome, config} = setup();
        const text = describePlan(buildServicePlan(config, {probe: linuxProbe(userHome)}));
        expect(text).toContain("$ systemctl --user enable zombiecoderai.service");
        expect(text).toContain("| Restart=always");
        expect(text).toMatch(/write .*user home\/\.config\/systemd\/user\/zombiecoderai\.service \(mode 644\)/);
    });
});
