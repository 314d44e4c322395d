import fs from "node:fs";
import path from "node:path";
import {afterAll, expect, test} from "vitest";
import {addModel, makeHome, removeHome} from "../helpers/home.js";
import {git, hashTree, runSetup} from "./helpers.js";

const homes: string[] = [];
afterAll(async () => {
    for (const h of homes) await removeHome(h);
});

test("--plan prints every step with its changes and approvals, and changes nothing in the files or in git", async () => {
    const h = await makeHome("zc-setup-plan-");
    homes.push(h);
    const g = git(h);
    await g.init();
    await g.raw(["checkout", "-q", "-b", "main"]);
    fs.writeFileSync(path.join(h, "README.md"), "# home\n");
    await g.add(["README.md"]);
    await g.commit("user: first");
    fs.writeFileSync(path.join(h, "README.md"), "# home\n\ndirty\n");
    fs.writeFileSync(path.join(h, "untracked.txt"), "x\n");
    await addModel(h, "tiny/tiny-q8_0.gguf");
    fs.mkdirSync(path.join(h, "config"));
    fs.writeFileSync(path.join(h, "config", "provider_config.json"), JSON.stringify({server_port: 8007, auth: {api_key: "zombie-local-please-change"}}, null, 2));
    // Make git's stat cache stale, so a `git status` that refreshed the index would show up as a changed file.
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(h, "README.md"), later, later);

    const before = hashTree(h);
    const head = (await g.revparse(["HEAD"])).trim();
    const r = await runSetup(h, ["--plan"]);
    expect(r.code, r.stderr).toBe(0);

    expect(hashTree(h)).toEqual(before);
    expect((await g.revparse(["HEAD"])).trim()).toBe(head);
    expect((await g.raw(["symbolic-ref", "--short", "HEAD"])).trim()).toBe("main");
    expect((await g.raw(["branch", "--list"])).trim()).toBe("* main");

    const out = r.stdout;
    expect(out).toContain("nothing has been changed");
    for (const title of ["Directory and repo", "Models discoverable", "Endpoints", "Model manager config", "Lazy-load behaviour", "Service and watchdog", "Tests", "Safety review", "Reports", "Editors and agents"])
        expect(out).toContain(title);
    expect(out).toContain(`commit "setup: snapshot of uncommitted changes before provider setup"`);
    expect(out).toContain("create or switch to branch feature/provider-setup");
    expect(out).toMatch(/add to \.gitignore \(before any commit\): models\/, \*\.gguf/);
    expect(out).toContain("approvals it will ask: config:overwrite");
    expect(out).toContain("approvals it may ask, depending on what it finds then: delete:<path>, delete:all");
    expect(out).toContain("approvals it may ask, depending on what it finds then: git:identity");
    expect(out).toMatch(/approvals it (will|may) ask.*service:install/);
});

test("--plan on a home that does not exist yet creates nothing", async () => {
    const parent = await makeHome("zc-setup-plan-new-");
    homes.push(parent);
    const h = path.join(parent, "not", "yet");
    const r = await runSetup(h, ["--plan"]);
    expect(r.code, r.stderr).toBe(0);
    expect(fs.existsSync(h)).toBe(false);
    expect(fs.readdirSync(parent)).toEqual([]);
    expect(r.stdout).toContain("git init, then commit \"initial snapshot before provider changes\"");
});
