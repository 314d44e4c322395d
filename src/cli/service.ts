/** `npm run service -- install|uninstall|start|stop|restart|status [options]`: the provider or watchdog as an OS service. */
import fs from "node:fs";
import type {ProviderConfig} from "../config/load.js";
import type {Logger} from "../log/logger.js";
import type {ApproveFn} from "../service/apply.js";
import type {SystemProbe} from "../service/probe.js";
import type {ServiceTarget} from "../service/target.js";
import type {CommandRunner} from "../service/runner.js";
import type {ServiceAction, ServiceComponent, ServiceScope} from "../service/types.js";
import {CONFIG_OPTIONS, CONFIG_USAGE, formatUsageError, parseCli, UsageError} from "./args.js";
import {runIfEntryPoint} from "./common.js";
import {commandHint} from "../command-hint.js";

const ACTIONS: readonly ServiceAction[] = ["install", "uninstall", "start", "stop", "restart", "status"];

const USAGE = `usage: npm run service -- <install|uninstall|start|stop|restart|status> [options]
  --dry-run        print the files and commands, change nothing
  --yes, -y        approve without asking (needed when not on a terminal)
  --watchdog       act on the watchdog service instead of the provider
  --scope S        Linux only: "user" (~/.config/systemd/user) or "system" (/etc/systemd/system)
${CONFIG_USAGE}`;

const SPEC = {
    usage: USAGE,
    options: {
        ...CONFIG_OPTIONS,
        "dry-run": {type: "boolean"},
        yes: {type: "boolean", short: "y"},
        watchdog: {type: "boolean"},
        scope: {type: "string"}
    },
    positionals: {min: 0, max: 1, name: "action"}
} as const;

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

/** The parsed command line, or null after `--help`. */
function parseServiceArgs(argv: string[]): ParsedArgs | null {
    const args = parseCli(SPEC, argv);
    if (args.help) return null;
    const {values, positionals} = args;
    const action = positionals[0];
    if (action == null) throw new UsageError("missing action", USAGE);
    if (!(ACTIONS as readonly string[]).includes(action)) throw new UsageError(`unknown action ${JSON.stringify(action)}: expected one of ${ACTIONS.join(", ")}`, USAGE);
    const scope = values.scope;
    if (scope !== undefined && scope !== "user" && scope !== "system") throw new UsageError(`--scope: expected "user" or "system", got ${JSON.stringify(scope)}`, USAGE);
    return {
        action: action as ServiceAction,
        dryRun: values["dry-run"] === true,
        yes: values.yes === true,
        component: values.watchdog === true ? "watchdog" : "provider",
        scope,
        home: values.home,
        configPath: values.config
    };
}

async function promptApprove(question: string): Promise<boolean> {
    const {confirm} = await import("@inquirer/prompts");
    return confirm({message: question, default: false});
}

/** Runs the CLI; returns the exit code (0 done, 1 failed or declined, 2 usage or blocked). */
export async function main(argv: string[], deps: ServiceCliDeps = {}): Promise<number> {
    const out = deps.out ?? ((t: string) => process.stdout.write(`${t}\n`));
    const err = deps.err ?? ((t: string) => process.stderr.write(`${t}\n`));
    let args: ParsedArgs | null;
    try {
        args = parseServiceArgs(argv);
    } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        err(formatUsageError(e).trimEnd());
        return 2;
    }
    if (!args) {
        out(USAGE);
        return 0;
    }
    // Loaded only once the arguments are known good, so that --help and usage errors answer at once.
    const {ConfigError, loadConfig} = await import("../config/load.js");
    const {createLogger} = await import("../log/logger.js");
    const {applyServicePlan} = await import("../service/apply.js");
    const {serviceStatus} = await import("../service/control.js");
    const {buildServicePlan, describePlan, serviceTarget} = await import("../service/plan.js");
    let config: ProviderConfig;
    try {
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
    // The unit runs the compiled build; installing one that points at a missing file would fail only at boot.
    // An injected probe describes some other machine, whose files cannot be looked at from here.
    const script = args.action === "install" && !deps.probe ? missingServiceScript(serviceTarget(config, planOpts)) : null;
    if (script) {
        err(`\n${args.dryRun ? "warning" : "error"}: the service runs ${script}, which does not exist yet: build it with \`npm run build\` (npm install does it too)`);
        if (!args.dryRun) return 2;
    }
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
        out(`Logs: ${config.paths.logs}. Check it with: ${commandHint("service", `status${args.component === "watchdog" ? " --watchdog" : ""}`)}`);
    return result.status === "done" ? 0 : result.status === "blocked" ? 2 : 1;
}

/** The script a service would run when it is missing on this machine, else null. */
function missingServiceScript(target: ServiceTarget): string | null {
    const script = target.args[0];
    return script != null && !fs.existsSync(script) ? script : null;
}

async function installedScope(config: ProviderConfig, planOpts: {component: ServiceComponent; probe?: SystemProbe}, deps: ServiceCliDeps): Promise<ServiceScope | null> {
    const probeOs = planOpts.probe?.os ?? (process.platform === "win32" ? "windows" : process.platform === "darwin" ? "macos" : "linux");
    // Only systemd has two scopes; asking the Windows SCM here would run a command even under --dry-run.
    if (probeOs !== "linux") return null;
    const {detectInstalledService} = await import("../service/control.js");
    return (await detectInstalledService(config, {...planOpts, runner: deps.runner}))?.scope ?? null;
}

runIfEntryPoint(import.meta.url, (argv) => main(argv));
