import fs from "node:fs";
import path from "node:path";
import {confirm, select} from "@inquirer/prompts";
import {render} from "@inquirer/testing";
import {describe, expect, test} from "vitest";
import {projectRoot} from "../../src/config/load.js";
import {
    decideApprovals, decideFailure, deleteApprovalId, loadAnswersFile, normalizeApprovalId, parseAnswers, type ApprovalPolicy, type PromptFns
} from "../../src/setup/approvals.js";
import type {ApprovalRequest} from "../../src/setup/records.js";

const del = (p: string): ApprovalRequest => ({id: `delete:${p}`, kind: "delete", title: `Delete ${p}`, details: `${p}: a duplicate`, path: p, size_bytes: 1024, reason: "duplicate"});
const service: ApprovalRequest = {id: "service:install", kind: "service", title: "Install the service", details: "write a unit, enable it"};
const overwrite: ApprovalRequest = {id: "config:overwrite", kind: "config", title: "Change the config", details: "- a\n+ b"};

function policy(p: Partial<ApprovalPolicy>): ApprovalPolicy & {shown: string[]} {
    const shown: string[] = [];
    const noPrompt: PromptFns = {
        confirm: async () => {
            throw new Error("no prompt expected");
        },
        select: async () => {
            throw new Error("no prompt expected");
        }
    };
    return {interactive: false, yes: false, answers: null, prompts: noPrompt, show: (t) => shown.push(t), ...p, shown};
}

describe("answers files", () => {
    test("approval ids and failure answers parse; spellings of yes and no are accepted", () => {
        const a = parseAnswers([
            "delete:models/a.gguf: approve", "delete:all: no", "service:install: true", "config:overwrite: Yes", "git:identity: denied",
            "failure:tests: Retry"
        ].join("\n"), "a.yaml");
        expect(a.approvals).toEqual({"delete:models/a.gguf": "approve", "delete:all": "deny", "service:install": "approve", "config:overwrite": "approve", "git:identity": "deny"});
        expect(a.failures).toEqual({tests: "retry"});
        expect(parseAnswers("", "empty.yaml").approvals).toEqual({});
    });

    test("a misspelt id or answer is an error naming the file and the key", () => {
        expect(() => parseAnswers("servce:install: approve\n", "a.yaml")).toThrow(/a\.yaml: invalid answers file:\n {2}"servce:install" is not a known approval id/);
        expect(() => parseAnswers("service:install: maybe\n", "a.yaml")).toThrow(/"service:install"/);
        expect(() => parseAnswers("failure:testz: skip\n", "a.yaml")).toThrow(/failure:testz/);
        expect(() => parseAnswers("- a\n- b\n", "a.yaml")).toThrow(/a\.yaml/);
    });

    test("the shipped CI answers file is valid", () => {
        const a = loadAnswersFile(path.join(projectRoot, "tasks", "ci-answers.yaml"));
        expect(a.approvals["service:install"]).toBe("deny");
        expect(a.approvals["delete:all"]).toBe("deny");
    });

    test("delete ids name files relative to the home with /, whatever the OS writes", () => {
        expect(deleteApprovalId(path.join("/h", "x"), path.join("/h", "x", "models", "a", "b.gguf"))).toBe("delete:models/a/b.gguf");
        expect(normalizeApprovalId("delete:./models\\a\\b.gguf")).toBe(process.platform === "win32" ? "delete:models/a/b.gguf".toLowerCase() : "delete:models/a/b.gguf");
        expect(normalizeApprovalId("delete:all")).toBe("delete:all");
    });
});

describe("deciding approvals", () => {
    test("without answers, everything is denied by default", async () => {
        const r = await decideApprovals([service, del("models/a.gguf")], "safety", policy({}));
        expect(r.map((x) => [x.id, x.answer, x.source])).toEqual([["service:install", "deny", "default"], ["delete:models/a.gguf", "deny", "default"]]);
    });

    test("--yes approves everything except deletions", async () => {
        const r = await decideApprovals([service, overwrite, del("models/a.gguf")], "safety", policy({yes: true}));
        expect(r.map((x) => [x.id, x.answer, x.source])).toEqual([
            ["service:install", "approve", "yes_flag"], ["config:overwrite", "approve", "yes_flag"], ["delete:models/a.gguf", "deny", "default"]
        ]);
    });

    test("delete:all approves every candidate without its own answer; a per-file answer wins", async () => {
        const answers = parseAnswers("delete:all: approve\ndelete:models/keep.gguf: deny\ndelete:models/typo.gguf: approve\n", "a.yaml");
        const p = policy({answers});
        const r = await decideApprovals([del("models/a.gguf"), del("models/keep.gguf")], "safety", p);
        expect(r.map((x) => [x.id, x.answer, x.source])).toEqual([["delete:models/a.gguf", "approve", "answers_file"], ["delete:models/keep.gguf", "deny", "answers_file"]]);
        expect(r[0]!.what).toContain("delete:all");
        expect(p.shown.join("\n")).toContain("warning: a.yaml answers delete:models/typo.gguf, which is not a safe-to-delete candidate");
    });

    test("failures: required steps abort and optional ones skip unless answered; retry is bounded", async () => {
        expect(await decideFailure("models", "Models", true, "x", 1, policy({}))).toEqual({action: "abort", source: "default"});
        expect(await decideFailure("tests", "Tests", false, "x", 1, policy({}))).toEqual({action: "skip", source: "default"});
        const answers = parseAnswers("failure:models: retry\n", "a.yaml");
        expect(await decideFailure("models", "Models", true, "x", 1, policy({answers}))).toEqual({action: "retry", source: "answers_file"});
        expect(await decideFailure("models", "Models", true, "x", 3, policy({answers}))).toEqual({action: "abort", source: "default"});
    });
});

/** The real @inquirer prompts, rendered by @inquirer/testing: the test types into them as a person would. */
function renderedPrompts(onScreen: (screen: string) => void): {prompts: PromptFns; next: () => Promise<Awaited<ReturnType<typeof render>>>} {
    const pending: Array<Awaited<ReturnType<typeof render>>> = [];
    const waiters: Array<(r: Awaited<ReturnType<typeof render>>) => void> = [];
    const push = (r: Awaited<ReturnType<typeof render>>): void => {
        onScreen(r.getScreen());
        const w = waiters.shift();
        if (w) w(r);
        else pending.push(r);
    };
    return {
        prompts: {
            confirm: async (config) => {
                const r = await render(confirm, config);
                push(r);
                return r.answer;
            },
            select: async (config) => {
                const r = await render(select, config);
                push(r);
                return r.answer as Promise<string>;
            }
        },
        next: () => {
            const r = pending.shift();
            return r ? Promise.resolve(r) : new Promise((resolve) => waiters.push(resolve));
        }
    };
}

describe("interactive prompts (@inquirer/testing)", () => {
    test("a confirm per system-wide change, shown with what will change; the default is no", async () => {
        const screens: string[] = [];
        const {prompts, next} = renderedPrompts((s) => screens.push(s));
        const p = policy({interactive: true, prompts});
        const decided = decideApprovals([service, overwrite], "service", p);
        const first = await next();
        expect(first.getScreen()).toContain("Install the service?");
        expect(first.getScreen()).toContain("(y/N)");
        first.events.type("y");
        first.events.keypress("enter");
        const second = await next();
        expect(second.getScreen()).toContain("Change the config?");
        second.events.keypress("enter");
        const r = await decided;
        expect(r.map((x) => [x.id, x.answer, x.source])).toEqual([["service:install", "approve", "prompt"], ["config:overwrite", "deny", "prompt"]]);
        // What will change is shown before each question.
        expect(p.shown.join("\n")).toContain("write a unit, enable it");
        expect(p.shown.join("\n")).toContain("- a\n+ b");
    });

    test("deletions: choose per file, each shown with its reason and size", async () => {
        const {prompts, next} = renderedPrompts(() => undefined);
        const p = policy({interactive: true, prompts});
        const decided = decideApprovals([del("models/a.gguf"), del("models/b.gguf")], "safety", p);
        const how = await next();
        expect(how.getScreen()).toContain("Delete which of these 2 file(s)?");
        expect(how.getScreen()).toContain("None: keep them all");
        how.events.keypress("down");
        how.events.keypress("enter");
        const a = await next();
        expect(a.getScreen()).toContain("Delete models/a.gguf?");
        a.events.type("y");
        a.events.keypress("enter");
        const b = await next();
        expect(b.getScreen()).toContain("Delete models/b.gguf?");
        b.events.type("n");
        b.events.keypress("enter");
        const r = await decided;
        expect(r.map((x) => [x.id, x.answer, x.source])).toEqual([["delete:models/a.gguf", "approve", "prompt"], ["delete:models/b.gguf", "deny", "prompt"]]);
        expect(p.shown.join("\n")).toMatch(/models\/a\.gguf\s+1\.0 KB\s+duplicate/);
    });

    test("a failed step asks retry, skip or abort", async () => {
        const {prompts, next} = renderedPrompts(() => undefined);
        const p = policy({interactive: true, prompts});
        const decided = decideFailure("tests", "Tests", false, "3 tests failed", 1, p);
        const q = await next();
        expect(q.getScreen()).toContain("Retry, skip or abort?");
        q.events.keypress("down");
        q.events.keypress("enter");
        expect(await decided).toEqual({action: "skip", source: "prompt"});
        expect(p.shown.join("\n")).toContain("3 tests failed");
    });
});

test("documentation/setup.md explains every approval id and the answers file", () => {
    const doc = fs.readFileSync(path.join(projectRoot, "documentation", "setup.md"), "utf8");
    for (const id of ["git:identity", "config:overwrite", "service:install", "delete:<path>", "delete:all", "failure:<step id>"]) expect(doc).toContain(`\`${id}`);
    expect(doc).toContain("## A sample session");
});
