/**
 * `npm run pull -- hf:org/repo:Q4_K_M [--no-projector] [--home DIR] [--config FILE]`
 *
 * Downloads into models_dir with a progress bar, verifies the sha256, and updates the registry index. Interrupted
 * (Ctrl-C, network loss, power cut), it leaves a `.part` file: the same command run again resumes from it.
 */
import type {DownloadProgressEvent} from "../download/manager.js";
import {CONFIG_OPTIONS, CONFIG_USAGE, parseCliOrExit} from "./args.js";
import {formatBytes, loadConfigForCli} from "./common.js";

const USAGE = `usage: npm run pull -- <model> [options]
Downloads one model into models_dir, verifies its sha256 and updates the registry index. Run again to resume.
  <model>          hf:org/repo:QUANT, hf:org/repo/file.gguf, hf.co/org/repo:QUANT or https://…/file.gguf
  --no-projector   skip the vision projector a repository offers beside the model
${CONFIG_USAGE}`;

const {values, positionals} = parseCliOrExit({
    usage: USAGE,
    options: {...CONFIG_OPTIONS, "no-projector": {type: "boolean"}},
    positionals: {min: 1, max: 1, name: "model to download"}
});
const noProjector = values["no-projector"] === true;
const ref = positionals[0]!;

const config = await loadConfigForCli(values);
const {default: cliProgress} = await import("cli-progress");
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

function fail(err: unknown): never {
    const msg = err instanceof DownloadError ? err.message : (err as Error).stack ?? String(err);
    process.stderr.write(`\nerror: ${msg}\n`);
    process.exit(1);
}

const input: unknown = noProjector ? {model: ref, projector: false} : ref;

let started: Awaited<ReturnType<InstanceType<typeof DownloadManager>["start"]>>;
try {
    started = await manager.start(input);
} catch (err) {
    fail(err);
}
const {job} = started;
process.stdout.write(`${job.model}\n  → ${job.target}\n`);
for (const f of job.files) {
    const note = f.done ? "already present" : f.downloaded_bytes > 0 ? `resuming at ${formatBytes(f.downloaded_bytes)}` : "";
    process.stdout.write(`  ${f.role === "projector" ? "projector" : "file     "} ${f.name} (${f.size_bytes == null ? "size unknown" : formatBytes(f.size_bytes)})${note ? `, ${note}` : ""}\n`);
}

const tty = Boolean(process.stdout.isTTY);
const bar = tty ? new cliProgress.SingleBar({
    format: " {bar} {percentage}% | {done} / {size} | {speed}/s | ETA {eta_text} | {phase}",
    hideCursor: true,
    barsize: 30
}, cliProgress.Presets.shades_classic) : null;
let barStarted = false;
let lastLine = 0;
let lastStatus = "";

const render = (ev: DownloadProgressEvent): void => {
    const total = ev.total ?? Math.max(ev.bytes, 1);
    const payload = {
        done: formatBytes(ev.bytes), size: ev.total == null ? "?" : formatBytes(ev.total), speed: formatBytes(ev.speed),
        eta_text: ev.eta == null ? "-" : ev.eta > 3600 ? `${Math.floor(ev.eta / 3600)}h${Math.floor((ev.eta % 3600) / 60)}m` : ev.eta > 60 ? `${Math.floor(ev.eta / 60)}m${ev.eta % 60}s` : `${ev.eta}s`,
        phase: ev.phase === "hashing-partial" ? "checking partial file" : ev.phase === "verifying" ? "verifying sha256" : ev.file ?? ""
    };
    if (bar) {
        if (!barStarted) {
            bar.start(total, ev.bytes, payload);
            barStarted = true;
        } else {
            bar.setTotal(total);
            bar.update(ev.bytes, payload);
        }
    } else if (Date.now() - lastLine > 5000 || ev.status !== lastStatus) {
        lastLine = Date.now();
        lastStatus = ev.status;
        process.stdout.write(`  ${ev.status} ${payload.done} / ${payload.size} (${payload.speed}/s, ETA ${payload.eta_text})\n`);
    }
};

let interrupted = false;
process.on("SIGINT", () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    void manager.cancel(job.id).catch(() => undefined);
});

const unsubscribe = manager.subscribe(job.id, render);
const done = await manager.wait(job.id);
unsubscribe();
bar?.stop();
await manager.close();

if (done.status === "completed") {
    process.stdout.write(`\nDone: ${done.target}${done.ollama_name ? ` (Ollama clients can also pull it as ${done.ollama_name})` : ""}\n`);
    process.stdout.write(`Registry index updated. A running server lists it after POST /runtime/rescan or its next scan.\n`);
    process.exit(0);
}
if (done.status === "cancelled") {
    process.stdout.write(`\nStopped at ${formatBytes(done.downloaded_bytes)}. Run the same command again to resume.\n`);
    process.exit(130);
}
process.stderr.write(`\nerror: ${done.error ?? done.status}\n`);
if (done.error_code !== "checksum") process.stderr.write("Run the same command again to resume from the bytes already downloaded.\n");
process.exit(1);
