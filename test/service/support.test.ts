/** Whether this machine has the service manager a plan needs: checked before setup asks service:install. */
import {describe, expect, it} from "vitest";
import {loadConfig} from "../../src/config/load.js";
import {buildServicePlan} from "../../src/service/plan.js";
import type {SystemProbe} from "../../src/service/probe.js";
import {serviceSupport} from "../../src/service/support.js";
import {linuxProbe, recordingRunner} from "./helpers.js";

const config = loadConfig({home: "/srv/zombie", env: {}});

describe("service manager support", () => {
    it("systemd: needs systemctl on PATH and systemd as the init system", async () => {
        const rec = recordingRunner();
        const noCtl = linuxProbe("/home/jane");
        expect(await serviceSupport(buildServicePlan(config, {probe: noCtl}), noCtl, rec.runner)).toMatch(/systemctl was not found on PATH/);
        const notBooted = linuxProbe("/home/jane", {files: ["/usr/bin/systemctl"]});
        expect(await serviceSupport(buildServicePlan(config, {probe: notBooted}), notBooted, rec.runner)).toMatch(/not running as the init system .*\/run\/systemd\/system/);
        expect(rec.calls).toEqual([]);
    });

    it("a user unit needs a user manager: systemctl --user show-environment must work", async () => {
        const probe = linuxProbe("/home/jane", {files: ["/usr/bin/systemctl", "/run/systemd/system"], env: {XDG_RUNTIME_DIR: "/run/user/1000"}});
        const plan = buildServicePlan(config, {probe});
        expect(plan.scope).toBe("user");
        const noBus: ReturnType<typeof recordingRunner>["runner"] = async () => ({exitCode: 1, stdout: "", stderr: "Failed to connect to bus: No medium found\n", failed: true});
        expect(await serviceSupport(plan, probe, noBus)).toMatch(/no systemd user manager .*Failed to connect to bus: No medium found.*sudo npm run service -- install/);
        const ok = recordingRunner();
        expect(await serviceSupport(plan, probe, ok.runner)).toBeNull();
        expect(ok.calls).toEqual([["systemctl", "--user", "show-environment"]]);
        // A system unit has no user manager to ask.
        const root = linuxProbe("/root", {uid: 0, files: ["/usr/bin/systemctl", "/run/systemd/system"]});
        const sys = recordingRunner();
        expect(await serviceSupport(buildServicePlan(config, {probe: root}), root, sys.runner)).toBeNull();
        expect(sys.calls).toEqual([]);
    });

    it("launchd: needs launchctl", async () => {
        const mac = (files: string[]): SystemProbe => ({os: "macos", env: {PATH: "/usr/bin:/bin"}, exists: (f) => files.includes(f), uid: 501, username: "jane", homeDir: "/Users/jane"});
        const cfg = loadConfig({home: "/Users/jane/zc", env: {}, platform: "posix"});
        expect(await serviceSupport(buildServicePlan(cfg, {probe: mac([])}), mac([]))).toMatch(/launchctl was not found/);
        expect(await serviceSupport(buildServicePlan(cfg, {probe: mac(["/bin/launchctl"])}), mac(["/bin/launchctl"]))).toBeNull();
    });
});
