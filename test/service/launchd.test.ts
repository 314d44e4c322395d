import {describe, expect, it} from "vitest";
import {loadConfig} from "../../src/config/load.js";
import {applyServicePlan} from "../../src/service/apply.js";
import {buildServicePlan} from "../../src/service/plan.js";
import type {SystemProbe} from "../../src/service/probe.js";
import type {ServiceAction} from "../../src/service/types.js";
import {memoryFiles, recordingRunner, runArgv} from "./helpers.js";

const probe: SystemProbe = {os: "macos", env: {PATH: "/usr/bin:/bin"}, exists: () => false, uid: 501, username: "jane", homeDir: "/Users/Jane Doe"};
const config = loadConfig({home: "/Users/Jane Doe/Zombie & <Coder>", env: {}, platform: "posix"});
const build = (action: ServiceAction = "install") =>
    buildServicePlan(config, {probe, action, nodePath: "/usr/local/bin/node", projectRoot: "/Users/Jane Doe/Zombie & <Coder>"});

/** Enough of XML to prove the plist is well formed: every tag closes in order, no bare & or <. */
function checkWellFormed(xml: string): void {
    const body = xml.replace(/<\?xml[^>]*\?>/, "").replace(/<!DOCTYPE[^>]*>/, "").replace(/<!--[\s\S]*?-->/g, "");
    const stack: string[] = [];
    const re = /<(\/?)([A-Za-z]+)[^>]*?(\/?)>|&(?!amp;|lt;|gt;|quot;|apos;)|<(?![A-Za-z/])/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(body))) {
        if (!m[2]) throw new Error(`bare markup character at ${m.index}: ${body.slice(m.index, m.index + 20)}`);
        if (m[3] === "/") continue;
        if (m[1] === "/") expect(stack.pop()).toBe(m[2]);
        else stack.push(m[2]);
    }
    expect(stack).toEqual([]);
}

describe("launchd plist", () => {
    const plan = build();
    const write = plan.steps.find((s) => s.kind === "write")!;
    const xml = write.kind === "write" ? write.content : "";

    it("goes to ~/Library/LaunchAgents with KeepAlive, RunAtLoad and logs in logs/", () => {
        expect(write.path).toBe("/Users/Jane Doe/Library/LaunchAgents/com.zombiecoder.zombiecoderai.plist");
        expect(xml).toMatch(/<key>KeepAlive<\/key>\s*<true\/>/);
        expect(xml).toMatch(/<key>RunAtLoad<\/key>\s*<true\/>/);
        expect(xml).toMatch(/<key>Label<\/key>\s*<string>com\.zombiecoder\.zombiecoderai<\/string>/);
        expect(xml).toContain("<string>/Users/Jane Doe/Zombie &amp; &lt;Coder&gt;/logs/provider-service.out.log</string>");
        expect(xml).toContain("<string>/Users/Jane Doe/Zombie &amp; &lt;Coder&gt;/logs/provider-service.err.log</string>");
        expect(xml).toMatch(/<key>ExitTimeOut<\/key>\s*<integer>15<\/integer>/);
    });

    it("passes each argument separately (no shell, spaces intact) and the environment", () => {
        const args = [...xml.matchAll(/<array>([\s\S]*?)<\/array>/g)][0]![1]!;
        expect([...args.matchAll(/<string>(.*?)<\/string>/g)].map((m) => m[1])).toEqual([
            "/usr/local/bin/node", "/Users/Jane Doe/Zombie &amp; &lt;Coder&gt;/dist/cli/start.js",
            "--home", "/Users/Jane Doe/Zombie &amp; &lt;Coder&gt;", "--config", "/Users/Jane Doe/Zombie &amp; &lt;Coder&gt;/config/provider_config.json"
        ]);
        expect(xml).toMatch(/<key>ZOMBIECODER_HOME<\/key>\s*<string>\/Users\/Jane Doe\/Zombie &amp; &lt;Coder&gt;<\/string>/);
        expect(xml).toMatch(/<key>ZOMBIECODER_CONFIG<\/key>/);
        expect(xml).toMatch(/<key>WorkingDirectory<\/key>\s*<string>\/Users\/Jane Doe\/Zombie &amp; &lt;Coder&gt;<\/string>/);
    });

    it("is well-formed XML", () => checkWellFormed(xml));

    it("loads with launchctl bootstrap in the user's GUI domain; uninstall boots it out and removes the plist", async () => {
        expect(runArgv(plan.steps)).toEqual([
            ["launchctl", "bootout", "gui/501/com.zombiecoder.zombiecoderai"],
            ["launchctl", "bootstrap", "gui/501", write.path],
            ["launchctl", "enable", "gui/501/com.zombiecoder.zombiecoderai"]
        ]);
        expect(runArgv(build("stop").steps)).toEqual([["launchctl", "bootout", "gui/501/com.zombiecoder.zombiecoderai"]]);
        expect(runArgv(build("restart").steps)).toEqual([["launchctl", "kickstart", "-k", "gui/501/com.zombiecoder.zombiecoderai"]]);
        const un = build("uninstall");
        expect(un.steps.map((s) => s.kind)).toEqual(["run", "remove", "remove"]);
        const files = memoryFiles();
        const rec = recordingRunner();
        expect((await applyServicePlan(un, {approve: true, runner: rec.runner, fileOps: files})).status).toBe("done");
        expect(files.ops).toEqual([`remove ${write.path}`, `remove ${write.path}.zc-backup`]);
    });

    it("a failed re-install puts the earlier plist back and loads it again", async () => {
        const earlier = "<plist>the earlier, working agent</plist>\n";
        const files = memoryFiles({[write.path]: earlier});
        const rec = recordingRunner((argv) => argv[1] === "enable" && !files.files.get(write.path)!.startsWith("<plist>the earlier"));
        const r = await applyServicePlan(build(), {approve: true, runner: rec.runner, fileOps: files});
        expect(r.status).toBe("failed");
        expect(r.rolledBack).toBe(true);
        expect(files.files.get(write.path)).toBe(earlier);
        expect(files.files.has(`${write.path}.zc-backup`)).toBe(false);
        const service = "gui/501/com.zombiecoder.zombiecoderai";
        expect(rec.calls.slice(-3)).toEqual([["launchctl", "bootout", service], ["launchctl", "bootstrap", "gui/501", write.path], ["launchctl", "enable", service]]);

        // Without an earlier plist, the rollback removes the new one and loads nothing.
        const first = memoryFiles();
        const rec2 = recordingRunner((argv) => argv[1] === "enable");
        expect((await applyServicePlan(build(), {approve: true, runner: rec2.runner, fileOps: first})).status).toBe("failed");
        expect(first.files.has(write.path)).toBe(false);
        expect(rec2.calls.at(-1)).toEqual(["launchctl", "bootout", service]);
    });

    it("names the watchdog agent separately", () => {
        const w = buildServicePlan(config, {probe, component: "watchdog", nodePath: "/usr/local/bin/node", projectRoot: "/x"});
        expect(w.serviceName).toBe("com.zombiecoder.zombiecoderai-watchdog");
        const c = w.steps.find((s) => s.kind === "write");
        expect(c?.kind === "write" && c.content).toContain("<string>/x/dist/cli/watchdog.js</string>");
    });
});
