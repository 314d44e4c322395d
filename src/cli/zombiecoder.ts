#!/usr/bin/env node
/**
 * `zombiecoder <command>`: one command for everything, in the style of Ollama's. `serve`, `setup`, `scan`,
 * `audit`, `service` and `watchdog` run here (the same modules as the npm scripts); `list`, `ps`, `pull`, `load`,
 * `unload`, `show` and `run` are clients of the running provider. Each command's module is imported only when it
 * is the one asked for, so `--help` and `--version` answer at once.
 */
import {spawn} from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import {packageRoot, tsxExecArgv} from "../build-layout.js";
import {PROVIDER_VERSION} from "../version.js";
import {runIfEntryPoint} from "./common.js";

type Run = (argv: string[]) => Promise<number | void>;

interface Command {
    summary: string;
    run: Run;
}

const prog = (name: string): string => `zombiecoder ${name}`;

/** The subcommands, in the order `--help` lists them. */
export const COMMANDS: Readonly<Record<string, Command>> = {
    serve: {summary: "run the provider in the foreground (Ctrl+C stops it cleanly)", run: async (argv) => (await import("./start.js")).main(argv, prog("serve"))},
    setup: {summary: "walk the setup steps, asking before anything destructive", run: async (argv) => (await import("./setup.js")).main(argv)},
    list: {summary: "list the installed models", run: async (argv) => (await import("./list.js")).main(argv, prog("list"))},
    ps: {summary: "list the loaded models: memory, context, when each unloads", run: async (argv) => (await import("./ps.js")).main(argv, prog("ps"))},
    pull: {summary: "download a model from Hugging Face, with a progress bar and resume", run: async (argv) => (await import("./pull-client.js")).main(argv, prog("pull"))},
    load: {summary: "load a model now instead of on its first request", run: async (argv) => (await import("./load.js")).loadMain(argv, prog("load"))},
    unload: {summary: "unload a model and free its memory", run: async (argv) => (await import("./load.js")).unloadMain(argv, prog("unload"))},
    show: {summary: "show a model's details", run: async (argv) => (await import("./show.js")).main(argv, prog("show"))},
    run: {summary: "chat with a model in the terminal", run: async (argv) => (await import("./run.js")).main(argv, prog("run"))},
    scan: {summary: "find GGUF models and rewrite the registry index", run: async (argv) => (await import("./scan.js")).main(argv, prog("scan"))},
    audit: {summary: "duplicates and the safe-to-delete list (deletes nothing unless asked)", run: async (argv) => (await import("./audit.js")).main(argv, prog("audit"))},
    service: {summary: "install, remove, start, stop or check the OS service", run: async (argv) => (await import("./service.js")).main(argv)},
    watchdog: {summary: "keep the provider alive through crashes and hangs", run: async (argv) => (await import("./watchdog.js")).main(argv)},
    bench: {summary: "measure the provider against raw node-llama-cpp (from a checkout)", run: bench}
};

export function helpText(): string {
    const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
    return `usage: zombiecoder <command> [options]
ZombieCoder Provider ${PROVIDER_VERSION}: one local server for Ollama, OpenAI and Anthropic clients over your GGUF models.

Commands:
${Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`).join("\n")}

  zombiecoder <command> --help   the command's own options
  zombiecoder --version          the version
The client commands (list, ps, pull, load, unload, show, run) talk to the provider at the configured address
with the configured key (--home DIR / --config FILE choose the configuration, as for serve).`;
}

/** The closest command names to a mistyped one (by edit distance), for the error message. */
export function closestCommands(name: string, max = 2): string[] {
    const distance = (a: string, b: string): number => {
        const row = Array.from({length: b.length + 1}, (_, j) => j);
        for (let i = 1; i <= a.length; i++) {
            let prev = row[0]!;
            row[0] = i;
            for (let j = 1; j <= b.length; j++) {
                const here = row[j]!;
                row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
                prev = here;
            }
        }
        return row[b.length]!;
    };
    return Object.keys(COMMANDS).map((c) => ({c, d: distance(name, c)})).filter((x) => x.d <= max).sort((a, b) => a.d - b.d).map((x) => x.c);
}

/** `zombiecoder bench`: bench/ is a development tool (TypeScript, the model generator), present only in a checkout. */
async function bench(argv: string[]): Promise<number> {
    const script = path.join(packageRoot, "bench", "run.ts");
    if (!fs.existsSync(script)) {
        process.stderr.write("error: bench runs from a checkout of the source (it needs bench/ and the dev dependencies); it is not in an installed package\n");
        return 2;
    }
    const child = spawn(process.execPath, [...tsxExecArgv(), script, ...argv], {cwd: packageRoot, stdio: "inherit"});
    return new Promise((resolve) => {
        child.once("error", (err) => {
            process.stderr.write(`error: could not start the benchmark: ${err.message}\n`);
            resolve(1);
        });
        child.once("exit", (code, signal) => resolve(code ?? (signal ? 130 : 1)));
    });
}

export async function main(argv: string[]): Promise<number | void> {
    const [name, ...rest] = argv;
    if (name === undefined || name === "--help" || name === "-h" || name === "help") {
        const about = name === "help" && rest[0] ? COMMANDS[rest[0]] : undefined;
        if (about) return about.run(["--help"]);
        process.stdout.write(`${helpText()}\n`);
        return 0;
    }
    if (name === "--version" || name === "-v" || name === "version") {
        process.stdout.write(`zombiecoder ${PROVIDER_VERSION}\n`);
        return 0;
    }
    const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!command) {
        const near = closestCommands(name);
        process.stderr.write(`error: unknown command ${JSON.stringify(name)}${near.length > 0 ? `; did you mean ${near.join(" or ")}?` : ""}\n\n${helpText()}\n`);
        return 2;
    }
    return command.run(rest);
}

runIfEntryPoint(import.meta.url, main);
