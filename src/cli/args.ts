/**
 * Command-line arguments for every CLI: node's strict `util.parseArgs`, plus `--help`, clear messages for what it
 * rejects, and the exit codes the CLIs share (0 after `--help`, 2 for a usage error).
 *
 * This module imports nothing heavy on purpose: a CLI parses its arguments before it loads the config or the
 * engine, so `--help` and a mistyped flag answer at once.
 */
import {parseArgs, type ParseArgsConfig} from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** `--home` and `--config`, accepted by every CLI that reads the configuration. */
export const CONFIG_OPTIONS = {
    home: {type: "string"},
    config: {type: "string"}
} as const satisfies Options;

/** Usage lines for {@link CONFIG_OPTIONS}, aligned like the CLIs' own option lists. */
export const CONFIG_USAGE = `  --home DIR       provider home (default: ZOMBIECODER_HOME, else this checkout; an installed package: a per-user folder)
  --config FILE    configuration file (default: ZOMBIECODER_CONFIG, else <home>/config/provider_config.json)`;

const HELP_OPTION = {help: {type: "boolean", short: "h"}} as const satisfies Options;

export interface CliSpec<O extends Options> {
    /** The full text `--help` prints; its first line is repeated after a usage error. */
    usage: string;
    options: O;
    /** How many positional arguments the command takes (default: none), and what to call one in messages. */
    positionals?: {min: number; max: number; name: string};
}

type Parsed<O extends Options> = ReturnType<typeof parseArgs<{options: O; strict: true; allowPositionals: true}>>;

export type CliArgs<O extends Options> = {help: true} | {help: false; values: Parsed<O>["values"]; positionals: string[]};

/** A mistake in the command line: the CLI prints it with the usage and exits 2. */
export class UsageError extends Error {
    constructor(message: string, readonly usage: string) {
        super(message);
        this.name = "UsageError";
    }
}

/** Parses `argv` strictly; throws UsageError for an unknown option, a missing value or a wrong number of arguments. */
export function parseCli<O extends Options>(spec: CliSpec<O>, argv: string[]): CliArgs<O> {
    const options: Options = {...spec.options, ...HELP_OPTION};
    const pos = spec.positionals ?? {min: 0, max: 0, name: "argument"};
    let parsed: ReturnType<typeof parseArgs<{options: Options; strict: true; allowPositionals: true}>>;
    try {
        parsed = parseArgs({args: argv, options, strict: true, allowPositionals: true});
    } catch (err) {
        // `--help` wins over whatever else is wrong: someone asking for help gets it.
        if (asksForHelp(argv, options)) return {help: true};
        throw new UsageError(explain(err, argv, options), spec.usage);
    }
    if (parsed.values.help === true) return {help: true};
    for (const [name, value] of Object.entries(parsed.values)) {
        const values = Array.isArray(value) ? value : [value];
        if (values.some((v) => v === "")) throw new UsageError(`--${name} needs a value`, spec.usage);
    }
    const positionals = parsed.positionals;
    if (positionals.length > pos.max) {
        const extra = positionals[pos.max]!;
        throw new UsageError(pos.max === 0 ? `unexpected argument ${JSON.stringify(extra)}: this command takes options only`
            : `unexpected argument ${JSON.stringify(extra)}: expected at most ${pos.max} ${pos.name}${pos.max === 1 ? "" : "s"}`, spec.usage);
    }
    if (positionals.length < pos.min) throw new UsageError(`missing ${pos.name}`, spec.usage);
    const {help: _help, ...values} = parsed.values;
    return {help: false, values: values as Parsed<O>["values"], positionals};
}

/**
 * For a CLI's entry point: `--help` prints the usage and exits 0, a usage error prints the message and the usage to
 * stderr and exits 2; otherwise returns the parsed arguments.
 */
export function parseCliOrExit<O extends Options>(spec: CliSpec<O>, argv: string[] = process.argv.slice(2)): {values: Parsed<O>["values"]; positionals: string[]} {
    let args: CliArgs<O>;
    try {
        args = parseCli(spec, argv);
    } catch (err) {
        if (err instanceof UsageError) {
            process.stderr.write(formatUsageError(err));
            process.exit(2);
        }
        throw err;
    }
    if (args.help) {
        process.stdout.write(spec.usage.endsWith("\n") ? spec.usage : `${spec.usage}\n`);
        process.exit(0);
    }
    return args;
}

/** The text printed for a usage error: the message, then the usage. */
export function formatUsageError(err: UsageError): string {
    return `error: ${err.message}\n\n${err.usage}${err.usage.endsWith("\n") ? "" : "\n"}`;
}

function asksForHelp(argv: string[], options: Options): boolean {
    return optionTokens(argv, options).some((t) => t.name === "help");
}

function optionTokens(argv: string[], options: Options) {
    const {tokens} = parseArgs({args: argv, options, strict: false, allowPositionals: true, tokens: true});
    const out: Array<{name: string; rawName: string; value?: string; inlineValue?: boolean}> = [];
    for (const t of tokens) {
        if (t.kind === "option-terminator") break;
        if (t.kind === "option") out.push(t);
    }
    return out;
}

/**
 * Node's messages name the problem but not always in the user's terms (an option swallowing the next flag is
 * "ambiguous"); a second, lenient pass over the same arguments finds the culprit and says what to do.
 */
function explain(err: unknown, argv: string[], options: Options): string {
    for (const t of optionTokens(argv, options)) {
        const spec = options[t.name];
        if (!spec) return `unknown option ${t.rawName}`;
        if (spec.type === "boolean" && t.inlineValue) return `${t.rawName} takes no value`;
        if (spec.type === "string" && t.value === undefined) return `${t.rawName} needs a value`;
        if (spec.type === "string" && !t.inlineValue && t.value?.startsWith("-"))
            return `${t.rawName} needs a value (got the option ${t.value}; to pass a value that starts with "-", write ${t.rawName}=${t.value})`;
    }
    return err instanceof Error ? err.message : String(err);
}
