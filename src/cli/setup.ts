/**
 * `npm run setup -- [--home DIR] [--config FILE] [--plan] [--yes|--no-yes] [--non-interactive] [--answers FILE] [--resume]
 *                   [--no-serve|--serve] [--skip STEP[,STEP]] [--full-tests] [--restore-editors]`
 *
 * Walks the steps of tasks/provider-setup.yaml through the XState machine in src/setup/machine.ts: an interactive run
 * shows the plan and asks once before its first change, asks again before anything destructive, writes the reports,
 * and ends with where the provider and its key are, then the provider serving (unless --no-serve).
 */
import fs from "node:fs";
import path from "node:path";
import {ConfigError, defaultProviderHome, parseCommonArgs} from "../config/load.js";
import type {ProviderConfigFile} from "../config/schema.js";
import {createLogger, type Logger} from "../log/logger.js";
import {inquirerPromptFns, loadAnswersFile, type AnswersFile, type ApprovalPolicy, type PromptFns} from "../setup/approvals.js";
import {closingFacts, closingLines} from "../setup/closing.js";
import {editorManifestPath, restoreEditorFiles} from "../setup/editors/backup.js";
import {ForegroundProvider} from "../setup/foreground.js";
import {SetupGit} from "../setup/git.js";
import {createSetupMachine, type MachineDeps} from "../setup/machine.js";
import {planSetup, renderPlan} from "../setup/plan.js";
import {ConsoleProgress} from "../setup/progress.js";
import type {PersistedState, RunOptionsRecord, SetupContext} from "../setup/records.js";
import {createSetupActor, resumedOptions, type SetupActor} from "../setup/resume.js";
import {initialContext, type SetupInput} from "../setup/run-context.js";
import {reportPaths} from "../setup/run-report.js";
import {newRunId, runToEnd, writeFinalReport} from "../setup/run.js";
import {readStateFile, stateFilePath} from "../setup/state-file.js";
import {isStepId, STEP_IDS, type StepId} from "../setup/step-ids.js";
import type {StepDefinition} from "../setup/steps/contract.js";
import {CheckServerPool} from "../setup/steps/provider-check.js";
import type {SafetyData} from "../setup/steps/safety.js";
import {loadSetupConfig, type ConfigSource} from "../setup/steps/setup-config.js";
import {loadTasklist, type TaskDef} from "../setup/tasklist.js";
import {acquireLock, LockHeldError, type LockHandle} from "../watchdog/lock.js";
import {isEntryPoint, renderTable} from "./common.js";
import {commandHint} from "../command-hint.js";

const USAGE = `usage: npm run setup -- [options]
  --plan               print every step, what it would change and which approvals it would ask; change nothing
  --yes, -y            approve everything except deletions (those always need an explicit answer)
  --no-yes             ask again (with --resume: undoes a recorded --yes)
  --non-interactive    never prompt: answers come from --answers, unanswered approvals are denied,
                       failed steps abort when required and are skipped when optional
  --answers FILE       YAML answers: approval id -> approve|deny, failure:<step> -> retry|skip|abort
  --resume             continue the interrupted or aborted run recorded in logs/setup_state.json
  --no-serve           end after the reports instead of launching the provider (CI)
  --serve              launch the provider at the end (the default; with --resume: undoes a recorded --no-serve)
  --skip STEP[,STEP]   skip steps by id (${STEP_IDS.join(", ")})
  --full-tests         the tests step runs the project's development suite instead of the provider checks
  --restore-editors    put back every editor or agent configuration file setup changed (from its backups), then exit
  --home DIR           provider home (default: this checkout)
  --config FILE        configuration file (default: <home>/config/provider_config.json)

Exit status: 0 done, 3 done but a step failed and was skipped, 1 aborted, 2 usage or configuration error,
4 another setup run is working on this home, 130 interrupted (continue with --resume).`;

/** Exit status when another setup run holds the home's lock. */
export const EXIT_LOCKED = 4;
/** Next to logs/setup_state.json: one setup run per home, since two would interleave commits and state writes. */
export const SETUP_LOCK_FILE = "setup.lock";

export interface SetupArgs {
    home?: string;
    configPath?: string;
    plan: boolean;
    yes: boolean;
    nonInteractive: boolean;
    answers?: string;
    resume: boolean;
    serve: boolean;
    skip: StepId[];
    fullTests: boolean;
    restoreEditors: boolean;
    help: boolean;
    /** Which of --yes/--no-yes, --serve/--no-serve and --full-tests were given, so that --resume replaces only those. */
    given: {yes: boolean; serve: boolean; fullTests: boolean};
}

export function parseSetupArgs(argv: string[]): SetupArgs {
    const common = parseCommonArgs(argv);
    const out: SetupArgs = {
        home: common.home, configPath: common.configPath, plan: false, yes: false, nonInteractive: false, resume: false, serve: true, skip: [],
        fullTests: false, restoreEditors: false, help: false, given: {yes: false, serve: false, fullTests: false}
    };
    const rest = common.rest;
    for (let i = 0; i < rest.length; i++) {
        const a = rest[i]!;
        const [flag, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
        const value = (): string => {
            const v = inline ?? rest[++i];
            if (v == null || v === "") throw new ConfigError(`${flag} needs a value\n${USAGE}`);
            return v;
        };
        switch (flag) {
            case "--plan": out.plan = true; break;
            case "--yes": case "-y": out.yes = true; out.given.yes = true; break;
            case "--no-yes": out.yes = false; out.given.yes = true; break;
            case "--non-interactive": out.nonInteractive = true; break;
            case "--answers": out.answers = value(); break;
            case "--resume": out.resume = true; break;
            case "--no-serve": out.serve = false; out.given.serve = true; break;
            case "--serve": out.serve = true; out.given.serve = true; break;
            case "--full-tests": out.fullTests = true; out.given.fullTests = true; break;
            case "--restore-editors": out.restoreEditors = true; break;
            case "--help": case "-h": out.help = true; break;
            case "--skip":
                for (const s of value().split(",").map((x) => x.trim()).filter(Boolean)) {
                    if (!isStepId(s)) throw new ConfigError(`--skip: unknown step "${s}"; steps are ${STEP_IDS.join(", ")}`);
                    if (!out.skip.includes(s)) out.skip.push(s);
                }
                break;
            default: throw new ConfigError(`unknown argument ${JSON.stringify(a)}\n${USAGE}`);
        }
    }
    return out;
}

/** Seams for tests: prompts, output, environment and config overrides; never the machine's logic. */
export interface SetupCliDeps {
    env?: NodeJS.ProcessEnv;
    out?: (text: string) => void;
    err?: (text: string) => void;
    prompts?: PromptFns;
    /** Treat the terminal as interactive (tests driving prompts); default: stdin and stdout are TTYs. */
    interactive?: boolean;
    configOverrides?: Partial<ProviderConfigFile>;
    logger?: Logger;
    steps?: Partial<Record<StepId, StepDefinition<unknown>>>;
    launch?: MachineDeps["launch"];
    /** Resolves when the foreground provider should stop (tests); default: Ctrl+C / SIGTERM. */
    stopSignal?: Promise<void>;
}

function summaryTable(ctx: SetupContext): string {
    const rows = ctx.order.map((id) => {
        const s = ctx.steps[id];
        return [String(s.index), s.title, s.status, s.duration_ms != null ? `${(s.duration_ms / 1000).toFixed(1)}s` : "-", (s.summary ?? s.reason ?? "").split("\n")[0]!.slice(0, 90)];
    });
    return renderTable(["#", "STEP", "STATUS", "TIME", "SUMMARY"], rows);
}

/** Ctrl+C in an @inquirer prompt rejects it with ExitPromptError: that is an interruption, not a failed step. */
function interruptible(fns: PromptFns, interrupt: () => void): PromptFns {
    const guard = <T>(p: Promise<T>): Promise<T> => p.catch((e: unknown) => {
        if (e instanceof Error && e.name === "ExitPromptError") {
            interrupt();
            return new Promise<T>(() => undefined);
        }
        throw e;
    });
    return {confirm: (c) => guard(fns.confirm(c)), select: (c) => guard(fns.select(c))};
}

/** The lines every run ends with (the URL, where the key is, snippets for the best model); a broken config only loses them. */
async function printClosing(configSource: ConfigSource, ctx: SetupContext, out: (t: string) => void): Promise<void> {
    try {
        const {config, keyFileMissing} = loadSetupConfig(configSource);
        const safety = ctx.steps.safety?.data as SafetyData | null;
        const copies = new Set((safety?.duplicates ?? []).flatMap((d) => d.copies));
        out(closingLines(await closingFacts(config, copies, keyFileMissing)));
    } catch (e) {
        out(`\n(The closing summary is missing: the configuration does not load: ${(e as Error).message})`);
    }
}

/** `--restore-editors`: every editor or agent file setup changed goes back to its backup, newest change first. */
function restoreEditors(configSource: ConfigSource, out: (t: string) => void, err: (t: string) => void): number {
    let logsDir: string;
    try {
        logsDir = loadSetupConfig(configSource).config.paths.logs;
    } catch (e) {
        err(e instanceof ConfigError ? `error: ${e.message}` : String(e));
        return 2;
    }
    const result = restoreEditorFiles(editorManifestPath(logsDir));
    for (const line of result.lines) out(line);
    for (const p of result.problems) err(p);
    return result.problems.length > 0 ? 3 : 0;
}

/** Runs setup; resolves with the exit status. */
export async function main(argv: string[], deps: SetupCliDeps = {}): Promise<number> {
    const env = deps.env ?? process.env;
    const write = deps.out ?? ((t: string) => void process.stdout.write(t));
    const out = (t: string): void => write(t.endsWith("\n") ? t : `${t}\n`);
    const err = deps.err ?? ((t: string) => void process.stderr.write(t.endsWith("\n") ? t : `${t}\n`));

    let args: SetupArgs;
    let tasks: TaskDef[];
    let answers: AnswersFile | null = null;
    try {
        args = parseSetupArgs(argv);
        if (args.help) {
            out(USAGE);
            return 0;
        }
        tasks = loadTasklist();
        if (args.answers) answers = loadAnswersFile(args.answers);
    } catch (e) {
        err(e instanceof Error ? e.message : String(e));
        return 2;
    }
    const home = path.resolve(args.home ?? env.ZOMBIECODER_HOME ?? defaultProviderHome(env));
    const configSource: ConfigSource = {home, env, configPath: args.configPath, overrides: deps.configOverrides};
    const tty = deps.interactive ?? (Boolean(process.stdin.isTTY) && Boolean(process.stdout.isTTY));
    const interactive = !args.nonInteractive && tty;
    if (args.restoreEditors) return restoreEditors(configSource, out, err);
    if (!args.plan && !args.resume && !interactive) {
        const how = `${answers ? `answers from ${answers.path}` : "no answers file"}${args.yes ? ", --yes" : ""}; an approval without an answer is denied`;
        out(args.nonInteractive
            ? `Non-interactive run: setup goes ahead without showing the plan or asking (${how}).`
            : `No terminal to ask on: running non-interactively, without showing the plan or asking (${how}).`);
    }

    let options: RunOptionsRecord = {interactive, yes: args.yes, answers_file: answers?.path ?? null, serve: args.serve, skip: args.skip, full_tests: args.fullTests};
    const progress = new ConsoleProgress(write, tty && !args.plan && deps.out == null, tasks.length);
    // Set once the machine runs; Ctrl+C inside a prompt lands here (the terminal is in raw mode, so no SIGINT arrives).
    let onInterrupt: () => void = () => process.exit(130);
    const abort = new AbortController();
    const policy: ApprovalPolicy = {
        interactive, yes: args.yes, answers, prompts: deps.prompts ?? interruptible(inquirerPromptFns, () => onInterrupt()),
        show: (t) => {
            progress.pause();
            out(t);
        }
    };

    if (args.plan) {
        // No folders, no logger file, no git: --plan only reads.
        const planDeps = {home, env, configSource, logger: deps.logger ?? createLogger({level: "silent", quiet: true}), out, git: new SetupGit(home, env), steps: deps.steps};
        const input: SetupInput = {runId: "plan", startedAt: new Date().toISOString(), home, options, tasks};
        write(renderPlan(await planSetup(tasks, planDeps, initialContext(input)), home));
        out("Run it with: npm run setup" + (args.home ? ` -- --home ${JSON.stringify(home)}` : ""));
        return 0;
    }

    // An interactive run shows the plan and asks once before its first change (a folder, a file, a git command).
    if (interactive && !args.resume) {
        if (args.yes) out("--yes: starting without asking (deletions and editor changes are still asked).");
        else {
            const planDeps = {home, env, configSource, logger: deps.logger ?? createLogger({level: "silent", quiet: true}), out, git: new SetupGit(home, env), steps: deps.steps};
            const input: SetupInput = {runId: "plan", startedAt: new Date().toISOString(), home, options, tasks};
            let planText: string;
            try {
                planText = renderPlan(await planSetup(tasks, planDeps, initialContext(input)), home);
            } catch (e) {
                err(e instanceof ConfigError ? `error: ${e.message}` : String(e));
                return 2;
            }
            write(planText);
            const go = await policy.prompts.confirm({
                message: "Start setup with this plan? (it asks again before deleting a file, installing a service or changing an editor's settings)",
                default: true
            });
            if (!go) {
                out(`Setup not started; nothing was changed. Run ${commandHint("setup", "--plan")} to see the plan again.`);
                return 0;
            }
        }
    }

    let logsDir: string;
    try {
        fs.mkdirSync(home, {recursive: true});
        logsDir = loadSetupConfig(configSource).config.paths.logs;
    } catch (e) {
        err(e instanceof ConfigError ? `error: ${e.message}` : String(e));
        return 2;
    }
    const stateFile = stateFilePath(logsDir);
    let lock: LockHandle;
    try {
        fs.mkdirSync(logsDir, {recursive: true});
        lock = acquireLock(path.join(logsDir, SETUP_LOCK_FILE), {holder: "setup run"});
    } catch (e) {
        if (e instanceof LockHeldError) {
            err(`another setup run (pid ${e.holder.pid}, started ${e.holder.started_at}) is working on ${home}; wait for it to finish or stop it, then run setup again. ` +
                `Its lock is ${e.lockPath}; a lock whose process has died is taken over by the next run.`);
            return EXIT_LOCKED;
        }
        err(`cannot lock ${path.join(logsDir, SETUP_LOCK_FILE)}: ${(e as Error).message}`);
        return 2;
    }
    // Ctrl+C ends the process with process.exit; the lock goes with it rather than waiting to be found stale.
    const releaseOnExit = (): void => lock.release();
    process.on("exit", releaseOnExit);
    try {
        let persisted: PersistedState | null = null;
        try {
            persisted = readStateFile(stateFile);
        } catch (e) {
            if (args.resume) {
                err((e as Error).message);
                return 2;
            }
        }
        if (args.resume) {
            if (!persisted) {
                err(`nothing to resume: ${stateFile} does not exist. Run npm run setup to start.`);
                return 2;
            }
            if (persisted.status === "completed") {
                err(`the last setup run (${persisted.run_id}) already finished; run npm run setup without --resume to start a new one.`);
                return 2;
            }
            options = resumedOptions(persisted.options, options, {yes: args.given.yes, serve: args.given.serve, answers: answers != null, fullTests: args.given.fullTests});
            if (!answers && options.answers_file) {
                try {
                    answers = loadAnswersFile(options.answers_file);
                } catch (e) {
                    err((e as Error).message);
                    return 2;
                }
            }
            policy.interactive = options.interactive;
            policy.yes = options.yes;
            policy.answers = answers;
        } else if (persisted && persisted.status !== "completed") {
            out(`Note: an ${persisted.status === "running" ? "interrupted" : "aborted"} run (${persisted.run_id}) is recorded in ${stateFile}; starting a new run (continue the old one with --resume instead).`);
        }

        const logger = deps.logger ?? createLogger({logsDir, name: "setup", quiet: true, level: "info"});
        const foreground = new ForegroundProvider();
        const checkServers = new CheckServerPool();
        const machineDeps: MachineDeps = {
            home, env, configSource, logger, out: (t) => progress.note(t), git: new SetupGit(home, env), policy, steps: deps.steps, progress, launch: deps.launch,
            signal: abort.signal, foreground, checkServers,
            providerLogger: () => deps.logger ?? (() => {
                const cfg = loadSetupConfig(configSource).config;
                return createLogger({level: cfg.log_level, logsDir: cfg.paths.logs, name: "provider"});
            })()
        };
        const machine = createSetupMachine(tasks, machineDeps);
        const input: SetupInput = {runId: persisted && args.resume ? persisted.run_id : newRunId(), startedAt: new Date().toISOString(), home, options, tasks};

        let actor: SetupActor;
        try {
            const created = createSetupActor(machine, input, args.resume ? persisted : null);
            actor = created.actor;
            if (created.note) out(created.note);
        } catch (e) {
            err(`cannot restore ${stateFile}: ${(e as Error).message}. Delete it to start afresh.`);
            return 2;
        }

        let interrupted = false;
        const onSignal = (): void => {
            if (interrupted) process.exit(130);
            interrupted = true;
            progress.pause();
            // The state file already holds the last transition: the interrupted step starts over on --resume.
            abort.abort(new Error("interrupted"));
            err(`\nInterrupted. Continue later with: ${commandHint("setup", `--resume${args.home ? ` --home ${JSON.stringify(home)}` : ""}`)}`);
            setTimeout(() => process.exit(130), 200).unref();
        };
        onInterrupt = onSignal;
        const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM"];
        const isCli = deps.out == null;
        if (isCli) for (const s of signals) process.on(s, onSignal);

        const ctx = await runToEnd(actor, {stateFile, home, logger});
        await checkServers.close();
        progress.stop();
        try {
            writeFinalReport(ctx, configSource);
        } catch (e) {
            err(`could not write the final report: ${(e as Error).message}`);
        }

        out("");
        out(summaryTable(ctx));
        const failed = ctx.order.filter((id) => ctx.steps[id].status === "failed");
        if (ctx.status === "aborted") {
            const at = failed.at(-1);
            err(`\nSetup aborted${at ? ` at step "${ctx.steps[at].title}": ${ctx.steps[at].errors.at(-1) ?? ""}` : ""}`);
            err(`Report: ${reportPaths(home, logsDir).report}`);
            await printClosing(configSource, ctx, out);
            if (isCli) for (const s of signals) process.off(s, onSignal);
            return 1;
        }
        out(`\nReports: ${reportPaths(home, logsDir).summary} and ${reportPaths(home, logsDir).report}`);
        if (ctx.launch) out(`Provider: ${ctx.launch.mode === "none" ? ctx.launch.detail : `${ctx.launch.url} (${ctx.launch.detail})`}`);
        await printClosing(configSource, ctx, out);
        if (isCli) for (const s of signals) process.off(s, onSignal);

        // The setup work is over: a provider serving in this terminal does not keep other setup runs out.
        lock.release();
        if (foreground.server) {
            await (deps.stopSignal ?? new Promise<void>((resolve) => {
                for (const s of signals) process.once(s, () => resolve());
            }));
            out("Stopping the provider...");
            await foreground.close();
        }
        return failed.length > 0 ? 3 : 0;
    } finally {
        lock.release();
        process.off("exit", releaseOnExit);
    }
}

if (isEntryPoint(import.meta.url)) {
    main(process.argv.slice(2)).then((code) => {
        process.exitCode = code;
        // Runner children and transports can keep the loop alive after the provider stopped; the work is done.
        setTimeout(() => process.exit(code), 300).unref();
    }, (e: unknown) => {
        process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
        process.exitCode = 1;
    });
}
