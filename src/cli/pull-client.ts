/**
 * `zombiecoder pull <ref>`: the running provider downloads the model (`POST /download/start`) and this command
 * draws its progress from the provider's event stream (`GET /download/events/:id`); the provider rescans when the
 * download completes, so the model is served at once. With no provider running, the download happens in this
 * process instead (the `npm run pull` module), so pulling never needs a server.
 */
import type {DownloadJob, DownloadProgressEvent} from "../download/manager.js";
import {CONFIG_OPTIONS, CONFIG_USAGE, parseCliOrExit} from "./args.js";
import {sseEvents, type ProviderClient} from "./client.js";
import {withClient} from "./client-command.js";
import {formatBytes, loadConfigForCli} from "./common.js";

export const usage = (prog = "zombiecoder pull"): string => `usage: ${prog} <model> [options]
Downloads one model into models_dir with a progress bar, verifies its sha256, and makes it available. The running
provider downloads it (and serves it as soon as it is done); with none running, this command downloads it itself.
Ctrl+C stops the download; pulling again resumes it.
  <model>          hf:org/repo:QUANT, hf:org/repo/file.gguf, hf.co/org/repo:QUANT or https://…/file.gguf
  --no-projector   skip the vision projector a repository offers beside the model
${CONFIG_USAGE}`;

const TERMINAL = new Set(["completed", "failed", "cancelled"]);

/** Follows one download on the provider until it ends; Ctrl+C cancels it there (the .part stays, to resume). */
async function follow(client: ProviderClient, id: string): Promise<DownloadProgressEvent | null> {
    const {progressView} = await import("./download-progress.js");
    const view = progressView();
    const stop = new AbortController();
    let interrupted = false;
    const onInterrupt = (): void => {
        if (interrupted) process.exit(130);
        interrupted = true;
        void client.request("POST", `/download/cancel/${encodeURIComponent(id)}`).catch(() => stop.abort());
    };
    process.on("SIGINT", onInterrupt);
    let last: DownloadProgressEvent | null = null;
    try {
        const res = await client.request("GET", `/download/events/${encodeURIComponent(id)}`, undefined, stop.signal);
        for await (const {data} of sseEvents(res)) {
            const ev = data as DownloadProgressEvent;
            last = ev;
            view.update(ev);
            if (TERMINAL.has(ev.status)) break;
        }
    } catch (err) {
        if (!stop.signal.aborted) throw err;
    } finally {
        process.off("SIGINT", onInterrupt);
        view.stop();
    }
    return last;
}

export async function main(argv: string[], prog?: string): Promise<number> {
    const {values, positionals} = parseCliOrExit({
        usage: usage(prog),
        options: {...CONFIG_OPTIONS, "no-projector": {type: "boolean"}},
        positionals: {min: 1, max: 1, name: "model to download"}
    }, argv);
    const ref = positionals[0]!;
    const {ProviderClient} = await import("./client.js");
    if (!(await ProviderClient.fromConfig(await loadConfigForCli(values)).isListening())) {
        process.stderr.write("No provider is running: downloading in this process (a provider started later finds the model).\n");
        const {main: pullHere} = await import("./pull.js");
        return pullHere(argv, prog);
    }
    return withClient(values, async (client) => {
        const body = values["no-projector"] === true ? {model: ref, projector: false} : {model: ref};
        const {id, job} = await client.json<{id: string; job: DownloadJob}>("POST", "/download/start", body);
        const {describeFiles} = await import("./download-progress.js");
        process.stdout.write(describeFiles(job));
        const last = await follow(client, id);
        // The stream can end without a terminal event (the provider stopping): the job's own record says how it ended.
        const final = last && TERMINAL.has(last.status) ? last : await client.json<DownloadJob>("GET", `/download/status/${encodeURIComponent(id)}`);
        if (final.status === "completed") {
            process.stdout.write(`\nDone: ${job.target}. The provider serves it now.\n`);
            return 0;
        }
        if (final.status === "cancelled") {
            process.stdout.write(`\nStopped${last ? ` at ${formatBytes(last.bytes)}` : ""}. Run the same command again to resume.\n`);
            return 130;
        }
        process.stderr.write(`\nerror: ${final.error ?? final.status}\n`);
        if (final.error_code !== "checksum") process.stderr.write("Run the same command again to resume from the bytes already downloaded.\n");
        return 1;
    });
}
