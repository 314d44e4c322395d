import fs from "node:fs";
import path from "node:path";
import {silentLogger, type Logger} from "../log/logger.js";
import {formatCommand} from "./plan.js";
import {osFromPlatform} from "./probe.js";
import {execaRunner, type CommandRunner} from "./runner.js";
import type {PlanStep, RunStep, ServicePlan} from "./types.js";

/** Asked before anything changes; returning false leaves the machine untouched. */
export type ApproveFn = (question: string) => Promise<boolean> | boolean;

export interface ApplyOptions {
    /** A question callback, or `true` for `--yes` (approve everything). */
    approve: ApproveFn | true;
    runner?: CommandRunner;
    logger?: Logger;
    /** How long a prerequisite (a package manager install) may take. */
    prerequisiteTimeoutMs?: number;
    /** Looks for placeholder programs after the prerequisites; tests replace it to stand for a Windows disk. */
    exists?: (file: string) => boolean;
    /** File operations; tests replace them to apply a plan built for another OS. */
    fileOps?: FileOps;
    /** The pause between two polls of a `wait` step; tests make it instant. */
    sleep?: (ms: number) => Promise<void>;
}

export interface FileOps {
    mkdir(dir: string): void;
    write(file: string, content: string, mode?: number): void;
    remove(file: string): void;
    exists(file: string): boolean;
    copy(from: string, to: string): void;
    /** Replaces `to` if it exists. */
    rename(from: string, to: string): void;
}

export const realFileOps: FileOps = {
    mkdir: (dir) => fs.mkdirSync(dir, {recursive: true}),
    write(file, content, mode) {
        fs.mkdirSync(path.dirname(file), {recursive: true});
        fs.writeFileSync(file, content, {encoding: "utf8", mode});
        // writeFileSync's mode only applies to a new file; an overwritten one keeps its old bits otherwise.
        if (mode != null && process.platform !== "win32") fs.chmodSync(file, mode);
    },
    remove: (file) => fs.rmSync(file, {force: true}),
    exists: (file) => fs.existsSync(file),
    // copyFileSync keeps the source's permission bits, so a restored unit is as readable as the original.
    copy: (from, to) => fs.copyFileSync(from, to),
    rename: (from, to) => fs.renameSync(from, to)
};

export interface StepOutcome {
    step: PlanStep;
    ok: boolean;
    exitCode?: number | null;
    stdout?: string;
    stderr?: string;
    message?: string;
}

export interface ApplyResult {
    status: "done" | "declined" | "blocked" | "failed";
    message: string;
    outcomes: StepOutcome[];
    rolledBack: boolean;
    warnings: string[];
    manualSteps?: string[];
}

const PREREQUISITE_TIMEOUT_MS = 15 * 60_000;

async function ask(approve: ApplyOptions["approve"], question: string): Promise<boolean> {
    return approve === true ? true : await approve(question);
}

function substitute(step: PlanStep, map: Map<string, string>): PlanStep {
    if ((step.kind !== "run" && step.kind !== "wait") || !map.has(step.file)) return step;
    return {...step, file: map.get(step.file)!};
}

/** What the steps of one apply found out (did an earlier install exist?), for the steps and rollback that depend on it. */
type Facts = Map<string, boolean>;

interface ApplyContext {
    runner: CommandRunner;
    logger: Logger;
    files: FileOps;
    facts: Facts;
    sleep: (ms: number) => Promise<void>;
}

/** A step whose condition does not hold is left out; so is one whose fact was never recorded. */
function applies(step: PlanStep, facts: Facts): boolean {
    if (!step.when) return true;
    const v = facts.get(step.when.fact);
    return v !== undefined && v === step.when.is;
}

const realSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function runStep(step: PlanStep, plan: ServicePlan, ctx: ApplyContext, timeoutMs?: number): Promise<StepOutcome> {
    const {runner, logger, files, facts} = ctx;
    try {
        switch (step.kind) {
            case "mkdir":
                files.mkdir(step.path);
                logger.info({path: step.path}, `created folder ${step.path}`);
                return {step, ok: true};
            case "write":
                files.write(step.path, step.content, step.mode);
                logger.info({path: step.path}, `wrote ${step.path} (${step.description})`);
                return {step, ok: true};
            case "remove":
                files.remove(step.path);
                logger.info({path: step.path}, `removed ${step.path}`);
                return {step, ok: true};
            case "backup": {
                const existed = files.exists(step.path);
                if (existed) files.copy(step.path, step.backupPath);
                else files.remove(step.backupPath);
                facts.set(step.sets, existed);
                logger.info({path: step.path, existed}, existed ? `kept a copy of ${step.path} in ${step.backupPath}` : `no earlier ${step.path} to keep`);
                return {step, ok: true};
            }
            case "restore": {
                const existed = facts.get(step.fact);
                if (existed === undefined) return {step, ok: true};
                if (existed && files.exists(step.backupPath)) {
                    files.rename(step.backupPath, step.path);
                    logger.info({path: step.path}, `put the earlier ${step.path} back`);
                } else if (!existed) {
                    files.remove(step.path);
                    logger.info({path: step.path}, `removed ${step.path}`);
                }
                return {step, ok: true};
            }
            case "wait": {
                const shown = formatCommand(step.file, step.args, plan.pathStyle);
                const re = new RegExp(step.until);
                const polls = Math.max(1, Math.ceil(step.timeoutMs / step.intervalMs));
                for (let i = 0; i < polls; i++) {
                    const r = await runner(step.file, step.args, {timeoutMs: Math.max(step.intervalMs, 15_000)});
                    if (r.failed || r.exitCode !== 0) {
                        logger.warn({command: shown, exitCode: r.exitCode}, `failed while waiting: ${shown}`);
                        return {step, ok: false, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, message: r.message};
                    }
                    if (re.test(r.stdout)) {
                        logger.info({command: shown, polls: i + 1}, `${shown}: ${step.untilText}`);
                        return {step, ok: true, exitCode: 0, stdout: r.stdout};
                    }
                    if (i + 1 < polls) await ctx.sleep(step.intervalMs);
                }
                logger.warn({command: shown}, `still not ${step.untilText} after ${step.timeoutMs / 1000} s`);
                return {step, ok: false, message: `still not ${step.untilText} after ${step.timeoutMs / 1000} s`};
            }
            case "run": {
                const shown = formatCommand(step.file, step.args, plan.pathStyle);
                const r = await runner(step.file, step.args, {timeoutMs});
                const exitedZero = !r.failed && r.exitCode === 0;
                if (step.sets) {
                    // A question: the answer is the exit status, and "no" is not a failure.
                    facts.set(step.sets, exitedZero);
                    logger.info({command: shown, exitCode: r.exitCode}, `${step.description}: ${exitedZero ? "yes" : "no"}`);
                    return {step, ok: true, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr};
                }
                const ok = exitedZero;
                const log = {command: shown, exitCode: r.exitCode, stderr: r.stderr.slice(0, 2000)};
                if (ok) logger.info(log, `ran ${shown}`);
                else if (step.onError === "ignore") logger.debug(log, `ran ${shown} (failure ignored: ${step.description})`);
                else logger.warn(log, `failed: ${shown}`);
                return {step, ok, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, message: r.message};
            }
        }
    } catch (err) {
        logger.warn({err}, `step failed: ${step.description}`);
        return {step, ok: false, message: (err as Error).message};
    }
}

function failureText(o: StepOutcome, plan: ServicePlan): string {
    const what = o.step.kind === "run" || o.step.kind === "wait" ? formatCommand(o.step.file, o.step.args, plan.pathStyle) : `${o.step.kind} ${o.step.path}`;
    const detail = (o.stderr?.trim() || o.stdout?.trim() || o.message || (o.exitCode != null ? `exit code ${o.exitCode}` : "")).split("\n").slice(0, 5).join(" / ");
    return `${what} failed${detail ? `: ${detail}` : ""}`;
}

/**
 * Applies a plan from `buildServicePlan`: asks for approval, runs prerequisites (each approved on its own),
 * then the steps in order. A failing step rolls back what was done, so no half-installed service remains.
 */
export async function applyServicePlan(plan: ServicePlan, opts: ApplyOptions): Promise<ApplyResult> {
    const runner = opts.runner ?? execaRunner;
    const logger = opts.logger ?? silentLogger;
    const outcomes: StepOutcome[] = [];
    const warnings: string[] = [];
    const ctx: ApplyContext = {runner, logger, files: opts.fileOps ?? realFileOps, facts: new Map(), sleep: opts.sleep ?? realSleep};
    const result = (status: ApplyResult["status"], message: string, extra: Partial<ApplyResult> = {}): ApplyResult =>
        ({status, message, outcomes, rolledBack: false, warnings, ...extra});

    if (plan.blocked) {
        logger.warn({reason: plan.blocked.reason}, `cannot ${plan.action} the service`);
        return result("blocked", plan.blocked.reason, {manualSteps: plan.blocked.manualSteps});
    }
    // Real file operations with another OS's paths would create nonsense (a folder named "C:\\...").
    if (!opts.fileOps && plan.os !== osFromPlatform(process.platform))
        throw new Error(`this plan is for ${plan.os}, but this machine runs ${osFromPlatform(process.platform)}`);
    if (plan.changesSystem && !(await ask(opts.approve, `${plan.action} the ${plan.component} service "${plan.serviceName}" (${plan.steps.length} steps)?`))) {
        logger.info(`${plan.action} of ${plan.serviceName} declined; nothing changed`);
        return result("declined", "Declined; nothing was changed.");
    }

    for (const pre of plan.prerequisites) {
        const shown = formatCommand(pre.file, pre.args, plan.pathStyle);
        if (!(await ask(opts.approve, `${pre.description}? It runs: ${shown}`))) {
            const manual = plan.placeholders.flatMap((p) => p.missingSteps.slice(1));
            return result("declined", `Declined: ${pre.description}. Nothing was changed.`, {manualSteps: manual});
        }
        const o = await runStep(pre, plan, ctx, opts.prerequisiteTimeoutMs ?? PREREQUISITE_TIMEOUT_MS);
        outcomes.push(o);
        if (!o.ok) {
            const manual = plan.placeholders.flatMap((p) => p.missingSteps.slice(1));
            return result("failed", `${failureText(o, plan)}. The service was not installed.`, {manualSteps: manual});
        }
    }

    const map = new Map<string, string>();
    for (const p of plan.placeholders) {
        const found = p.candidates.find((c) => (opts.exists ?? fs.existsSync)(c));
        if (!found) {
            logger.warn({candidates: p.candidates}, `${p.placeholder} not found after the prerequisites`);
            return result("blocked", p.missingSteps[0] ?? `${p.placeholder} not found`, {manualSteps: p.missingSteps.slice(1)});
        }
        map.set(p.placeholder, found);
    }

    for (const raw of plan.steps) {
        if (!applies(raw, ctx.facts)) continue;
        const step = substitute(raw, map);
        const o = await runStep(step, plan, ctx);
        outcomes.push(o);
        if (o.ok) continue;
        const onError: RunStep["onError"] = step.kind === "run" || step.kind === "wait" ? step.onError : "abort";
        if (onError === "ignore") continue;
        if (onError === "warn") {
            warnings.push(failureText(o, plan));
            continue;
        }
        const message = failureText(o, plan);
        if (plan.rollback.length > 0) {
            logger.warn(`rolling back the partly applied ${plan.action}`);
            for (const r of plan.rollback) if (applies(r, ctx.facts)) await runStep(substitute(r, map), plan, ctx);
            return result("failed", `${message}. What was done has been undone.`, {rolledBack: true});
        }
        return result("failed", message);
    }
    logger.info(`${plan.action} of ${plan.component} service ${plan.serviceName} done`);
    return result("done", `${plan.action} of ${plan.serviceName}: done`);
}
