/**
 * Who answers the machine's questions: a person at a prompt, an answers file (CI), `--yes`, or the safe default.
 *
 * Approval ids are stable (documentation/setup.md lists them):
 *   delete:<path relative to the home>   delete one safety-review candidate
 *   delete:all                            delete every candidate without its own answer
 *   service:install                       install the provider as an OS service
 *   config:overwrite                      change an existing config/provider_config.json
 *   git:identity                          set a repo-local git identity
 *   editors:<name>                        merge the provider into one editor's or agent's settings (continue, zed,
 *                                         codex, claude-code, aider)
 * An approval nobody answered is denied, and the report says so. `--yes` approves everything except deletions and
 * editor changes, which always need an explicit answer (a prompt, or the answers file).
 *
 * Failures are answered with `failure:<step id>: retry | skip | abort`; without an answer a non-interactive run
 * aborts on a required step and skips an optional one.
 */
import fs from "node:fs";
import path from "node:path";
import {confirm as inquirerConfirm, select as inquirerSelect} from "@inquirer/prompts";
import YAML from "yaml";
import {formatSize} from "./format.js";
import type {Answer, AnswerSource, ApprovalRecord, ApprovalRequest, FailureAction, FailureDecision} from "./records.js";
import {schemaProblems} from "./schemas.js";
import type {StepId} from "./step-ids.js";

/** How often a non-interactive `failure:<id>: retry` retries before falling back to the default. */
export const MAX_UNATTENDED_RETRIES = 2;

export interface AnswersFile {
    path: string;
    approvals: Record<string, Answer>;
    failures: Partial<Record<StepId, FailureAction>>;
}

/** The prompt functions used interactively; tests inject @inquirer/testing renders or scripted answers. */
export interface PromptFns {
    confirm(config: {message: string; default?: boolean}): Promise<boolean>;
    select(config: {message: string; choices: Array<{value: string; name: string; description?: string}>; default?: string}): Promise<string>;
}

export const inquirerPromptFns: PromptFns = {
    confirm: (config) => inquirerConfirm(config),
    select: (config) => inquirerSelect(config)
};

export interface ApprovalPolicy {
    interactive: boolean;
    yes: boolean;
    answers: AnswersFile | null;
    prompts: PromptFns;
    /** Shows what will change before a question (the CLI prints it; tests collect it). */
    show(text: string): void;
    /** Called before the first question of a batch, so a spinner can stop drawing over the prompt. */
    beforePrompt?(): void;
}

const ANSWER_WORDS: Record<string, Answer> = {
    approve: "approve", approved: "approve", yes: "approve", y: "approve", true: "approve",
    deny: "deny", denied: "deny", no: "deny", n: "deny", false: "deny"
};

/** Normalises the path part of `delete:<path>` so `models\a.gguf` and `./models/a.gguf` name the same file. */
export function normalizeApprovalId(id: string): string {
    if (!id.startsWith("delete:") || id === "delete:all") return id;
    let p = id.slice("delete:".length).trim().replace(/\\/g, "/").replace(/^\.\//, "").replace(/\/+/g, "/");
    if (process.platform === "win32") p = p.toLowerCase();
    return `delete:${p}`;
}

/** `delete:<path>` for a file: the path relative to the home with `/` separators (absolute when outside it). */
export function deleteApprovalId(home: string, file: string): string {
    const rel = path.relative(home, file);
    const shown = rel.startsWith("..") || path.isAbsolute(rel) ? file : rel;
    return `delete:${shown.split(path.sep).join("/")}`;
}

/** Parses and validates an answers file (YAML or JSON): approval id → approve/deny, `failure:<step>` → retry/skip/abort. */
export function parseAnswers(text: string, file: string): AnswersFile {
    let parsed: unknown;
    try {
        parsed = YAML.parse(text);
    } catch (err) {
        throw new Error(`${file}: not valid YAML (${(err as Error).message})`);
    }
    if (parsed == null) parsed = {};
    const errors = schemaProblems("setup_answers.schema.json", parsed);
    if (errors.length > 0) {
        const problems = errors.map((e) => {
            const key = e.instancePath.slice(1).replace(/~1/g, "/").replace(/~0/g, "~");
            const params = e.params as Record<string, unknown>;
            if (params.additionalProperty) return `"${String(params.additionalProperty)}" is not a known approval id or failure:<step> key`;
            return `${key ? `"${key}"` : "the file"}: ${e.message ?? "invalid"}`;
        });
        throw new Error(`${file}: invalid answers file:\n  ${[...new Set(problems)].join("\n  ")}\n` +
            "Keys are approval ids (delete:<path>, delete:all, service:install, config:overwrite, git:identity, editors:<name>) with approve or deny, " +
            "or failure:<step id> with retry, skip or abort; see documentation/setup.md.");
    }
    const approvals: Record<string, Answer> = {};
    const failures: Partial<Record<StepId, FailureAction>> = {};
    for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
        if (k.startsWith("failure:")) failures[k.slice("failure:".length) as StepId] = String(v).toLowerCase() as FailureAction;
        else approvals[normalizeApprovalId(k)] = ANSWER_WORDS[String(v).toLowerCase()]!;
    }
    return {path: file, approvals, failures};
}

export function loadAnswersFile(file: string): AnswersFile {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (err) {
        throw new Error(`${file}: cannot read the answers file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    return parseAnswers(text, path.resolve(file));
}

function record(req: ApprovalRequest, step: StepId, answer: Answer, source: AnswerSource): ApprovalRecord {
    return {id: req.id, step, what: req.title, answer, source, at: new Date().toISOString()};
}

/**
 * Answers a step's approval requests. Order of authority: the answers file, then `--yes` (never for deletions or
 * editor changes), then a prompt when interactive, else deny.
 */
export async function decideApprovals(requests: readonly ApprovalRequest[], step: StepId, policy: ApprovalPolicy): Promise<ApprovalRecord[]> {
    const out: ApprovalRecord[] = [];
    const fromFile = (id: string): Answer | undefined => policy.answers?.approvals[normalizeApprovalId(id)];
    let prompted = false;
    const prompt = async <T>(fn: () => Promise<T>): Promise<T> => {
        if (!prompted) policy.beforePrompt?.();
        prompted = true;
        return fn();
    };

    const deletions = requests.filter((r) => r.kind === "delete");
    for (const req of requests.filter((r) => r.kind !== "delete")) {
        const answer = fromFile(req.id);
        if (answer) out.push(record(req, step, answer, "answers_file"));
        // An editor's settings live outside the home, where no git commit can undo a change: never by --yes.
        else if (policy.yes && req.kind !== "editor") out.push(record(req, step, "approve", "yes_flag"));
        else if (policy.interactive) {
            const ok = await prompt(async () => {
                policy.show(`\n${req.title} [${req.id}]\n${req.details}`);
                return policy.prompts.confirm({message: `${req.title}?`, default: false});
            });
            out.push(record(req, step, ok ? "approve" : "deny", "prompt"));
        } else out.push(record(req, step, "deny", "default"));
    }

    if (deletions.length > 0 && policy.answers) {
        // A typo in a path would otherwise silently keep a file the user meant to delete.
        const asked = new Set(deletions.map((r) => normalizeApprovalId(r.id)));
        for (const id of Object.keys(policy.answers.approvals))
            if (id.startsWith("delete:") && id !== "delete:all" && !asked.has(id))
                policy.show(`warning: ${policy.answers.path} answers ${id}, which is not a safe-to-delete candidate; candidates are: ${deletions.map((r) => r.id).join(", ")}`);
    }

    const open: ApprovalRequest[] = [];
    for (const req of deletions) {
        const own = fromFile(req.id);
        const all = fromFile("delete:all");
        if (own) out.push(record(req, step, own, "answers_file"));
        else if (all) out.push({...record(req, step, all, "answers_file"), what: `${req.title} (by delete:all)`});
        else open.push(req);
    }
    if (open.length > 0 && policy.interactive) {
        await prompt(async () => {
            policy.show(`\nSafe-to-delete candidates (${open.length}):\n` +
                open.map((r) => `  ${r.path ?? r.id}  ${r.size_bytes != null ? formatSize(r.size_bytes) : ""}  ${r.reason ?? ""}`.trimEnd()).join("\n"));
            const how = await policy.prompts.select({
                message: `Delete which of these ${open.length} file(s)?`,
                choices: [
                    {value: "none", name: "None: keep them all"},
                    {value: "each", name: "Ask for each file"},
                    {value: "all", name: `All ${open.length} (delete:all)`}
                ],
                default: "none"
            });
            for (const req of open) {
                let ok = how === "all";
                if (how === "each") {
                    policy.show(req.details);
                    ok = await policy.prompts.confirm({message: `Delete ${req.path ?? req.id}?`, default: false});
                }
                out.push(record(req, step, ok ? "approve" : "deny", "prompt"));
            }
        });
    } else {
        for (const req of open) out.push(record(req, step, "deny", "default"));
    }
    // In the order the step asked, whoever answered: the report reads like the list that was shown.
    const order = new Map(requests.map((r, i) => [r.id, i]));
    return out.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
}

/** What to do after a step failed. */
export async function decideFailure(step: StepId, title: string, required: boolean, error: string, attempts: number, policy: ApprovalPolicy): Promise<FailureDecision> {
    const fallback: FailureAction = required ? "abort" : "skip";
    const answered = policy.answers?.failures[step];
    if (answered) {
        if (answered !== "retry" || attempts <= MAX_UNATTENDED_RETRIES) return {action: answered, source: "answers_file"};
        return {action: fallback, source: "default"};
    }
    if (!policy.interactive) return {action: fallback, source: "default"};
    policy.beforePrompt?.();
    policy.show(`\nStep "${title}" failed:\n  ${error.split("\n").join("\n  ")}`);
    const action = await policy.prompts.select({
        message: `Retry, skip or abort?${required ? " (this step is required: skipping it leaves the setup incomplete)" : ""}`,
        choices: [
            {value: "retry", name: "Retry the step"},
            {value: "skip", name: "Skip it and go on"},
            {value: "abort", name: "Abort setup (run again with --resume later)"}
        ],
        default: "retry"
    }) as FailureAction;
    return {action, source: "prompt"};
}
