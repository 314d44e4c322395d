/**
 * `zombiecoder run <model> [prompt]`: a chat in the terminal through the running provider's `/api/chat`, streamed
 * as it is generated. With a prompt (or text piped in) it answers once and exits; otherwise it keeps a
 * conversation: Ctrl+C stops the answer being written, `/bye` or Ctrl+D leaves.
 */
import readline from "node:readline";
import {CONFIG_OPTIONS, CONFIG_USAGE, parseCliOrExit} from "./args.js";
import {ndjsonLines, type ProviderClient} from "./client.js";
import {withClient} from "./client-command.js";

export const usage = (prog = "zombiecoder run"): string => `usage: ${prog} <model> [prompt] [options]
Chats with a model through the running provider, printing the answer as it is generated.
With a prompt (or text on standard input) it answers once; without, it keeps a conversation:
Ctrl+C stops the answer, /clear forgets the conversation, /bye (or Ctrl+D) leaves.
  --system TEXT    the system message
  --verbose        after each answer, print the token counts and speeds
${CONFIG_USAGE}`;

export const HELP_TEXT = `Commands:
  /bye             leave
  /clear           forget the conversation so far
  /help, /?        this list
  """              start and end a message of several lines
Ctrl+C stops the answer being written; Ctrl+D leaves.
`;

export interface ChatMessage {
    role: "system" | "user" | "assistant";
    content: string;
}

/** The fields of /api/chat's last chunk that `--verbose` prints. */
export interface DoneChunk {
    done: true;
    total_duration?: number;
    load_duration?: number;
    prompt_eval_count?: number;
    prompt_eval_duration?: number;
    eval_count?: number;
    eval_duration?: number;
}

interface Chunk {
    message?: {content?: string; thinking?: string};
    done?: boolean;
    error?: string;
}

export interface AnswerResult {
    text: string;
    stopped: boolean;
    done: DoneChunk | null;
}

/** `--verbose`'s lines for a done chunk (durations are nanoseconds, as Ollama sends them). */
export function statsText(d: DoneChunk): string {
    const ms = (ns: number | undefined) => ((ns ?? 0) / 1e6).toFixed(1);
    const rate = (count: number | undefined, ns: number | undefined) => (count && ns ? `${(count / (ns / 1e9)).toFixed(2)} tokens/s` : "-");
    return [
        `total duration:       ${ms(d.total_duration)} ms`,
        `load duration:        ${ms(d.load_duration)} ms`,
        `prompt eval count:    ${d.prompt_eval_count ?? 0} token(s)`,
        `prompt eval rate:     ${rate(d.prompt_eval_count, d.prompt_eval_duration)}`,
        `eval count:           ${d.eval_count ?? 0} token(s)`,
        `eval rate:            ${rate(d.eval_count, d.eval_duration)}`
    ].join("\n") + "\n";
}

/**
 * Streams one answer to `write`. Aborting `signal` stops it: the request is cancelled (the provider stops
 * generating) and the text so far is returned with `stopped`.
 */
export async function streamAnswer(client: ProviderClient, model: string, messages: ChatMessage[], write: (text: string) => void, signal: AbortSignal): Promise<AnswerResult> {
    let text = "";
    let thinking = false;
    let done: DoneChunk | null = null;
    try {
        const res = await client.request("POST", "/api/chat", {model, messages, stream: true}, signal);
        for await (const raw of ndjsonLines(res)) {
            const chunk = raw as Chunk;
            if (chunk.error) throw new Error(chunk.error);
            const think = chunk.message?.thinking ?? "";
            const content = chunk.message?.content ?? "";
            if (think !== "") {
                if (!thinking) write("Thinking...\n");
                thinking = true;
                write(think);
            }
            if (content !== "") {
                if (thinking) write("\n...done thinking.\n\n");
                thinking = false;
                text += content;
                write(content);
            }
            if (chunk.done) done = raw as DoneChunk;
        }
    } catch (err) {
        if (signal.aborted) return {text, stopped: true, done: null};
        throw err;
    }
    return {text, stopped: false, done};
}

/** Splits `/command rest` into its parts; null for a plain message. */
export function parseCommand(line: string): {command: string; rest: string} | null {
    const m = /^\/(\S+)\s*(.*)$/s.exec(line.trim());
    return m ? {command: m[1]!.toLowerCase(), rest: m[2]!} : null;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
    let text = "";
    for await (const chunk of stream) text += typeof chunk === "string" ? chunk : (chunk as Buffer).toString("utf8");
    return text;
}

/** One question, one answer; Ctrl+C stops it and exits 130. */
async function answerOnce(client: ProviderClient, model: string, messages: ChatMessage[], verbose: boolean): Promise<number> {
    const abort = new AbortController();
    const onInterrupt = (): void => abort.abort();
    process.on("SIGINT", onInterrupt);
    try {
        const r = await streamAnswer(client, model, messages, (t) => process.stdout.write(t), abort.signal);
        process.stdout.write("\n");
        if (verbose && r.done) process.stderr.write(`\n${statsText(r.done)}`);
        return r.stopped ? 130 : 0;
    } finally {
        process.off("SIGINT", onInterrupt);
    }
}

/** The conversation on a terminal. Resolves with the exit code when the user leaves. */
function converse(client: ProviderClient, model: string, system: ChatMessage[], verbose: boolean): Promise<number> {
    const history: ChatMessage[] = [...system];
    const rl = readline.createInterface({input: process.stdin, output: process.stdout, prompt: ">>> "});
    let answering: AbortController | null = null;
    let block: string[] | null = null;

    const ask = async (question: string): Promise<void> => {
        history.push({role: "user", content: question});
        answering = new AbortController();
        try {
            const r = await streamAnswer(client, model, history, (t) => process.stdout.write(t), answering.signal);
            process.stdout.write(r.stopped ? "\n(stopped)\n\n" : "\n\n");
            // A stopped answer stays out of the conversation: the question is asked again or replaced.
            if (r.stopped) history.pop();
            else history.push({role: "assistant", content: r.text});
            if (verbose && r.done) process.stdout.write(`${statsText(r.done)}\n`);
        } catch (err) {
            history.pop();
            process.stdout.write(`\nerror: ${(err as Error).message}\n\n`);
        } finally {
            answering = null;
        }
    };

    return new Promise((resolve) => {
        rl.on("SIGINT", () => {
            if (answering) answering.abort();
            else {
                block = null;
                process.stdout.write("\nUse Ctrl + d or /bye to exit.\n");
                rl.prompt();
            }
        });
        rl.on("close", () => {
            answering?.abort();
            process.stdout.write("\n");
            resolve(0);
        });
        rl.on("line", (line) => {
            if (answering) return;
            if (block) {
                if (line.trimEnd().endsWith('"""')) {
                    block.push(line.trimEnd().slice(0, -3));
                    const text = block.join("\n").trim();
                    block = null;
                    if (text !== "") void ask(text).then(() => rl.prompt());
                    else rl.prompt();
                } else {
                    block.push(line);
                    rl.setPrompt("... ");
                    rl.prompt();
                    rl.setPrompt(">>> ");
                }
                return;
            }
            const trimmed = line.trim();
            if (trimmed.startsWith('"""')) {
                const rest = trimmed.slice(3);
                if (rest.endsWith('"""') && rest.length >= 3) {
                    void ask(rest.slice(0, -3).trim()).then(() => rl.prompt());
                    return;
                }
                block = [rest];
                rl.setPrompt("... ");
                rl.prompt();
                rl.setPrompt(">>> ");
                return;
            }
            const cmd = parseCommand(trimmed);
            if (cmd) {
                if (cmd.command === "bye" || cmd.command === "exit") return rl.close();
                if (cmd.command === "clear") {
                    history.splice(system.length);
                    process.stdout.write("Cleared the conversation.\n");
                } else if (cmd.command === "help" || cmd.command === "?") process.stdout.write(HELP_TEXT);
                else process.stdout.write(`Unknown command /${cmd.command}: type /? for the list.\n`);
                return rl.prompt();
            }
            if (trimmed === "") return rl.prompt();
            void ask(trimmed).then(() => rl.prompt());
        });
        rl.prompt();
    });
}

export async function main(argv: string[], prog?: string): Promise<number> {
    const {values, positionals} = parseCliOrExit({
        usage: usage(prog),
        options: {...CONFIG_OPTIONS, system: {type: "string"}, verbose: {type: "boolean"}},
        positionals: {min: 1, max: Number.MAX_SAFE_INTEGER, name: "model"}
    }, argv);
    const [model, ...words] = positionals as [string, ...string[]];
    const system: ChatMessage[] = values.system ? [{role: "system", content: values.system}] : [];
    const verbose = values.verbose === true;
    return withClient(values, async (client) => {
        // Loads the model (an empty chat only loads it) so a wrong name fails before anything is typed, with the
        // provider's suggestions, and the first answer does not wait for the load.
        await (await client.request("POST", "/api/chat", {model, messages: [], stream: false})).body?.cancel();
        let prompt = words.join(" ");
        if (prompt === "" && !process.stdin.isTTY) prompt = (await readAll(process.stdin)).trim();
        if (prompt !== "") return answerOnce(client, model, [...system, {role: "user", content: prompt}], verbose);
        if (!process.stdin.isTTY) return 0;
        process.stdout.write(`Chatting with ${model}. Type /? for help, /bye to leave.\n`);
        return converse(client, model, system, verbose);
    });
}
