/** Progress output of a setup run: the interface the machine reports to, and the console line per step. */
import type {StepRecord} from "./records.js";

/** Progress output; the CLI draws a spinner line per step, tests collect the calls. */
export interface ProgressSink {
    stepStarted(step: StepRecord): void;
    stepFinished(step: StepRecord): void;
    note(text: string): void;
    /** Stop drawing (a prompt is about to take the terminal). */
    pause(): void;
}

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const STATUS_MARK: Record<StepRecord["status"], string> = {done: "✔", skipped: "-", denied: "✖", failed: "✘", running: "…", pending: " "};

/** One line per step: a spinner while it runs (on a terminal), then its status, time and summary. */
export class ConsoleProgress implements ProgressSink {
    private timer: NodeJS.Timeout | null = null;
    private frame = 0;
    private line = "";
    private started = 0;

    constructor(private readonly write: (t: string) => void, private readonly tty: boolean, private readonly total: number) {}

    stepStarted(step: StepRecord): void {
        this.stop();
        this.started = Date.now();
        this.line = `[${step.index}/${this.total}] ${step.title}`;
        if (!this.tty) {
            this.write(`→ ${this.line}\n`);
            return;
        }
        this.draw();
        this.timer = setInterval(() => this.draw(), 100);
        this.timer.unref();
    }

    private draw(): void {
        const secs = ((Date.now() - this.started) / 1000).toFixed(1);
        this.write(`\r\x1b[2K${SPINNER[this.frame++ % SPINNER.length]} ${this.line} ${secs}s`);
    }

    stepFinished(step: StepRecord): void {
        this.stop();
        const secs = step.duration_ms != null ? `${(step.duration_ms / 1000).toFixed(1)}s` : "";
        const summary = (step.summary ?? step.reason ?? "").split("\n")[0];
        this.write(`${this.tty ? "\r\x1b[2K" : ""}${STATUS_MARK[step.status]} [${step.index}/${this.total}] ${step.title}: ${step.status} ${secs}${summary ? `  ${summary}` : ""}\n`);
        for (const w of step.warnings) this.write(`    warning: ${w}\n`);
    }

    note(text: string): void {
        this.pause();
        this.write(`${text}\n`);
    }

    pause(): void {
        if (this.timer && this.tty) this.write("\r\x1b[2K");
        this.stop();
    }

    stop(): void {
        if (this.timer) clearInterval(this.timer);
        this.timer = null;
    }
}
