/**
 * The editors step against a temporary HOME with the user's own editor settings already there: only approved files
 * change, each merge keeps the user's settings, each previous file is backed up next to it, a second run changes
 * nothing, and --restore-editors puts every file back byte for byte.
 */
import fs from "node:fs";
import path from "node:path";
import {afterAll, describe, expect, test} from "vitest";
import {main} from "../../src/cli/setup.js";
import {silentLogger} from "../../src/log/logger.js";
import type {SystemProbe} from "../../src/service/probe.js";
import {editorManifestPath, readManifest, restoreEditorFiles} from "../../src/setup/editors/backup.js";
import {detectEditor, EDITOR_IDS, editorConfigFile} from "../../src/setup/editors/locations.js";
import {editorsStep, type EditorOutcomeRow} from "../../src/setup/steps/editors.js";
import {modelsStep} from "../../src/setup/steps/models.js";
import {addModel, makeHome, removeHome, TEST_KEY} from "../helpers/home.js";
import {winProbe} from "../service/helpers.js";
import {stepContext, testEnv, testOverrides} from "./helpers.js";

const homes: string[] = [];
afterAll(async () => {
    for (const h of homes) await removeHome(h);
});

async function dir(prefix: string): Promise<string> {
    const h = await makeHome(prefix);
    homes.push(h);
    return h;
}

const ORIGINALS: Record<string, string> = {
    ".continue/config.yaml": "# my Continue config\nname: Mine\nversion: 1.0.0\nschema: v1\nmodels:\n  - name: GPT\n    provider: openai\n    model: gpt-4o # cloud\n",
    ".config/zed/settings.json": "// Zed\n{\n  \"theme\": \"One Dark\", // keep me\n  \"vim_mode\": true,\n}\n",
    ".codex/config.toml": "# Codex\nmodel = \"gpt-5\"\n\n[profiles.fast]\nmodel = \"gpt-5-mini\"\n",
    ".claude/settings.json": "{\n  \"permissions\": {\"allow\": [\"Bash(ls)\"]},\n  \"env\": {\"MY_VAR\": \"1\"}\n}\n"
};

function write(home: string, rel: string, text: string): string {
    const f = path.join(home, ...rel.split("/"));
    fs.mkdirSync(path.dirname(f), {recursive: true});
    fs.writeFileSync(f, text);
    return f;
}

describe("the editors step", () => {
    test("writes only approved files, merged, with backups; a second run asks nothing; --restore-editors puts every byte back", async () => {
        const provider = await dir("zc-editors-provider-");
        const user = await dir("zc-editors-user-");
        for (const [rel, text] of Object.entries(ORIGINALS)) write(user, rel, text);
        // aider is found on PATH only: its settings file does not exist yet.
        const bin = path.join(user, "bin");
        write(user, "bin/aider", "#!/bin/sh\n");
        fs.chmodSync(path.join(bin, "aider"), 0o755);
        await addModel(provider, "small/small-q8_0.gguf", {seed: 1});
        await addModel(provider, "large/large-q8_0.gguf", {seed: 2, embeddingLength: 128});
        const env = {...testEnv(), HOME: user, XDG_CONFIG_HOME: path.join(user, ".config"), PATH: bin};
        const overrides = {auth: {enable_api_key: true, api_key: TEST_KEY, api_key_file: null, allow_loopback_without_key: false, cors_origins: []}};
        const ctx = () => stepContext(provider, "editors", {env, overrides});
        await modelsStep.apply(stepContext(provider, "models", {env, overrides}), {enabled: []}, {});

        const prep = await editorsStep.prepare(ctx());
        expect(prep.skip).toBeUndefined();
        expect(prep.approvals.map((a) => a.id).sort()).toEqual(["editors:aider", "editors:claude-code", "editors:codex", "editors:continue", "editors:zed"]);
        for (const a of prep.approvals) {
            expect(a.kind).toBe("editor");
            // The exact diff is shown, the key never.
            expect(a.details).not.toContain(TEST_KEY);
            expect(a.details).toMatch(/^[+-] /m);
        }
        const continueQ = prep.approvals.find((a) => a.id === "editors:continue")!;
        expect(continueQ.details).toContain("+   - name: ZombieCoder large");
        expect(continueQ.details).toContain("zc-backup-<time>");
        expect(JSON.stringify(prep.data)).not.toContain(TEST_KEY);

        const decisions = {"editors:continue": "approve", "editors:codex": "approve", "editors:claude-code": "approve", "editors:aider": "approve", "editors:zed": "deny"} as const;
        const done = await editorsStep.apply(ctx(), prep.data, decisions);
        expect(done.status).toBe("done");
        const rows = (done.data as {editors: EditorOutcomeRow[]}).editors;
        expect(Object.fromEntries(rows.map((r) => [r.id, r.result]))).toEqual({"continue": "written", "zed": "denied", "codex": "written", "claude-code": "written", "aider": "written"});

        // Denied: untouched, and no backup.
        expect(fs.readFileSync(path.join(user, ".config/zed/settings.json"), "utf8")).toBe(ORIGINALS[".config/zed/settings.json"]);
        expect(fs.readdirSync(path.join(user, ".config/zed"))).toEqual(["settings.json"]);
        // Approved: merged (the user's lines still there), the original next to it byte for byte.
        for (const rel of [".continue/config.yaml", ".codex/config.toml", ".claude/settings.json"]) {
            const f = path.join(user, rel);
            const row = rows.find((r) => r.file === f)!;
            expect(row.backup).toMatch(new RegExp(`^${f.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.zc-backup-\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\d-\\d\\dZ$`));
            expect(fs.readFileSync(row.backup!, "utf8")).toBe(ORIGINALS[rel]);
            expect(fs.readFileSync(f, "utf8")).not.toBe(ORIGINALS[rel]);
        }
        expect(fs.readFileSync(path.join(user, ".continue/config.yaml"), "utf8")).toContain("    model: gpt-4o # cloud\n");
        expect(fs.readFileSync(path.join(user, ".codex/config.toml"), "utf8").startsWith(ORIGINALS[".codex/config.toml"]!)).toBe(true);
        expect(fs.readFileSync(path.join(user, ".claude/settings.json"), "utf8")).toContain(`"ANTHROPIC_AUTH_TOKEN": "${TEST_KEY}"`);
        const aider = path.join(user, ".aider.conf.yml");
        expect(fs.readFileSync(aider, "utf8")).toContain(`OLLAMA_API_KEY=${TEST_KEY}`);
        expect(fs.statSync(aider).mode & 0o077).toBe(0);
        const manifest = editorManifestPath(path.join(provider, "logs"));
        expect(readManifest(manifest).changes.map((c) => [c.editor, c.backup != null])).toEqual([["continue", true], ["codex", true], ["claude-code", true], ["aider", false]]);

        // Run again: what is set up is reported unchanged and not asked; the denied one is asked again.
        const again = await editorsStep.prepare(ctx());
        expect(again.approvals.map((a) => a.id)).toEqual(["editors:zed"]);
        expect(again.summary.filter((l) => l.includes("already uses this provider"))).toHaveLength(4);

        // The user edits one file afterwards: restoring keeps that edit aside, then puts the original back.
        const claude = path.join(user, ".claude/settings.json");
        fs.appendFileSync(claude, "\n");
        const code = await main(["--home", provider, "--restore-editors"], {env, out: () => undefined, err: () => undefined, logger: silentLogger, configOverrides: testOverrides(), interactive: false});
        expect(code).toBe(0);
        for (const [rel, text] of Object.entries(ORIGINALS)) expect(fs.readFileSync(path.join(user, rel), "utf8"), rel).toBe(text);
        expect(fs.existsSync(aider)).toBe(false);
        const leftovers = fs.readdirSync(path.join(user, ".claude"));
        expect(leftovers.filter((f) => f.includes(".zc-backup-"))).toEqual([]);
        expect(leftovers.filter((f) => f.includes(".zc-replaced-"))).toHaveLength(1);
        expect(readManifest(manifest).changes).toEqual([]);
        expect(restoreEditorFiles(manifest).lines[0]).toMatch(/^Nothing to restore/);
    });

    test("two runs that both change a file: restoring goes back to the file before the first", async () => {
        const provider = await dir("zc-editors-twice-");
        const user = await dir("zc-editors-twice-user-");
        const file = write(user, ".continue/config.yaml", ORIGINALS[".continue/config.yaml"]!);
        await addModel(provider, "one/one-q8_0.gguf", {seed: 3});
        const env = {...testEnv(), HOME: user, PATH: path.join(user, "nobin")};
        const overrides = {auth: {enable_api_key: true, api_key: TEST_KEY, api_key_file: null, allow_loopback_without_key: false, cors_origins: []}};
        await modelsStep.apply(stepContext(provider, "models", {env, overrides}), {enabled: []}, {});
        const run = async (o: typeof overrides & {server_port?: number}) => {
            const c = stepContext(provider, "editors", {env, overrides: o});
            const p = await editorsStep.prepare(c);
            return editorsStep.apply(c, p.data, {"editors:continue": "approve"});
        };
        await run(overrides);
        const first = fs.readFileSync(file, "utf8");
        // The port changed: the second run rewrites the same entry, backing up the first run's version.
        await run({...overrides, server_port: 9111});
        expect(fs.readFileSync(file, "utf8")).toContain("apiBase: http://127.0.0.1:9111");
        expect(fs.readFileSync(file, "utf8")).not.toBe(first);
        const r = restoreEditorFiles(editorManifestPath(path.join(provider, "logs")));
        expect(r.problems).toEqual([]);
        expect(r.restored).toEqual([file, file]);
        expect(fs.readFileSync(file, "utf8")).toBe(ORIGINALS[".continue/config.yaml"]);
        expect(fs.readdirSync(path.dirname(file))).toEqual(["config.yaml"]);
    });

    test("without any editor installed the step is skipped, with where it looked", async () => {
        const provider = await dir("zc-editors-none-");
        const user = await dir("zc-editors-none-user-");
        const p = await editorsStep.prepare(stepContext(provider, "editors", {env: {...testEnv(), HOME: user, PATH: path.join(user, "nobin")}}));
        expect(p.skip).toBe("no editor or agent is installed for this user");
        expect(p.summary[0]).toContain(path.join(user, ".continue", "config.yaml"));
    });
});

describe("editor settings on Windows", () => {
    test("paths are Windows paths, from USERPROFILE and APPDATA, and installed programs are found with PATHEXT", () => {
        const probe: SystemProbe = winProbe(["C:\\Users\\Jane Doe\\.codex", "C:\\Users\\Jane Doe\\AppData\\Local\\Programs\\claude\\claude.exe"], {
            APPDATA: "C:\\Users\\Jane Doe\\AppData\\Roaming",
            Path: "C:\\Windows\\System32;C:\\Users\\Jane Doe\\AppData\\Local\\Programs\\claude"
        });
        expect(Object.fromEntries(EDITOR_IDS.map((id) => [id, editorConfigFile(id, probe)]))).toEqual({
            "continue": "C:\\Users\\Jane Doe\\.continue\\config.yaml",
            "zed": "C:\\Users\\Jane Doe\\AppData\\Roaming\\Zed\\settings.json",
            "codex": "C:\\Users\\Jane Doe\\.codex\\config.toml",
            "claude-code": "C:\\Users\\Jane Doe\\.claude\\settings.json",
            "aider": "C:\\Users\\Jane Doe\\.aider.conf.yml"
        });
        expect(detectEditor("codex", probe)).toBe("C:\\Users\\Jane Doe\\.codex exists");
        expect(detectEditor("claude-code", probe)).toBe("C:\\Users\\Jane Doe\\AppData\\Local\\Programs\\claude\\claude.exe is on PATH");
        expect(detectEditor("zed", probe)).toBeNull();
        expect(editorConfigFile("codex", winProbe([], {CODEX_HOME: "D:\\codex"}))).toBe("D:\\codex\\config.toml");
    });

    test("macOS and Linux: Zed under ~/.config (XDG_CONFIG_HOME on Linux)", () => {
        const mac: SystemProbe = {os: "macos", env: {HOME: "/Users/jane"}, exists: () => false, uid: 501, username: "jane", homeDir: "/Users/jane"};
        expect(editorConfigFile("zed", mac)).toBe("/Users/jane/.config/zed/settings.json");
        const linux: SystemProbe = {...mac, os: "linux", env: {HOME: "/home/jane", XDG_CONFIG_HOME: "/home/jane/.xdg"}, homeDir: "/home/jane"};
        expect(editorConfigFile("zed", linux)).toBe("/home/jane/.xdg/zed/settings.json");
        expect(editorConfigFile("claude-code", {...linux, env: {...linux.env, CLAUDE_CONFIG_DIR: "/etc/claude"}})).toBe("/etc/claude/settings.json");
    });
});
