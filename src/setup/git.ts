/**
 * Git for the setup orchestrator: init, identity, .gitignore coverage, gate commits and the setup branch.
 *
 * Everything goes through simple-git with an explicit environment, so tests (and CI) can give git an identity
 * through GIT_AUTHOR_* / GIT_COMMITTER_* without touching the user's global configuration.
 */
import fs from "node:fs";
import path from "node:path";
import {simpleGit, type SimpleGit} from "simple-git";
import type {CommitRecord} from "./records.js";

/** What `switchBranch` did with the setup branch. */
export interface BranchResult {
    /**
     * current: already on it; created: made from HEAD; switched: it was at or after HEAD; fast-forwarded: it was behind
     * HEAD, moved up to it, then checked out; diverged: it has commits HEAD lacks and vice versa, so setup stayed put.
     */
    outcome: "current" | "created" | "switched" | "fast-forwarded" | "diverged";
    /** The branch before (null on a detached HEAD). */
    previous: string | null;
    /** The branch's commit before a fast-forward, or its commit when it diverged. */
    branchHead?: string;
}

export interface GitPerson {
    name: string;
    email: string;
}

export interface IdentityState {
    author: GitPerson | null;
    committer: GitPerson | null;
    /** Where the identity comes from, for messages. */
    source: "env" | "config" | "env+config" | "none";
    ok: boolean;
}

/** The identity setup writes to the repo-local config when the user approves `git:identity`. */
export const SETUP_IDENTITY: GitPerson = {name: "ZombieCoder Provider Setup", email: "setup@zombiecoder.invalid"};

export const NO_IDENTITY_HELP = [
    "git has no identity (user.name and user.email), so setup cannot commit.",
    "Fix it with one of:",
    "  git config --global user.name \"Your Name\"",
    "  git config --global user.email \"you@example.com\"",
    "or set GIT_AUTHOR_NAME, GIT_AUTHOR_EMAIL, GIT_COMMITTER_NAME and GIT_COMMITTER_EMAIL in the environment,",
    `or approve git:identity (answer "git:identity: approve" in the answers file) to set a repo-local identity "${SETUP_IDENTITY.name} <${SETUP_IDENTITY.email}>".`
].join("\n");

// simple-git refuses GIT_* variables it has not been told about (they can redirect what git executes); these are
// the ones setup needs, and none of them can run a program.
export const ALLOWED_GIT_ENV = [
    "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_COMMITTER_DATE",
    "GIT_TERMINAL_PROMPT", "GIT_OPTIONAL_LOCKS"
];
const GUARDED_NON_GIT = new Set(["editor", "pager", "prefix", "ssh_askpass", "visual"]);

/** The environment handed to git: the caller's, minus variables that would let git run other programs. */
export function gitEnvironment(env: NodeJS.ProcessEnv): Record<string, string> {
    const out: Record<string, string> = {};
    const allowed = new Set(ALLOWED_GIT_ENV.map((k) => k.toLowerCase()));
    for (const [k, v] of Object.entries(env)) {
        if (v == null) continue;
        const lower = k.toLowerCase();
        if ((lower.startsWith("git") && !allowed.has(lower)) || GUARDED_NON_GIT.has(lower)) continue;
        out[k] = v;
    }
    out.GIT_TERMINAL_PROMPT = "0";
    // `git status` would otherwise refresh .git/index as a side effect, and --plan must not change a single byte.
    out.GIT_OPTIONAL_LOCKS = "0";
    return out;
}

/** A path (relative to the repo, `/`-separated) that must never be added to git: weights, partials, logs, the key. */
export function isProtectedPath(rel: string, extra: readonly string[] = []): boolean {
    const p = rel.replace(/\\/g, "/");
    const lower = p.toLowerCase();
    if (/\.(gguf|part|ipull)$/.test(lower)) return true;
    if (lower.startsWith("models/") || lower.startsWith("logs/")) return p !== "models/.gitkeep" && p !== "logs/.gitkeep";
    return extra.some((e) => e.replace(/\\/g, "/") === p);
}

export interface IgnoreRule {
    /** The line written to .gitignore. */
    pattern: string;
    /** Paths that must be ignored when the rule is covered (any spelling of it). */
    probes: string[];
    /** Why the rule exists (shown in --plan). */
    why: string;
}

/**
 * What the home's .gitignore must cover before the first commit (model folders and weights, partial downloads, logs),
 * plus the configured models/logs folders, the key file and the model index when they live in the home.
 *
 * The model index is a cache, not a record: every scan and every provider start rewrites it (its time, absolute
 * paths, modification times, the models' live statuses), and a scan rebuilds it from the files. Tracked, it made
 * the tree dirty as soon as the provider started; the committed record of the models is MODEL_MIGRATION_SUMMARY.md.
 */
export function requiredIgnoreRules(home: string, opts: {modelsDir: string; logsDir: string; keyFile: string | null; registryFile?: string | null}): IgnoreRule[] {
    const rules: IgnoreRule[] = [
        {pattern: "models/", probes: ["models/zc-setup-probe.bin", "models/sub/zc-setup-probe.bin"], why: "model folders"},
        {pattern: "*.gguf", probes: ["zc-setup-probe.gguf", "sub/dir/zc-setup-probe.gguf"], why: "model weights anywhere"},
        {pattern: "*.part", probes: ["zc-setup-probe.gguf.part", "sub/zc-setup-probe.part"], why: "partial downloads"},
        {pattern: "*.ipull", probes: ["zc-setup-probe.ipull", "sub/zc-setup-probe.ipull"], why: "partial downloads (ipull)"},
        {pattern: "logs/", probes: ["logs/zc-setup-probe.log"], why: "logs and setup state"}
    ];
    const inside = (abs: string): string | null => {
        const rel = path.relative(home, abs);
        return rel === "" || rel.startsWith("..") || path.isAbsolute(rel) ? null : rel.split(path.sep).join("/");
    };
    const models = inside(opts.modelsDir);
    if (models && models !== "models") rules.push({pattern: `/${models}/`, probes: [`${models}/zc-setup-probe.bin`], why: "the configured models_dir"});
    const logs = inside(opts.logsDir);
    if (logs && logs !== "logs") rules.push({pattern: `/${logs}/`, probes: [`${logs}/zc-setup-probe.log`], why: "the configured logs_dir"});
    const key = opts.keyFile ? inside(opts.keyFile) : null;
    if (key) rules.push({pattern: key, probes: [key], why: "the API key file"});
    const index = opts.registryFile ? inside(opts.registryFile) : null;
    if (index) {
        const dir = path.posix.dirname(index);
        const temp = `${dir === "." ? "" : `${dir}/`}.${path.posix.basename(index)}.*.tmp`;
        rules.push({pattern: index, probes: [index], why: "the model index (a cache the scan and the running provider rewrite)"});
        // The index is written to a temporary file first and renamed over it; a crash can leave one behind.
        rules.push({pattern: temp, probes: [temp.replace("*", "123.abcd")], why: "the model index's temporary files"});
    }
    return rules;
}

/** Literal check used before a repository exists (check-ignore needs one): the rule's line or a common equivalent. */
export function literallyCovered(gitignore: string, rule: IgnoreRule): boolean {
    const lines = new Set(gitignore.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#")));
    const base = rule.pattern.replace(/^\//, "").replace(/\/$/, "");
    const variants = [rule.pattern, base, `/${base}`, `${base}/`, `/${base}/`, `${base}/**`, `/${base}/**`];
    return variants.some((v) => lines.has(v));
}

/** The home, or (for --plan before the home exists) its nearest existing parent: simple-git needs a real folder. */
function existingDir(p: string): string {
    let cur = path.resolve(p);
    while (!fs.existsSync(cur)) {
        const up = path.dirname(cur);
        if (up === cur) break;
        cur = up;
    }
    return cur;
}

export class SetupGit {
    private instance: SimpleGit | null = null;
    private instanceDir: string | null = null;

    constructor(readonly home: string, readonly env: NodeJS.ProcessEnv = process.env) {}

    private get git(): SimpleGit {
        const dir = existingDir(this.home);
        if (!this.instance || this.instanceDir !== dir) {
            this.instance = simpleGit({baseDir: dir, allowEnvironment: ALLOWED_GIT_ENV}).env(gitEnvironment(this.env));
            this.instanceDir = dir;
        }
        return this.instance;
    }

    /** Setup owns the repository at the home itself, so a parent folder's repository does not count. */
    hasRepo(): boolean {
        return fs.existsSync(path.join(this.home, ".git"));
    }

    /**
     * The top folder of another repository that the home (or, before it exists, the folder it will be made in) lies
     * inside, or null. `git init` there would nest a repository inside the user's, whose `git add -A` would then see
     * an embedded repository instead of files, and setup's own commits would not be where the user looks.
     */
    async enclosingRepo(): Promise<string | null> {
        if (this.hasRepo()) return null;
        const start = existingDir(this.home);
        let top: string;
        try {
            top = (await this.git.raw(["rev-parse", "--show-toplevel"])).trim();
        } catch (err) {
            // git refuses a repository owned by another user ("dubious ownership") without saying where it is;
            // it is still a repository around the home, so look for its .git.
            if (!/dubious ownership/i.test((err as Error).message)) return null;
            for (let dir = start; ; dir = path.dirname(dir)) {
                if (fs.existsSync(path.join(dir, ".git"))) return dir;
                if (path.dirname(dir) === dir) return null;
            }
        }
        if (top === "") return null;
        const real = (p: string): string => {
            try {
                return fs.realpathSync.native(p);
            } catch {
                return path.resolve(p);
            }
        };
        return path.relative(real(top), real(this.home)) === "" ? null : path.resolve(top);
    }

    async init(): Promise<void> {
        await this.git.init();
    }

    // simple-git rejects only when git wrote to stderr, so these checks leave out --quiet and let git complain.
    async hasCommits(): Promise<boolean> {
        try {
            await this.git.raw(["rev-parse", "--verify", "HEAD^{commit}"]);
            return true;
        } catch {
            return false;
        }
    }

    async head(): Promise<string | null> {
        return (await this.hasCommits()) ? (await this.git.revparse(["HEAD"])).trim() : null;
    }

    async currentBranch(): Promise<string | null> {
        try {
            const b = (await this.git.raw(["symbolic-ref", "--short", "-q", "HEAD"])).trim();
            return b === "" ? null : b;
        } catch {
            return null;
        }
    }

    async branchExists(name: string): Promise<boolean> {
        try {
            await this.git.raw(["rev-parse", "--verify", `refs/heads/${name}^{commit}`]);
            return true;
        } catch {
            return false;
        }
    }

    /** Whether commit `a` is `b` or one of its ancestors. */
    async isAncestor(a: string, b: string): Promise<boolean> {
        // Not `merge-base --is-ancestor`: its answer is only the exit status, which simple-git does not report when
        // git writes nothing to stderr. `a` is an ancestor of `b` exactly when it is their merge base.
        const [ra, base] = await Promise.all([this.git.revparse([`${a}^{commit}`]), this.git.raw(["merge-base", a, b]).catch(() => "")]);
        return base.trim() !== "" && base.trim() === ra.trim();
    }

    /**
     * Creates the branch from HEAD, or switches to it when it exists and is at or after HEAD. An existing branch that
     * is behind HEAD is fast-forwarded to HEAD first: checking it out as it was would bring back an old tree without
     * the snapshot just committed. One that has diverged from HEAD is left alone, and so is the current branch.
     */
    async switchBranch(name: string): Promise<BranchResult> {
        const previous = await this.currentBranch();
        if (previous === name) return {outcome: "current", previous};
        if (await this.branchExists(name)) {
            const head = await this.head();
            const tip = (await this.git.revparse([`refs/heads/${name}`])).trim();
            if (head && !(await this.isAncestor(head, tip))) {
                if (!(await this.isAncestor(tip, head))) return {outcome: "diverged", previous, branchHead: tip};
                // update-ref with the old value refuses if the branch moved meanwhile.
                await this.git.raw(["update-ref", "-m", "setup: fast-forward to the snapshot", `refs/heads/${name}`, head, tip]);
                await this.git.checkout(name);
                return {outcome: "fast-forwarded", previous, branchHead: tip};
            }
            await this.git.checkout(name);
            return {outcome: "switched", previous};
        }
        await this.git.checkoutLocalBranch(name);
        return {outcome: "created", previous};
    }

    private async configValue(key: string): Promise<string | null> {
        try {
            const v = (await this.git.getConfig(key)).value;
            return v != null && v.trim() !== "" ? v.trim() : null;
        } catch {
            return null;
        }
    }

    /** GIT_AUTHOR_* / GIT_COMMITTER_* count as an identity; otherwise user.name and user.email from git config. */
    async identity(): Promise<IdentityState> {
        const cfgName = await this.configValue("user.name");
        const cfgEmail = await this.configValue("user.email");
        const e = (k: string): string | null => {
            const v = this.env[k];
            return v != null && v.trim() !== "" ? v.trim() : null;
        };
        let usedEnv = false;
        let usedConfig = false;
        const person = (nameKey: string, emailKey: string): GitPerson | null => {
            const name = e(nameKey) ?? cfgName;
            const email = e(emailKey) ?? cfgEmail;
            if (e(nameKey) || e(emailKey)) usedEnv = true;
            if ((!e(nameKey) && cfgName) || (!e(emailKey) && cfgEmail)) usedConfig = true;
            return name && email ? {name, email} : null;
        };
        const author = person("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL");
        const committer = person("GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL");
        const ok = author != null && committer != null;
        const source = !ok ? "none" : usedEnv && usedConfig ? "env+config" : usedEnv ? "env" : "config";
        return {author, committer, source, ok};
    }

    async setLocalIdentity(person: GitPerson): Promise<void> {
        await this.git.addConfig("user.name", person.name, false, "local");
        await this.git.addConfig("user.email", person.email, false, "local");
    }

    /** Paths git reports as changed or untracked (ignored files excluded). */
    async pendingChanges(): Promise<string[]> {
        const st = await this.git.status(["--untracked-files=all"]);
        return st.files.map((f) => f.path);
    }

    async isDirty(): Promise<boolean> {
        return (await this.pendingChanges()).length > 0;
    }

    /** Which of `paths` (relative, `/`-separated) the ignore rules cover; works whether or not they exist. */
    async ignored(paths: string[]): Promise<Set<string>> {
        if (paths.length === 0) return new Set();
        try {
            const out = await this.git.raw(["check-ignore", "--no-index", "--", ...paths]);
            return new Set(out.split(/\r?\n/).map((l) => l.trim()).filter(Boolean));
        } catch {
            // exit status 1: none of them is ignored
            return new Set();
        }
    }

    /** Whether git tracks the path (relative, `/`-separated). */
    async isTracked(rel: string): Promise<boolean> {
        if (!(await this.hasCommits())) return false;
        return (await this.git.raw(["ls-files", "--", rel])).trim() !== "";
    }

    /** Stops tracking the path and keeps the file: the removal is staged for the next commit. */
    async untrack(rel: string): Promise<void> {
        await this.git.raw(["rm", "-q", "--cached", "--", rel]);
    }

    /** Tracked files that should never be in git (weights, partials, logs, the key). */
    async trackedProtected(extra: readonly string[] = []): Promise<string[]> {
        if (!(await this.hasCommits())) return [];
        const out = await this.git.raw(["ls-files", "-z"]);
        return out.split("\0").filter((p) => p !== "" && isProtectedPath(p, extra));
    }

    /**
     * Stages everything except protected paths (a tracked model that changed is left out, so git never grows
     * a second copy of weights already in its history) and commits. Returns null when there was nothing to commit
     * and `allowEmpty` is false.
     */
    async commitAll(message: string, opts: {step: string; body?: string; allowEmpty?: boolean; protectedExtra?: readonly string[]}): Promise<CommitRecord | null> {
        await this.git.raw(["add", "-A", "--", "."]);
        const staged = (await this.git.raw(["diff", "--cached", "--name-status", "--no-renames", "-z"])).split("\0").filter((s) => s !== "");
        const unstage: string[] = [];
        let files = 0;
        for (let i = 0; i + 1 < staged.length; i += 2) {
            const status = staged[i]!;
            const file = staged[i + 1]!;
            if (status !== "D" && isProtectedPath(file, opts.protectedExtra)) unstage.push(file);
            else files++;
        }
        if (unstage.length > 0) {
            if (await this.hasCommits()) await this.git.raw(["reset", "-q", "HEAD", "--", ...unstage]);
            else await this.git.raw(["rm", "-q", "--cached", "--", ...unstage]);
        }
        if (files === 0 && !opts.allowEmpty) return null;
        const args = ["commit", "-q", "--no-verify", "-m", message];
        if (opts.body) args.push("-m", opts.body);
        if (files === 0) args.push("--allow-empty");
        await this.git.raw(args);
        const hash = (await this.git.revparse(["HEAD"])).trim();
        return {hash, message, step: opts.step, at: new Date().toISOString(), files};
    }

    /** Files in a commit's tree (for tests and reports). */
    async filesInCommit(rev: string): Promise<string[]> {
        const out = await this.git.raw(["ls-tree", "-r", "--name-only", "-z", rev]);
        return out.split("\0").filter(Boolean);
    }

    async log(): Promise<Array<{hash: string; message: string}>> {
        if (!(await this.hasCommits())) return [];
        const l = await this.git.log();
        return l.all.map((c) => ({hash: c.hash, message: c.message}));
    }
}
