/**
 * `npm run service -- install|uninstall|start|stop|restart|status [--dry-run] [--yes] [--watchdog] [--scope user|system]`
 * (plus `--home DIR` and `--config FILE`).
 */
import {confirm} from "@inquirer/prompts";
import {ConfigError, loadConfig, parseCommonArgs, type ProviderConfig} from "../config/load.js";
import {createLogger, type Logger} from "../log/logger.js";
import {applyServicePlan, type ApproveFn} from "../service/apply.js";
import {detectInstalledService, serviceStatus} from "../service/control.js";
import {buildServicePlan, describePlan} from "../service/plan.js";
import type {SystemProbe} from "../service/probe.js";
import type {CommandRunner} from "../service/runner.js";
import type {ServiceAction, ServiceComponent, ServiceScope} from "../service/types.js";
import {isEntryPoint} from "./common.js";

const ACTIONS: readonly ServiceAction[] = ["install", "uninstall", "start", "stop", "restart", "status"];

const USAGE = `usage: npm run service -- <install|uninstall|start|stop|restart|status> [options]
  --dry-run        print the files and commands, change nothing
  --yes            approve without asking (needed when not on a terminal)
  --watchdog       act on the watchdog service instead of the provider
  --scope S        Linux only: "user" (~/.config/systemd/user) or "system" (/etc/systemd/system)
  --home DIR       provider home (default: this checkout)
  --config FILE    configuration file (default: <home>/config/provider_config.json)`;

/** Seams for tests: they replace the command runner, the prompt and the output, never the plan logic. */
export interface ServiceCliDeps {
    runner?: CommandRunner;
    probe?: SystemProbe;
    approve?: ApproveFn;
    env?: NodeJS.ProcessEnv;
    out?: (text: string) => void;
    err?: (text: string) => void;
    logger?: Logger;
}

interface ParsedArgs {
    action: ServiceAction;
    dryRun: boolean;
    yes: boolean;
    component: ServiceComponent;
    scope?: ServiceScope;
    home?: string;
    configPath?: string;
}

function parseArgs(argv: string[]): ParsedArgs {
    const common = parseCommonArgs(argv);
    let action: ServiceAction | undefined;
    const parsed: Omit<ParsedArgs, "action"> = {dryRun: false, yes: false, component: "provider", home: common.home, configPath: common.configPath};
    const rest = common.rest;
    for (let i = 0; i < rest.length; i++) {
        const a = rest[i]!;
        if (a === "--dry-run") parsed.dryRun = true;
        else if (a === "--yes" || a === "-y") parsed.yes = true;
        else if (a === "--watchdog") parsed.component = "watchdog";
        else if (a === "--scope" || a.startsWith("--scope=")) {
            const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : rest[++i];
            if (v !== "user" && v !== "system") throw new ConfigError(`--scope: expected "user" or "system", got ${JSON.stringify(v ?? "")}`);
            parsed.scope = v;
        } else if (!a.startsWith("-") && action == null && (ACTIONS as readonly string[]).includes(a)) action = a as ServiceAction;
        else throw new ConfigError(`unknown argument ${JSON.stringify(a)}\n${USAGE}`);
    }
    if (!action) throw new ConfigError(`missing action\n${USAGE}`);
    return {action, ...parsed};
}

async function promptApprove(question: string): Promise<boolean> {
    return confirm({message: question, default: false});
}

/** Runs the CLI; returns the exit code (0 done, 1 failed or declined, 2 usage or blocked). */
export async function main(argv: string[], deps: ServiceCliDeps = {}): Promise<number> {
    const out = deps.out ?? ((t: string) => process.stdout.write(`${t}\n`));
    const err = deps.err ?? ((t: string) => process.stderr.write(`${t}\n`));
    if (argv.includes("--help") || argv.includes("-h")) {
        out(USAGE);
        return 0;
    }
    let args: ParsedArgs;
    let config: ProviderConfig;
    try {
        args = parseArgs(argv);
        config = loadConfig({home: args.home, configPath: args.configPath, env: deps.env ?? process.env});
    } catch (e) {
        err(e instanceof ConfigError ? e.message : String(e));
        return 2;
    }
    const planOpts = {component: args.component, scope: args.scope, probe: deps.probe};

    if (args.action === "status" && !args.dryRun) {
        const st = await serviceStatus(config, {...planOpts, runner: deps.runner});
        out(`${st.serviceName} (${st.manager}${st.scope ? `, ${st.scope}` : ""}): ${st.installed ? (st.running ? "running" : `installed, not running (${st.detail})`) : "not installed"}`);
        return 0;
    }

    // Use the scope an existing unit was installed in, so `uninstall` finds a system unit without --scope.
    let scope = args.scope;
    if (!scope && args.action !== "install") scope = (await installedScope(config, planOpts, deps)) ?? undefined;
    const plan = buildServicePlan(config, {...planOpts, action: args.action, scope});
    out(describePlan(plan));
    if (args.dryRun) {
        out("\n--dry-run: nothing was changed and no command was run.");
        return plan.blocked ? 2 : 0;
    }
    if (plan.blocked) return 2;

    let approve: ApproveFn | true;
    if (args.yes) approve = true;
    else if (deps.approve) approve = deps.approve;
    else if (process.stdin.isTTY) approve = promptApprove;
    else {
        err("This changes the system and needs approval: run it on a terminal, or add --yes.");
        return 1;
    }

    const logger = deps.logger ?? createLogger({logsDir: config.paths.logs, name: "service", quiet: true});
    const result = await applyServicePlan(plan, {approve, runner: deps.runner, logger});
    for (const o of result.outcomes)
        if (o.step.kind === "run" && args.action === "status" && o.stdout) out(o.stdout);
    for (const w of result.warnings) err(`warning: ${w}`);
    (result.status === "done" ? out : err)(`\n${result.message}`);
    if (result.manualSteps?.length) {
        err("Manual steps:");
        result.manualSteps.forEach((s, i) => err(`  ${i + 1}. ${s}`));
    }
    if (result.status === "done" && args.action === "install")
        out(`Logs: ${config.paths.logs}. Check it with: npm run service -- status${args.component === "watchdog" ? " --watchdog" : ""}`);
    return result.status === "done" ? 0 : result.status === "blocked" ? 2 : 1;
}

async function installedScope(config: ProviderConfig, planOpts: {component: ServiceComponent; probe?: SystemProbe}, deps: ServiceCliDeps): Promise<ServiceScope | null> {
    const probeOs = planOpts.probe?.os ?? (process.platform === "win32" ? "windows" : process.platform === "darwin" ? "macos" : "linux");
    // Only systemd has two scopes; asking the Windows SCM here would run a command even under --dry-run.
    if (probeOs !== "linux") return null;
    return (await detectInstalledService(config, {...planOpts, runner: deps.runner}))?.scope ?? null;
}


if (isEntryPoint(import.meta.url)) {
    main(process.argv.slice(2)).then((code) => {
        process.exitCode = code;
    }, (e: unknown) => {
        process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
        process.exitCode = 1;
    });
}
