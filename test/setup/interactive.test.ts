import fs from "node:fs";
import path from "node:path";
import {afterAll, expect, test} from "vitest";
import {main} from "../../src/cli/setup.js";
import {silentLogger} from "../../src/log/logger.js";
import type {PromptFns} from "../../src/setup/approvals.js";
import {validateReport} from "../../src/setup/schemas.js";
import {addModel, makeHome, removeHome} from "../helpers/home.js";
import {hashTree, readReport, testEnv, testOverrides} from "./helpers.js";

const homes: string[] = [];
afterAll(async () => {
    for (const h of homes) await removeHome(h);
});

test("an interactive run shows what will change before each question and acts on the answers", async () => {
    const h = await makeHome("zc-setup-interactive-");
    homes.push(h);
    await addModel(h, "alpha/alpha-q8_0.gguf");
    fs.mkdirSync(path.join(h, "models", "zz-copy"), {recursive: true});
    fs.copyFileSync(path.join(h, "models", "alpha", "alpha-q8_0.gguf"), path.join(h, "models", "zz-copy", "alpha-q8_0.gguf"));
    fs.writeFileSync(path.join(h, "models", "junk.gguf"), "junk");
    fs.mkdirSync(path.join(h, "config"));
    fs.writeFileSync(path.join(h, "config", "provider_config.json"), `${JSON.stringify({server_port: 8007, auth: {api_key: "zombie-local-please-change"}}, null, 2)}\n`);

    let out = "";
    const questions: Array<{message: string; shownBefore: string}> = [];
    const prompts: PromptFns = {
        confirm: async ({message}) => {
            questions.push({message, shownBefore: out});
            if (message.startsWith("Start setup with this plan?")) return true;
            if (message.startsWith("Change the existing config")) return true;
            if (message.startsWith("Install the provider")) return false;
            if (message === "Delete models/junk.gguf?") return true;
            return false;
        },
        select: async ({message, choices}) => {
            questions.push({message, shownBefore: out});
            expect(choices.map((c) => c.value)).toEqual(["none", "each", "all"]);
            return "each";
        }
    };
    const code = await main(["--home", h, "--no-serve", "--skip", "endpoints,lazy-load"], {
        env: testEnv(), out: (t) => {
            out += t;
        }, err: (t) => {
            out += t;
        }, logger: silentLogger, configOverrides: testOverrides(), interactive: true, prompts
    });
    expect(code, out).toBe(0);

    const asked = questions.map((q) => q.message);
    // The plan first, asked once, before anything changed; then the questions of the steps.
    expect(asked[0]).toMatch(/^Start setup with this plan\?/);
    expect(questions[0]!.shownBefore).toContain("Setup plan for");
    expect(asked.filter((m) => m.startsWith("Start setup"))).toHaveLength(1);
    expect(asked[1]).toBe("Change the existing config/provider_config.json?");
    // The diff was on screen before the question, with the placeholder key going and the key file coming.
    expect(questions[1]!.shownBefore).toMatch(/^- +"api_key": "zombie-local-please-change"$/m);
    expect(questions[1]!.shownBefore).toMatch(/^\+ +"api_key_file": "config\/api_key\.txt"$/m);
    const serviceQ = questions.find((q) => q.message.startsWith("Install the provider"));
    if (serviceQ) expect(serviceQ.shownBefore).toContain("Steps:");
    const selectQ = questions.find((q) => q.message.startsWith("Delete which"))!;
    expect(selectQ.shownBefore).toMatch(/models\/junk\.gguf\s+4 B\s+invalid GGUF/);
    expect(asked.filter((m) => m.startsWith("Delete models/")).sort()).toEqual(["Delete models/junk.gguf?", "Delete models/zz-copy/alpha-q8_0.gguf?"]);

    expect(fs.existsSync(path.join(h, "models", "junk.gguf"))).toBe(false);
    expect(fs.existsSync(path.join(h, "models", "zz-copy", "alpha-q8_0.gguf"))).toBe(true);
    expect(fs.existsSync(path.join(h, "models", "alpha", "alpha-q8_0.gguf"))).toBe(true);
    const config = JSON.parse(fs.readFileSync(path.join(h, "config", "provider_config.json"), "utf8")) as {auth: Record<string, unknown>; server_port: number};
    expect(config).toMatchObject({server_port: 8007, auth: {api_key: null, api_key_file: "config/api_key.txt"}});
    expect(fs.readFileSync(path.join(h, "config", "api_key.txt"), "utf8").trim()).toMatch(/^zc-/);

    const report = readReport(h);
    validateReport("provider_setup_report.schema.json", report);
    expect(report.approvals.every((a) => a.source === "prompt")).toBe(true);
    expect(report.approvals.find((a) => a.id === "config:overwrite")?.answer).toBe("approve");
    expect(report.approvals.find((a) => a.id === "delete:models/junk.gguf")?.answer).toBe("approve");
    expect(report.approvals.find((a) => a.id === "delete:models/zz-copy/alpha-q8_0.gguf")?.answer).toBe("deny");
    expect(report.steps.find((s) => s.id === "config")?.status).toBe("done");
    expect(report.deleted.map((d) => d.path)).toEqual(["models/junk.gguf"]);
    expect(report.kept.map((k) => k.path)).toEqual(["models/zz-copy/alpha-q8_0.gguf"]);
});

test("an interactive run shows the plan and asks once before its first change; declining changes nothing", async () => {
    const h = await makeHome("zc-setup-decline-");
    homes.push(h);
    await addModel(h, "alpha/alpha-q8_0.gguf");
    const before = hashTree(h);
    let out = "";
    const asked: Array<{message: string; shownBefore: string}> = [];
    const prompts: PromptFns = {
        confirm: async ({message}) => {
            asked.push({message, shownBefore: out});
            return false;
        },
        select: async () => {
            throw new Error("no other question may come before the first change");
        }
    };
    const code = await main(["--home", h, "--no-serve"], {
        env: testEnv(), out: (t) => void (out += t), err: (t) => void (out += t), logger: silentLogger, configOverrides: testOverrides(), interactive: true, prompts
    });
    expect(code).toBe(0);
    expect(asked.map((q) => q.message)).toEqual([expect.stringMatching(/^Start setup with this plan\?/)]);
    // The plan was on screen, with each step's expected time, before the question.
    expect(asked[0]!.shownBefore).toContain("Setup plan for");
    expect(asked[0]!.shownBefore).toMatch(/1\. Directory and repo \[repo\] \(required, changes files; about \d+ s\)/);
    expect(asked[0]!.shownBefore).toMatch(/Expected time: about \d+ (s|min) in all/);
    expect(out).toContain("Setup not started; nothing was changed.");
    expect(hashTree(h)).toEqual(before);
    expect(fs.existsSync(path.join(h, ".git"))).toBe(false);
});
