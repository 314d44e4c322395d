/**
 * The safety step: the safe_to_delete list (duplicates, orphaned partial downloads, invalid GGUFs, unused projectors), one
 * approval per file (or delete:all), a git commit, then deletion of exactly the approved files. Only files in
 * models_dir are ever candidates: other tools' stores (Ollama, LM Studio, the HF cache) get advice, never deletion.
 */
import path from "node:path";
import {KEEP_RULE} from "../../audit/duplicates.js";
import {buildSafeToDeleteList, deleteApproved, type SafeToDeleteCandidate, type SafeToDeleteReport} from "../../audit/index.js";
import {isInside} from "../../download/names.js";
import {readIndex} from "../../registry/index-file.js";
import {scanModels} from "../../registry/scan.js";
import type {ModelEntry} from "../../registry/types.js";
import {deleteApprovalId} from "../approvals.js";
import {formatSize} from "../format.js";
import type {ApprovalRequest, CommitRecord} from "../records.js";
import {defineStep, outcome, StepError, type StepContext} from "./contract.js";
import type {ModelsData} from "./models.js";
import {keyFileRelative} from "./repo.js";

export interface CandidateRow {
    approval_id: string;
    path: string;
    abs_path: string;
    reason: SafeToDeleteCandidate["reason"];
    size_bytes: number;
    mtime_ms: number;
    detail: string;
    kept: string | null;
    answer: "approve" | "deny" | null;
    deleted: boolean;
}

export interface SafetyData {
    candidates: CandidateRow[];
    deleted: Array<{path: string; size_bytes: number; reason: string}>;
    kept: Array<{path: string; reason: string; why: string}>;
    freed_bytes: number;
    commit_before_delete: string | null;
    advice: Array<{path: string; source: string; command: string; detail: string}>;
    duplicates: SafeToDeleteReport["duplicates"];
    warnings: string[];
}

interface SafetyPrep {
    candidates: CandidateRow[];
    advice: SafetyData["advice"];
    duplicates: SafetyData["duplicates"];
    warnings: string[];
}

function rel(home: string, p: string): string {
    const r = path.relative(home, p);
    return r.startsWith("..") || path.isAbsolute(r) ? p : r.split(path.sep).join("/");
}

async function currentModels(ctx: StepContext): Promise<ModelEntry[]> {
    const cfg = ctx.config();
    const index = await readIndex(cfg.paths.registry);
    if (index) return index.models;
    return (await scanModels(cfg, {logger: ctx.logger, write: false})).index.models;
}

async function listing(ctx: StepContext): Promise<SafeToDeleteReport> {
    const cfg = ctx.config();
    const previous = (ctx.steps.models?.data as ModelsData | null)?.previous_names;
    const report = await buildSafeToDeleteList(cfg, await currentModels(ctx), {
        logger: ctx.logger, signal: ctx.signal, existingNames: previous ? new Set(previous) : undefined
    });
    // The audit already limits candidates to models_dir; setup checks again because deleting is irreversible.
    report.candidates = report.candidates.filter((c) => isInside(cfg.paths.models, c.path));
    return report;
}

const REASON_WORDS: Record<SafeToDeleteCandidate["reason"], string> = {
    duplicate: "duplicate", orphan_part: "orphaned partial download", invalid_gguf: "invalid GGUF", unused_projector: "unused projector"
};

export const safetyStep = defineStep<SafetyPrep>({
    id: "safety",

    async prepare(ctx) {
        if (ctx.planOnly) {
            return {
                summary: [
                    "build the safe_to_delete list (duplicates by sha256, orphaned partial downloads, invalid GGUFs, unused projectors) in models_dir",
                    `duplicates: ${KEEP_RULE}; the other copies are offered`,
                    "ask delete:<path> for each candidate (or delete:all); without an answer nothing is deleted",
                    "commit, then delete only the approved files; other tools' stores are never touched"
                ],
                approvals: [], data: {candidates: [], advice: [], duplicates: [], warnings: []}
            };
        }
        const report = await listing(ctx);
        const candidates: CandidateRow[] = report.candidates.map((c) => ({
            approval_id: deleteApprovalId(ctx.home, c.path), path: rel(ctx.home, c.path), abs_path: c.path, reason: c.reason,
            size_bytes: c.size_bytes, mtime_ms: c.mtime_ms, detail: c.detail, kept: c.kept ? rel(ctx.home, c.kept.path) : null, answer: null, deleted: false
        }));
        const approvals: ApprovalRequest[] = candidates.map((c) => ({
            id: c.approval_id, kind: "delete", path: c.path, size_bytes: c.size_bytes, reason: c.kept ? `${REASON_WORDS[c.reason]} of ${c.kept} (kept)` : REASON_WORDS[c.reason],
            title: `Delete ${c.path} (${REASON_WORDS[c.reason]}, ${formatSize(c.size_bytes)})`,
            details: `${c.path}  ${formatSize(c.size_bytes)}  ${REASON_WORDS[c.reason]}\n  ${c.detail}`
        }));
        const summary = candidates.length === 0
            ? ["no safe-to-delete candidates"]
            : [`${candidates.length} candidate(s), ${formatSize(report.reclaimable_bytes)} reclaimable; each needs delete:<path> or delete:all`,
                ...candidates.map((c) => `  ${c.path}  ${formatSize(c.size_bytes)}  ${REASON_WORDS[c.reason]}${c.kept ? ` of ${c.kept} (kept)` : ""}`)];
        if (candidates.some((c) => c.reason === "duplicate")) summary.push(`duplicates: ${KEEP_RULE}; the other copies are offered`);
        for (const a of report.advice) summary.push(`advice (not deleted by setup): ${a.path}: ${a.command}`);
        return {
            summary, approvals,
            data: {
                candidates,
                advice: report.advice.map((a) => ({path: a.path, source: a.source, command: a.command, detail: a.detail})),
                duplicates: report.duplicates, warnings: report.warnings
            }
        };
    },

    async apply(ctx, prep, decisions) {
        const rows = prep.candidates.map((c) => ({...c, answer: decisions[c.approval_id] ?? "deny"}));
        const approved = rows.filter((c) => c.answer === "approve");
        const warnings = [...prep.warnings];
        const findings: string[] = [];
        const commits: CommitRecord[] = [];
        let commitBefore: string | null = null;
        let freed = 0;
        const deleted: SafetyData["deleted"] = [];

        if (approved.length > 0) {
            if (!ctx.git.hasRepo()) throw new StepError("deletions happen only after a git commit, and the home has no git repository (step 1 did not run); nothing was deleted");
            const body = approved.map((c) => `delete ${c.path} (${REASON_WORDS[c.reason]}, ${c.size_bytes} bytes${c.kept ? `, kept copy ${c.kept}` : ""})`).join("\n");
            const commit = await ctx.git.commitAll(`setup: before deleting ${approved.length} approved file(s)`, {step: "safety", body, allowEmpty: true, protectedExtra: [keyFileRelative(ctx)]});
            if (commit) {
                commits.push(commit);
                commitBefore = commit.hash;
            }
            // The approvals were given on the first listing; its token belongs to that process and may have expired
            // (a long prompt, or --resume), so list again and delete only what is unchanged since it was approved.
            const fresh = await listing(ctx);
            const byPath = new Map(fresh.candidates.map((c) => [path.resolve(c.path), c]));
            const paths: string[] = [];
            for (const c of approved) {
                const now = byPath.get(path.resolve(c.abs_path));
                if (now && now.reason === c.reason && now.size_bytes === c.size_bytes && now.mtime_ms === c.mtime_ms) paths.push(now.path);
                else warnings.push(`${c.path} changed or is no longer a candidate since it was approved; not deleted`);
            }
            if (paths.length > 0) {
                const result = await deleteApproved(ctx.config(), fresh.candidates, paths, fresh.token, {logger: ctx.logger});
                for (const d of result.deleted) {
                    deleted.push({path: rel(ctx.home, d.path), size_bytes: d.size_bytes, reason: d.reason});
                    freed += d.size_bytes;
                }
                for (const f of result.failed) warnings.push(`could not delete ${rel(ctx.home, f.path)}: ${f.error}`);
            }
        }
        const deletedSet = new Set(deleted.map((d) => d.path));
        for (const r of rows) r.deleted = deletedSet.has(r.path);
        const kept = rows.filter((r) => !r.deleted).map((r) => ({
            path: r.path, reason: REASON_WORDS[r.reason], why: r.answer === "approve" ? "approved, but not deleted (see warnings)" : `${r.approval_id} not approved`
        }));
        for (const d of deleted) findings.push(`deleted ${d.path} (${d.reason}, ${formatSize(d.size_bytes)})`);
        for (const k of kept) findings.push(`kept ${k.path} (${k.reason}): ${k.why}`);
        const data: SafetyData = {
            candidates: rows, deleted, kept, freed_bytes: freed, commit_before_delete: commitBefore, advice: prep.advice, duplicates: prep.duplicates, warnings
        };
        if (rows.length === 0) return outcome("done", "nothing to delete", {findings, warnings, data: {...data}});
        if (approved.length === 0)
            return outcome("denied", `${rows.length} candidate(s) kept: no deletion approved`, {findings, warnings, data: {...data}, reason: "no deletion approved"});
        return outcome("done", `deleted ${deleted.length} of ${rows.length} candidate(s), ${formatSize(freed)} freed`, {findings, warnings, commits, data: {...data}});
    }
});
