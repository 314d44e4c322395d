/**
 * A download's progress on the terminal, the same for a download in this process (`npm run pull`) and one the
 * running provider makes (`zombiecoder pull`): a bar on a terminal, a line every few seconds otherwise (a log, CI).
 */
import cliProgress from "cli-progress";
import type {DownloadJob, DownloadProgressEvent} from "../download/manager.js";
import {formatBytes} from "./common.js";

/** The files a download will fetch, one line each, with what is already there. */
export function describeFiles(job: Pick<DownloadJob, "model" | "target" | "files">): string {
    const lines = [`${job.model}`, `  → ${job.target}`];
    for (const f of job.files) {
        const note = f.done ? "already present" : f.downloaded_bytes > 0 ? `resuming at ${formatBytes(f.downloaded_bytes)}` : "";
        lines.push(`  ${f.role === "projector" ? "projector" : "file     "} ${f.name} (${f.size_bytes == null ? "size unknown" : formatBytes(f.size_bytes)})${note ? `, ${note}` : ""}`);
    }
    return `${lines.join("\n")}\n`;
}

export function etaText(eta: number | null): string {
    if (eta == null) return "-";
    if (eta > 3600) return `${Math.floor(eta / 3600)}h${Math.floor((eta % 3600) / 60)}m`;
    if (eta > 60) return `${Math.floor(eta / 60)}m${eta % 60}s`;
    return `${eta}s`;
}

export interface ProgressView {
    update(ev: DownloadProgressEvent): void;
    stop(): void;
}

export function progressView(stream: NodeJS.WriteStream = process.stdout): ProgressView {
    const bar = stream.isTTY ? new cliProgress.SingleBar({
        format: " {bar} {percentage}% | {done} / {size} | {speed}/s | ETA {eta_text} | {phase}",
        hideCursor: true,
        barsize: 30,
        stream
    }, cliProgress.Presets.shades_classic) : null;
    let barStarted = false;
    let lastLine = 0;
    let lastStatus = "";
    return {
        update(ev) {
            const total = ev.total ?? Math.max(ev.bytes, 1);
            const payload = {
                done: formatBytes(ev.bytes), size: ev.total == null ? "?" : formatBytes(ev.total), speed: formatBytes(ev.speed),
                eta_text: etaText(ev.eta),
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
                stream.write(`  ${ev.status} ${payload.done} / ${payload.size} (${payload.speed}/s, ETA ${payload.eta_text})\n`);
            }
        },
        stop() {
            if (barStarted) bar?.stop();
        }
    };
}
