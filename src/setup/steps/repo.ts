/** The repo step: the provider home's folders, a .gitignore that keeps weights and secrets out, the repo, the branch. */
import fs from "node:fs";
import path from "node:path";
import {literallyCovered, NO_IDENTITY_HELP, requiredIgnoreRules, SETUP_IDENTITY, type BranchResult, type IgnoreRule, type SetupGit} from "../git.js";
import type {CommitRecord} from "../records.js";
import {defineStep, outcome, StepError, type StepContext} from "./contract.js";
import {commandHint} from "../../command-hint.js";

export const HOME_FOLDERS = ["test", "documentation", "models", "scripts", "logs", "config", "registry"];

export const INITIAL_COMMIT_MESSAGE = "initial snapshot before provider changes";
export const SNAPSHOT_COMMIT_MESSAGE = "setup: snapshot of uncommitted changes before provider setup";

/** The key file the config step writes when the config names none. */
export const DEFAULT_KEY_FILE = path.join("config", "api_key.txt");

interface RepoPlan {
    folders: string[];
    rules: IgnoreRule[];
    missingRules: string[];
    hasRepo: boolean;
    hasCommits: boolean;
    pending: number;
    branch: string;
    currentBranch: string | null;
    identityOk: boolean;
    trackedProtected: string[];
}

export interface RepoData {
    created_folders: string[];
    gitignore_added: string[];
    initialized: boolean;
    snapshot_commit: string | null;
    /** The branch setup works on: setup.branch, or the current one when setup.branch has diverged from it. */
    branch: string;
    /** setup.branch. */
    setup_branch: string;
    branch_status: BranchResult["outcome"];
    branch_created: boolean;
    previous_branch: string | null;
    identity_source: string;
    identity_set_locally: boolean;
    tracked_protected: string[];
}

function keyFileOf(ctx: StepContext): string {
    const cfg = ctx.config();
    return path.resolve(ctx.home, cfg.auth.api_key_file ?? DEFAULT_KEY_FILE);
}

/**
 * The key file relative to the home, `/`-separated: every commit setup makes passes it as protected, so it is never
 * staged even when the .gitignore no longer covers it (edited by hand after this step wrote it).
 */
export function keyFileRelative(ctx: StepContext): string {
    return rel(ctx.home, keyFileOf(ctx));
}

/** The repo step refuses a home inside someone else's repository rather than nesting one in it or committing to it. */
async function refuseNested(git: SetupGit, home: string): Promise<void> {
    const top = await git.enclosingRepo();
    if (!top) return;
    throw new StepError(`${home} is inside the git repository ${top}. Setup keeps the provider home in a repository of its own, ` +
        `and will neither create one inside yours (a nested repository) nor commit to yours or switch its branch.\n` +
        `Either choose a home outside ${top} (${commandHint("setup", "--home <folder>")}), or make that repository's top folder the home ` +
        `(${commandHint("setup", `--home ${JSON.stringify(top)}`)}). Nothing was changed.`);
}

function rulesFor(ctx: StepContext): IgnoreRule[] {
    const cfg = ctx.config();
    return requiredIgnoreRules(ctx.home, {modelsDir: cfg.paths.models, logsDir: cfg.paths.logs, keyFile: keyFileOf(ctx), registryFile: cfg.paths.registry});
}

/** The model index relative to the home when it lies inside it: git-ignored from now on, and no longer tracked. */
function indexRelative(ctx: StepContext): string | null {
    const r = rel(ctx.home, ctx.config().paths.registry);
    return r.startsWith("../") || path.isAbsolute(r) ? null : r;
}

function foldersFor(ctx: StepContext): string[] {
    const cfg = ctx.config();
    const extra = [cfg.paths.models, cfg.paths.logs, path.dirname(cfg.paths.registry), path.dirname(cfg.configPath)];
    const all = [...HOME_FOLDERS.map((f) => path.join(ctx.home, f)), ...extra];
    return [...new Set(all.map((p) => path.resolve(p)))];
}

function readGitignore(home: string): string {
    try {
        return fs.readFileSync(path.join(home, ".gitignore"), "utf8");
    } catch {
        return "";
    }
}

/** Rules whose probes git does not ignore (with a repo), or whose line is missing (before one exists). */
async function missingRules(ctx: StepContext, rules: IgnoreRule[]): Promise<IgnoreRule[]> {
    if (!ctx.git.hasRepo()) {
        const text = readGitignore(ctx.home);
        return rules.filter((r) => !literallyCovered(text, r));
    }
    const ignored = await ctx.git.ignored(rules.flatMap((r) => r.probes));
    return rules.filter((r) => r.probes.some((p) => !ignored.has(p)));
}

function appendRules(home: string, rules: IgnoreRule[]): void {
    if (rules.length === 0) return;
    const file = path.join(home, ".gitignore");
    const text = readGitignore(home);
    const eol = text.includes("\r\n") ? "\r\n" : "\n";
    const lead = text === "" ? "" : text.endsWith("\n") ? eol : eol + eol;
    const block = ["# Added by npm run setup: model weights, partial downloads, logs, the API key and the model index (a cache) never enter git", ...rules.map((r) => r.pattern)];
    fs.writeFileSync(file, text + lead + block.join(eol) + eol);
}

function rel(home: string, p: string): string {
    return path.relative(home, p).split(path.sep).join("/") || ".";
}

export const repoStep = defineStep<RepoPlan>({
    id: "repo",

    async prepare(ctx) {
        await refuseNested(ctx.git, ctx.home);
        const folders = foldersFor(ctx).filter((f) => !fs.existsSync(f));
        const rules = rulesFor(ctx);
        const missing = await missingRules(ctx, rules);
        const hasRepo = ctx.git.hasRepo();
        const hasCommits = hasRepo && await ctx.git.hasCommits();
        const pending = hasRepo ? (await ctx.git.pendingChanges()).length : 0;
        const currentBranch = hasRepo ? await ctx.git.currentBranch() : null;
        const identity = await ctx.git.identity();
        const trackedProtected = hasRepo ? await ctx.git.trackedProtected([rel(ctx.home, keyFileOf(ctx))]) : [];
        const branch = ctx.config().setup.branch;

        const summary: string[] = [];
        summary.push(folders.length > 0 ? `create folders: ${folders.map((f) => rel(ctx.home, f)).join(", ")}` : "all home folders exist");
        summary.push(missing.length > 0 ? `add to .gitignore (before any commit): ${missing.map((r) => r.pattern).join(", ")}` : ".gitignore already covers weights, partial downloads, logs and the key file");
        if (!hasRepo) summary.push(`git init, then commit "${INITIAL_COMMIT_MESSAGE}"`);
        else if (!hasCommits) summary.push(`commit "${INITIAL_COMMIT_MESSAGE}" (the repository has no commits yet)`);
        else if (pending > 0 || missing.length > 0) summary.push(`commit "${SNAPSHOT_COMMIT_MESSAGE}" (${pending} changed or untracked path(s))`);
        summary.push(currentBranch === branch ? `stay on branch ${branch}` : `create or switch to branch ${branch}`);
        if (!identity.ok) summary.push("git has no identity: ask to set a repo-local one (git:identity)");
        if (trackedProtected.length > 0) summary.push(`warn: git already tracks ${trackedProtected.length} file(s) that should be ignored; none will be added`);
        const index = indexRelative(ctx);
        if (index && hasRepo && await ctx.git.isTracked(index)) summary.push(`stop tracking ${index} (git rm --cached: the file stays; it is a cache the provider rewrites)`);

        const approvals = identity.ok ? [] : [{
            id: "git:identity",
            kind: "git" as const,
            title: `Set the repo-local git identity "${SETUP_IDENTITY.name} <${SETUP_IDENTITY.email}>"`,
            details: `git has no user.name/user.email and no GIT_AUTHOR_*/GIT_COMMITTER_* variables, so it cannot commit.\n` +
                `Approving runs, in ${ctx.home}:\n  git config --local user.name "${SETUP_IDENTITY.name}"\n  git config --local user.email "${SETUP_IDENTITY.email}"\n` +
                `Denying stops step 1 with instructions to set your own identity.`
        }];
        return {
            summary, approvals,
            data: {
                folders, rules, missingRules: missing.map((r) => r.pattern), hasRepo, hasCommits, pending, branch, currentBranch,
                identityOk: identity.ok, trackedProtected
            }
        };
    },

    async apply(ctx, _plan, decisions) {
        const home = ctx.home;
        const findings: string[] = [];
        const warnings: string[] = [];
        const commits: CommitRecord[] = [];
        const created: string[] = [];
        // Checked again: a resumed run may apply long after prepare looked.
        await refuseNested(ctx.git, home);
        for (const f of foldersFor(ctx)) {
            if (!fs.existsSync(f)) {
                fs.mkdirSync(f, {recursive: true});
                created.push(rel(home, f));
            }
        }
        if (created.length > 0) findings.push(`created ${created.join(", ")}`);

        // The ignore rules go in before `git init` (and long before any commit), so no later `git add` can pick up weights.
        const rules = rulesFor(ctx);
        const added: string[] = [];
        const beforeInit = await missingRules(ctx, rules);
        appendRules(home, beforeInit);
        added.push(...beforeInit.map((r) => r.pattern));
        let initialized = false;
        if (!ctx.git.hasRepo()) {
            await ctx.git.init();
            initialized = true;
            findings.push("git init");
        }
        // With a repository, check what git really ignores: a negation (`!*.gguf`) or a nested .gitignore can undo a rule.
        const stillMissing = await missingRules(ctx, rules);
        const toAppend = stillMissing.filter((r) => !added.includes(r.pattern));
        appendRules(home, toAppend);
        added.push(...toAppend.map((r) => r.pattern));
        const uncovered = await missingRules(ctx, rules);
        if (uncovered.length > 0) {
            const probes = uncovered.flatMap((r) => r.probes.filter((p) => p));
            throw new StepError(`.gitignore does not ignore ${probes.join(", ")} even after adding ${uncovered.map((r) => r.pattern).join(", ")}: ` +
                "a later negation rule (a line starting with `!`) or a nested .gitignore re-includes them. Remove that rule and run setup again; nothing was committed.");
        }
        if (added.length > 0) findings.push(`.gitignore now covers ${added.join(", ")}`);

        const identity = await ctx.git.identity();
        let identitySet = false;
        if (!identity.ok) {
            if (decisions["git:identity"] !== "approve") throw new StepError(NO_IDENTITY_HELP);
            await ctx.git.setLocalIdentity(SETUP_IDENTITY);
            identitySet = true;
            findings.push(`set the repo-local git identity "${SETUP_IDENTITY.name} <${SETUP_IDENTITY.email}>" (approved git:identity); change it with git config --local user.name/user.email`);
        }

        const keyRel = rel(home, keyFileOf(ctx));
        const tracked = await ctx.git.trackedProtected([keyRel]);
        if (tracked.length > 0)
            warnings.push(`git already tracks ${tracked.length} file(s) that should be ignored (${tracked.slice(0, 5).join(", ")}${tracked.length > 5 ? ", ..." : ""}); ` +
                `setup never adds more. To stop tracking them: git rm --cached -- <file> and commit.`);

        // An earlier setup committed the index; the running provider rewrites it, so it leaves git (the file stays).
        const index = indexRelative(ctx);
        let untracked = false;
        if (index && await ctx.git.isTracked(index)) {
            await ctx.git.untrack(index);
            untracked = true;
            findings.push(`stopped tracking ${index} (it stays on disk, git-ignored: the provider rewrites it with live statuses)`);
        }

        let snapshot: CommitRecord | null = null;
        if (!(await ctx.git.hasCommits())) {
            snapshot = await ctx.git.commitAll(INITIAL_COMMIT_MESSAGE, {step: "repo", allowEmpty: true, protectedExtra: [keyRel]});
        } else if (await ctx.git.isDirty()) {
            const body = [
                added.length > 0 ? `Includes the .gitignore rules setup added: ${added.join(", ")}.` : null,
                untracked ? `Stops tracking ${index}: a cache that every scan and provider start rewrites; MODEL_MIGRATION_SUMMARY.md is the committed record.` : null
            ].filter((l): l is string => l != null).join("\n") || undefined;
            snapshot = await ctx.git.commitAll(SNAPSHOT_COMMIT_MESSAGE, {step: "repo", body, protectedExtra: [keyRel]});
        }
        if (snapshot) {
            commits.push(snapshot);
            findings.push(`committed ${snapshot.hash.slice(0, 10)} "${snapshot.message}"`);
        }

        const setupBranch = ctx.config().setup.branch;
        const sw = await ctx.git.switchBranch(setupBranch);
        const here = sw.previous ?? "the detached HEAD";
        let branch = setupBranch;
        switch (sw.outcome) {
            case "created": findings.push(`created branch ${setupBranch}`); break;
            case "current": findings.push(`on branch ${setupBranch}`); break;
            case "switched": findings.push(`switched to branch ${setupBranch}`); break;
            case "fast-forwarded":
                findings.push(`fast-forwarded branch ${setupBranch} from ${sw.branchHead?.slice(0, 10)} to ${here} and switched to it (it was behind ${here})`);
                break;
            case "diverged":
                // Checking it out would bring back its own, older tree; merging is the user's call, not setup's.
                branch = sw.previous ?? "HEAD";
                warnings.push(`branch ${setupBranch} exists and has diverged from ${here} (each has commits the other lacks), so setup stayed on ${here} ` +
                    `and commits there. To work on ${setupBranch}, merge or rebase one onto the other, then run setup again.`);
                break;
        }

        const data: RepoData = {
            created_folders: created, gitignore_added: added, initialized, snapshot_commit: snapshot?.hash ?? null, branch, setup_branch: setupBranch,
            branch_status: sw.outcome, branch_created: sw.outcome === "created", previous_branch: sw.previous,
            identity_source: identitySet ? "repo-local (set by setup)" : identity.source, identity_set_locally: identitySet, tracked_protected: tracked
        };
        return outcome("done", `${initialized ? "new repository" : "repository ready"}, branch ${branch}${sw.outcome === "diverged" ? ` (${setupBranch} has diverged)` : ""}${snapshot ? `, snapshot ${snapshot.hash.slice(0, 7)}` : ""}`, {
            findings, warnings, commits, data: {...data}
        });
    }
});
