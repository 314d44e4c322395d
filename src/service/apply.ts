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
}

export interface FileOps {
    mkdir(dir: string): void;
    write(file: string, content: string, mode?: number): void;
    remove(file: string): void;
}

export const realFileOps: FileOps = {
    mkdir: (dir) => fs.mkdirSync(dir, {recursive: true}),
    write(file, content, mode) {
        fs.mkdirSync(path.dirname(file), {recursive: true});
        fs.writeFileSync(file, content, {encoding: "utf8", mode});
        // writeFileSync's mode only applies to a new file; an overwritten one keeps its old bits otherwise.
        if (mode != null && process.platform !== "win32") fs.chmodSync(file, mode);
    },
    remove: (file) => fs.rmSync(file, {force: true})
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
    if (step.kind !== "run" || !map.has(step.file)) return step;
    return {...step, file: map.get(step.file)!};
}

async function runStep(step: PlanStep, plan: ServicePlan, ctx: {runner: CommandRunner; logger: Logger; files: FileOps}, timeoutMs?: number): Promise<StepOutcome> {
    const {runner, logger, files} = ctx;
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
            case "run": {
                const shown = formatCommand(step.file, step.args, plan.pathStyle);
                const r = await runner(step.file, step.args, {timeoutMs});
                const ok = !r.failed && r.exitCode === 0;
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
    const what = o.step.kind === "run" ? formatCommand(o.step.file, o.step.args, plan.pathStyle) : `${o.step.kind} ${o.step.path}`;
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
    const ctx = {runner, logger, files: opts.fileOps ?? realFileOps};
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
        const step = substitute(raw, map);
        const o = await runStep(step, plan, ctx);
        outcomes.push(o);
        if (o.ok) continue;
        const onError: RunStep["onError"] = step.kind === "run" ? step.onError : "abort";
        if (onError === "ignore") continue;
        if (onError === "warn") {
            warnings.push(failureText(o, plan));
            continue;
        }
        const message = failureText(o, plan);
        if (plan.rollback.length > 0) {
            logger.warn(`rolling back the partly applied ${plan.action}`);
            for (const r of plan.rollback) await runStep(substitute(r, map), plan, ctx);
            return result("failed", `${message}. What was done has been undone.`, {rolledBack: true});
        }
        return result("failed", message);
    }
    logger.info(`${plan.action} of ${plan.component} service ${plan.serviceName} done`);
    return result("done", `${plan.action} of ${plan.serviceName}: done`);
}
