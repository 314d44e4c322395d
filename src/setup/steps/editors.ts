/**
 * The editors step: the editors and agents installed for this user (Continue, Zed, Codex CLI, Claude Code, aider)
 * get this provider merged into their settings, each only with its own approval (`editors:<id>`) after its exact diff
 * was shown (the key redacted). The file's previous version is kept next to it and recorded, so
 * `npm run setup -- --restore-editors` puts it back byte for byte. The user's other settings are never replaced.
 */
import {createHash} from "node:crypto";
import fs from "node:fs";
import {readIndex} from "../../registry/index-file.js";
import type {ModelEntry} from "../../registry/types.js";
import {defaultProbe, type SystemProbe} from "../../service/probe.js";
import {chooseBestModel, fitsBudget, isChatModel, isGeneratedTestModel} from "../best-model.js";
import {lineDiff} from "../diff.js";
import {editorManifestPath, writeWithBackup} from "../editors/backup.js";
import {EDITORS} from "../editors/catalog.js";
import {EditorMergeError, type ProviderFacts} from "../editors/facts.js";
import {detectEditor, EDITOR_IDS, editorConfigFile, type EditorId} from "../editors/locations.js";
import {providerBaseUrl} from "../provider-url.js";
import type {ApprovalRequest} from "../records.js";
import {defineStep, outcome, type StepContext} from "./contract.js";
import type {SafetyData} from "./safety.js";
import {loadSetupConfig} from "./setup-config.js";
import {commandHint} from "../../command-hint.js";

export interface EditorRow {
    id: EditorId;
    title: string;
    file: string;
    found_by: string;
    /** ask: a change waits for editors:<id>; unchanged: already set up; unsupported: the file has a shape setup does not edit. */
    plan: "ask" | "unchanged" | "unsupported";
    reason: string | null;
    /** The file as the diff was made from it (null: it did not exist): a file changed since is not written. */
    before_sha256: string | null;
    notes: string[];
}

export interface EditorOutcomeRow extends Omit<EditorRow, "plan"> {
    result: "written" | "denied" | "unchanged" | "unsupported" | "changed since shown";
    backup: string | null;
}

interface EditorsPrep {
    rows: EditorRow[];
}

function sha(text: string | null): string | null {
    return text == null ? null : createHash("sha256").update(text).digest("hex");
}

function readText(file: string): string | null {
    try {
        return fs.readFileSync(file, "utf8");
    } catch {
        return null;
    }
}

function contextFor(m: ModelEntry, cfg: ReturnType<StepContext["config"]>): number {
    const train = m.metadata?.context_length ?? cfg.context_size;
    return cfg.models[m.name]?.context_size ?? Math.min(train, cfg.context_size);
}

/** What the settings will say, or why there is nothing to say yet. */
async function providerFacts(ctx: StepContext): Promise<{facts: ProviderFacts; keyFile: string | null} | {skip: string}> {
    const {config: cfg, keyFileMissing} = loadSetupConfig(ctx.configSource);
    if (keyFileMissing && cfg.auth.enable_api_key) return {skip: `the API key is not generated yet (${keyFileMissing}); the config step writes it`};
    const models = (await readIndex(cfg.paths.registry))?.models ?? [];
    const copies = new Set(((ctx.steps.safety?.data as SafetyData | null)?.duplicates ?? []).flatMap((d) => d.copies));
    const best = chooseBestModel(models, cfg, copies);
    if (!best.model) return {skip: "no chat model is installed, so there is nothing to point an editor at; add one (npm run pull, or copy .gguf files into models_dir) and run setup again"};
    const fim = models.filter((m) => isChatModel(m) && m.metadata?.has_fim === true && fitsBudget(m, cfg) && !copies.has(m.abs_path))
        .filter((m, _i, all) => all.every(isGeneratedTestModel) || !isGeneratedTestModel(m))
        .sort((a, b) => a.size_bytes - b.size_bytes)[0];
    return {
        facts: {
            baseUrl: providerBaseUrl(cfg.server_host, cfg.server_port), key: cfg.auth.enable_api_key ? cfg.apiKey : null, model: best.model.name,
            contextSize: contextFor(best.model, cfg), tools: best.model.metadata?.supports_tools === true, fimModel: fim?.name ?? null
        },
        keyFile: cfg.apiKeySource === "file" ? cfg.auth.api_key_file : null
    };
}

function redact(text: string, key: string | null, keyFile: string | null): string {
    return key ? text.split(key).join(`<the key${keyFile ? ` in ${keyFile}` : ""}>`) : text;
}

/** The diff as shown before the question: the whole new file when there was none, the key never in clear. */
function shownDiff(before: string | null, after: string, facts: ProviderFacts, keyFile: string | null): string {
    const b = before == null ? null : redact(before, facts.key, keyFile);
    const a = redact(after, facts.key, keyFile);
    if (b == null) return `(a new file)\n${a.replace(/\r?\n$/, "").split(/\r?\n/).map((l) => `+ ${l}`).join("\n")}`;
    return lineDiff(b, a);
}

export function createEditorsStep(probeFor: (ctx: StepContext) => SystemProbe = (ctx) => ({...defaultProbe(), env: ctx.env})) {
    return defineStep<EditorsPrep>({
        id: "editors",

        async prepare(ctx) {
            const probe = probeFor(ctx);
            const found = EDITOR_IDS.map((id) => ({id, by: detectEditor(id, probe)})).filter((e): e is {id: EditorId; by: string} => e.by != null);
            if (found.length === 0) {
                const where = EDITOR_IDS.map((id) => `${EDITORS[id].title} (${editorConfigFile(id, probe)})`).join(", ");
                return {summary: [`no editor or agent found; looked for ${where}`], approvals: [], data: {rows: []}, skip: "no editor or agent is installed for this user"};
            }
            const summary = found.map((e) => `found ${EDITORS[e.id].title}: ${e.by}`);
            if (ctx.planOnly) {
                summary.push("each one's settings are merged only with its editors:<name> answer, after its diff is shown; the previous file is kept as <file>.zc-backup-<time>");
                return {
                    summary, data: {rows: []},
                    approvals: found.map((e): ApprovalRequest => ({id: `editors:${e.id}`, kind: "editor", title: `Point ${EDITORS[e.id].title} at this provider`, details: ""}))
                };
            }
            const facts = await providerFacts(ctx);
            if ("skip" in facts) return {summary: [...summary, `skipped: ${facts.skip}`], approvals: [], data: {rows: []}, skip: facts.skip};
            const rows: EditorRow[] = [];
            const approvals: ApprovalRequest[] = [];
            for (const e of found) {
                const target = EDITORS[e.id];
                const file = editorConfigFile(e.id, probe);
                const before = readText(file);
                const row: EditorRow = {id: e.id, title: target.title, file, found_by: e.by, plan: "ask", reason: null, before_sha256: sha(before), notes: []};
                rows.push(row);
                let merged;
                try {
                    merged = target.merge(before, facts.facts, file);
                } catch (err) {
                    if (!(err instanceof EditorMergeError)) throw err;
                    row.plan = "unsupported";
                    row.reason = err.message;
                    summary.push(`${target.title}: not changed: ${err.message}`);
                    continue;
                }
                row.notes = merged.notes;
                if (merged.text === before) {
                    row.plan = "unchanged";
                    summary.push(`${target.title}: ${file} already uses this provider`);
                    continue;
                }
                summary.push(`${target.title}: merge the provider into ${file} (asks editors:${e.id})`);
                approvals.push({
                    id: `editors:${e.id}`, kind: "editor", title: `Point ${target.title} at this provider (${file})`,
                    details: `${file}${before == null ? " (created)" : ""}, the key redacted:\n${shownDiff(before, merged.text, facts.facts, facts.keyFile)}\n` +
                        `${before == null ? "Setup creates this file" : `The current file is kept as ${file}.zc-backup-<time>`}; ${commandHint("setup", "--restore-editors")} puts it back.` +
                        (merged.notes.length > 0 ? `\nThen: ${merged.notes.join("; ")}.` : "")
                });
            }
            return {summary, approvals, data: {rows}};
        },

        async apply(ctx, prep, decisions) {
            const cfg = ctx.config();
            const manifest = editorManifestPath(cfg.paths.logs);
            const facts = prep.rows.some((r) => r.plan === "ask") ? await providerFacts(ctx) : null;
            const out: EditorOutcomeRow[] = [];
            const findings: string[] = [];
            const warnings: string[] = [];
            for (const r of prep.rows) {
                const {plan, ...rest} = r;
                const row: EditorOutcomeRow = {...rest, result: plan === "ask" ? "denied" : plan, backup: null};
                out.push(row);
                if (plan === "unsupported") warnings.push(`${r.title}: ${r.reason ?? "not changed"}`);
                if (plan === "unchanged") findings.push(`${r.title}: ${r.file} already uses this provider`);
                if (plan !== "ask") continue;
                if (decisions[`editors:${r.id}`] !== "approve") {
                    findings.push(`${r.title}: not changed (editors:${r.id} not approved)`);
                    continue;
                }
                const before = readText(r.file);
                if (!facts || "skip" in facts || sha(before) !== r.before_sha256) {
                    row.result = "changed since shown";
                    warnings.push(`${r.title}: ${r.file} changed after its diff was shown, so it was not written; run setup again to see the new diff`);
                    continue;
                }
                const merged = EDITORS[r.id].merge(before, facts.facts, r.file);
                const change = writeWithBackup({editor: r.id, file: r.file, text: merged.text, manifest, runId: ctx.run.runId});
                row.result = "written";
                row.backup = change.backup;
                findings.push(`${r.title}: wrote ${r.file}${change.backup ? `; the previous version is ${change.backup}` : " (new file)"}${merged.notes.length > 0 ? `; ${merged.notes.join("; ")}` : ""}`);
            }
            const written = out.filter((r) => r.result === "written");
            const asked = out.filter((r) => prep.rows.find((p) => p.id === r.id)?.plan === "ask");
            if (written.length > 0) {
                ctx.out(["", `Editors and agents now pointed at this provider (undo with ${commandHint("setup", "--restore-editors")}):`,
                    ...written.map((r) => `  ${r.title}: ${r.file}${r.notes.length > 0 ? ` (${r.notes.join("; ")})` : ""}`)].join("\n"));
            }
            const words = out.map((r) => `${r.title} ${r.result}`).join(", ");
            const data = {editors: out, manifest};
            if (asked.length > 0 && written.length === 0 && asked.every((r) => r.result === "denied"))
                return outcome("denied", `no editor changed: ${words}`, {findings, warnings, data, reason: "no editors:<name> approved"});
            return outcome("done", words || "nothing to change", {findings, warnings, data});
        }
    });
}

export const editorsStep = createEditorsStep();
