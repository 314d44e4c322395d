/**
 * `zombiecoder pull hf:org/repo:Q4_K_M` with no provider running, and `npm run pull -- hf:org/repo:Q4_K_M`
 * [--no-projector] [--home DIR] [--config FILE]
 *
 * Downloads into models_dir in this process with a progress bar, verifies the sha256, and updates the registry
 * index. Interrupted (Ctrl-C, network loss, power cut), it leaves a `.part` file: the same command run again
 * resumes from it.
 */
import {CONFIG_OPTIONS, CONFIG_USAGE, parseCliOrExit} from "./args.js";
import {formatBytes, loadConfigForCli, runIfEntryPoint} from "./common.js";

export const usage = (prog = "npm run pull --"): string => `usage: ${prog} <model> [options]
Downloads one model into models_dir, verifies its sha256 and updates the registry index. Run again to resume.
  <model>          hf:org/repo:QUANT, hf:org/repo/file.gguf, hf.co/org/repo:QUANT or https://…/file.gguf
  --no-projector   skip the vision projector a repository offers beside the model
${CONFIG_USAGE}`;

export async function main(argv: string[], prog?: string): Promise<number> {
    const {values, positionals} = parseCliOrExit({
        usage: usage(prog),
        options: {...CONFIG_OPTIONS, "no-projector": {type: "boolean"}},
        positionals: {min: 1, max: 1, name: "model to download"}
    }, argv);
    const noProjector = values["no-projector"] === true;
    const ref = positionals[0]!;

    const config = await loadConfigForCli(values);
    const {describeFiles, progressView} = await import("./download-progress.js");
    const {DownloadError} = await import("../download/errors.js");
    const {DownloadManager} = await import("../download/manager.js");
    const {createLogger} = await import("../log/logger.js");
    const {externalSourcesFor} = await import("../registry/external.js");
    const {scanModels} = await import("../registry/scan.js");

    // The log file keeps the details (retries, resume offsets); the terminal shows the bar.
    const logger = createLogger({level: config.log_level, logsDir: config.paths.logs, name: "pull", quiet: true});
    const manager = await DownloadManager.create({
        config, logger, stateFile: null, resume: false,
        rescan: () => scanModels(config, {logger, external: externalSourcesFor(config, logger)})
    });

    const fail = (err: unknown): number => {
        const msg = err instanceof DownloadError ? err.message : (err as Error).stack ?? String(err);
        process.stderr.write(`\nerror: ${msg}\n`);
        return 1;
    };

    const input: unknown = noProjector ? {model: ref, projector: false} : ref;

    let started: Awaited<ReturnType<InstanceType<typeof DownloadManager>["start"]>>;
    try {
        started = await manager.start(input);
    } catch (err) {
        await manager.close();
        return fail(err);
    }
    const {job} = started;
    process.stdout.write(describeFiles(job));
    const view = progressView();

    let interrupted = false;
    const onInterrupt = (): void => {
        if (interrupted) process.exit(130);
        interrupted = true;
        void manager.cancel(job.id).catch(() => undefined);
    };
    process.on("SIGINT", onInterrupt);

    const unsubscribe = manager.subscribe(job.id, (ev) => view.update(ev));
    const done = await manager.wait(job.id);
    unsubscribe();
    process.off("SIGINT", onInterrupt);
    view.stop();
    await manager.close();

    if (done.status === "completed") {
        process.stdout.write(`\nDone: ${done.target}${done.ollama_name ? ` (Ollama clients can also pull it as ${done.ollama_name})` : ""}\n`);
        process.stdout.write(`Registry index updated. A running server lists it after POST /runtime/rescan or its next scan.\n`);
        return 0;
    }
    if (done.status === "cancelled") {
        process.stdout.write(`\nStopped at ${formatBytes(done.downloaded_bytes)}. Run the same command again to resume.\n`);
        return 130;
    }
    process.stderr.write(`\nerror: ${done.error ?? done.status}\n`);
    if (done.error_code !== "checksum") process.stderr.write("Run the same command again to resume from the bytes already downloaded.\n");
    return 1;
}

runIfEntryPoint(import.meta.url, main);
