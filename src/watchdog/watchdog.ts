import {EventEmitter} from "node:events";
import fs from "node:fs";
import path from "node:path";
import {silentLogger, type Logger} from "../log/logger.js";
import type {CommandRunner} from "../service/runner.js";
import {checkHealth, type HealthResult} from "./health.js";
import {acquireLock, type LockHandle} from "./lock.js";
import {isProcessAlive, spawnProvider, terminateProcessTree, type ExitInfo, type ProviderCommand, type SpawnedProvider} from "./process.js";

export const WATCHDOG_FILES = {
    lock: "watchdog.lock",
    state: "watchdog_state.json",
    /** One JSON line per restart, recovery and give-up. */
    log: "watchdog.log",
    /** The provider the watchdog started in direct mode, so that a new watchdog can adopt it. */
    pid: "provider.pid",
    providerStdout: "provider.out.log",
    providerStderr: "provider.err.log"
} as const;

export type WatchdogMode = "direct" | "service";
export type WatchdogPhase = "idle" | "starting" | "watching" | "restarting" | "gave_up" | "stopped";

export interface WatchdogOptions {
    /** Where the provider answers, e.g. http://127.0.0.1:8007 */
    baseUrl: string;
    intervalMs: number;
    /** Bound on one health check, connection to last byte. */
    timeoutMs: number;
    /** Consecutive failed checks that trigger a restart. */
    failuresBeforeRestart: number;
    /** Crash-loop guard: at most this many restarts within `windowMs`, then stop restarting. */
    maxRestarts: number;
    windowMs: number;
    /** Delay before a restart, doubled for each restart that did not lead to a healthy provider, capped. */
    backoffInitialMs: number;
    backoffMaxMs: number;
    /** How long a (re)started provider may take to answer its first health check. */
    startupTimeoutMs: number;
    /** How long a provider asked to stop gets before it is killed (its drain grace plus a margin). */
    stopTimeoutMs: number;
    /** Holds the lock, the state file, the restart log and (direct mode) the provider's PID file. */
    logsDir: string;
    mode: WatchdogMode;
    /** Direct mode: how to start the provider. */
    provider?: ProviderCommand;
    /** Service mode: asks the service manager to restart the provider (`nssm restart`, `systemctl restart`, ...). */
    restartService?: () => Promise<void>;
    logger?: Logger;
    platform?: NodeJS.Platform;
    /** Used for `taskkill` on Windows. */
    runner?: CommandRunner;
}

/** One line of logs/watchdog.log. */
export interface RestartRecord {
    time: string;
    event: "restart" | "recovered" | "gave_up" | "restart_failed";
    reason: string;
    mode: WatchdogMode;
    /** When the provider was first seen down, and for how long it has been (restart) or was (recovered). */
    down_since?: string;
    downtime_ms?: number;
    attempt?: number;
    restarts_in_window?: number;
    backoff_ms?: number;
    old_pid?: number | null;
    new_pid?: number | null;
}

export interface WatchdogState {
    state: WatchdogPhase;
    reason: string | null;
    watchdog_pid: number;
    mode: WatchdogMode;
    url: string;
    provider_pid: number | null;
    consecutive_failures: number;
    restarts_in_window: string[];
    max_restarts: number;
    window_minutes: number;
    last_restart: RestartRecord | null;
    updated_at: string;
}

interface PidFile {
    pid: number;
    started_at: string;
    url: string;
}

/**
 * Keeps the provider alive: checks /health every interval, restarts it after K failed checks or when its
 * process is gone, backs off exponentially between restarts, and gives up (state file, loud log) after
 * N restarts in M minutes. Only one runs per logs folder (lock file).
 *
 * Events: "spawned" (pid), "restart" (RestartRecord), "recovered" (RestartRecord), "gave_up" (RestartRecord), "check" (HealthResult).
 */
export class Watchdog extends EventEmitter {
    readonly files: {lock: string; state: string; log: string; pid: string};
    private readonly o: WatchdogOptions;
    private readonly logger: Logger;
    private lock: LockHandle | null = null;
    private phase: WatchdogPhase = "idle";
    private stopped = false;
    private loopDone: Promise<void> | null = null;
    private wakeInterval: (() => void) | null = null;
    private wakeAny: (() => void) | null = null;

    private child: SpawnedProvider | null = null;
    private childExit: ExitInfo | null = null;
    private pid: number | null = null;
    /** Seen healthy while this PID was alive: only then is it safe to kill it (it may be a reused PID otherwise). */
    private pidVerified = false;
    private spawnFailed = false;

    private failures = 0;
    private lastError: string | null = null;
    private startedAt = 0;
    private downSince: number | null = null;
    private restartTimes: number[] = [];
    private restartsSinceHealthy = 0;
    private lastRestart: RestartRecord | null = null;
    private reason: string | null = null;

    constructor(options: WatchdogOptions) {
        super();
        if (options.mode === "direct" && !options.provider) throw new Error("watchdog: direct mode needs a provider command");
        if (options.mode === "service" && !options.restartService) throw new Error("watchdog: service mode needs restartService");
        this.o = options;
        this.logger = options.logger ?? silentLogger;
        this.files = {
            lock: path.join(options.logsDir, WATCHDOG_FILES.lock),
            state: path.join(options.logsDir, WATCHDOG_FILES.state),
            log: path.join(options.logsDir, WATCHDOG_FILES.log),
            pid: path.join(options.logsDir, WATCHDOG_FILES.pid)
        };
    }

    get state(): WatchdogPhase {
        return this.phase;
    }

    get providerPid(): number | null {
        return this.pid;
    }

    /** Takes the lock (throws LockHeldError when another watchdog runs), adopts or starts the provider, and starts checking. */
    async start(): Promise<void> {
        if (this.loopDone) throw new Error("watchdog already started");
        fs.mkdirSync(this.o.logsDir, {recursive: true});
        this.lock = acquireLock(this.files.lock);
        try {
            await this.attachOrStart();
        } catch (err) {
            this.lock.release();
            this.lock = null;
            throw err;
        }
        this.logger.info({url: this.o.baseUrl, mode: this.o.mode, pid: this.pid}, "watchdog started");
        this.loopDone = this.loop();
    }

    /**
     * Stops checking and releases the lock. With `stopProvider`, a provider started or adopted in direct
     * mode is stopped too; otherwise it keeps running and the next watchdog adopts it.
     */
    async stop(opts: {stopProvider?: boolean} = {}): Promise<void> {
        this.stopped = true;
        this.wakeAny?.();
        await this.loopDone;
        if (this.o.mode === "direct" && this.pid != null) {
            if (opts.stopProvider) {
                if (this.pidVerified || this.child) await this.terminate(this.pid);
                fs.rmSync(this.files.pid, {force: true});
            } else {
                this.child?.unref();
            }
        }
        this.phase = "stopped";
        this.writeState();
        this.lock?.release();
        this.lock = null;
        this.logger.info("watchdog stopped");
    }

    private async attachOrStart(): Promise<void> {
        if (this.o.mode === "service") {
            this.enterStarting();
            return;
        }
        const rec = this.readPidFile();
        if (rec && isProcessAlive(rec.pid)) {
            this.pid = rec.pid;
            this.pidVerified = false;
            this.logger.info({pid: rec.pid}, "adopting the provider started by an earlier watchdog");
            this.enterStarting();
            return;
        }
        const h = await checkHealth(this.o.baseUrl, this.o.timeoutMs);
        if (h.ok) {
            this.logger.warn({url: this.o.baseUrl}, "a provider not started by a watchdog already answers; watching it over HTTP (it cannot be killed if it hangs)");
            this.phase = "watching";
            this.writeState();
            return;
        }
        this.spawn();
        this.enterStarting();
    }

    private enterStarting(): void {
        this.phase = "starting";
        this.startedAt = Date.now();
        this.failures = 0;
        this.writeState();
    }

    private spawn(): void {
        const cmd = this.o.provider!;
        this.childExit = null;
        this.spawnFailed = false;
        let child: SpawnedProvider;
        try {
            child = spawnProvider(cmd);
        } catch (err) {
            this.spawnFailed = true;
            this.child = null;
            this.pid = null;
            throw err;
        }
        this.child = child;
        this.pid = child.pid;
        this.pidVerified = true;
        void child.exited.then((info) => {
            if (this.child !== child) return;
            this.childExit = info;
            this.logger.warn({pid: child.pid, ...info}, "provider process exited");
            // Do not wait for the rest of the interval: a dead process needs no more checks.
            this.wakeInterval?.();
        });
        const rec: PidFile = {pid: child.pid, started_at: new Date().toISOString(), url: this.o.baseUrl};
        fs.writeFileSync(this.files.pid, JSON.stringify(rec));
        this.emit("spawned", child.pid);
        this.logger.info({pid: child.pid}, "provider started");
    }

    private readPidFile(): PidFile | null {
        try {
            const v = JSON.parse(fs.readFileSync(this.files.pid, "utf8")) as Partial<PidFile>;
            return typeof v.pid === "number" ? {pid: v.pid, started_at: String(v.started_at ?? ""), url: String(v.url ?? "")} : null;
        } catch {
            return null;
        }
    }

    private processGone(): boolean {
        if (this.o.mode !== "direct") return false;
        if (this.spawnFailed) return true;
        if (this.pid == null) return false;
        if (this.child) return this.childExit != null;
        return !isProcessAlive(this.pid);
    }

    private async loop(): Promise<void> {
        while (!this.stopped) {
            try {
                await this.tick();
            } catch (err) {
                // One bad tick (a full disk while writing state) must not end the watchdog.
                this.logger.error({err}, "watchdog tick failed");
            }
            if (this.stopped) break;
            await this.sleep(this.o.intervalMs, true);
        }
    }

    private async tick(): Promise<void> {
        if (this.phase === "gave_up") {
            const h = await this.check();
            if (h.ok) {
                this.logger.warn("the provider is healthy again; restarts are enabled again");
                this.restartTimes = [];
                this.restartsSinceHealthy = 0;
                this.reason = null;
                this.onHealthy();
            }
            return;
        }
        if (this.processGone()) {
            const exit = this.childExit;
            const how = exit ? ` (${exit.signal ? `signal ${exit.signal}` : `exit code ${String(exit.code)}`})` : "";
            await this.restart(this.spawnFailed ? "the provider could not be started" : `provider process ${String(this.pid)} is gone${how}`);
            return;
        }
        const h = await this.check();
        if (this.stopped) return;
        if (h.ok) {
            if (this.pid != null && (this.child == null || this.childExit == null)) this.pidVerified = true;
            this.onHealthy();
            return;
        }
        this.lastError = h.error ?? "unhealthy";
        if (this.phase === "starting") {
            if (Date.now() - this.startedAt < this.o.startupTimeoutMs) return;
            this.downSince ??= Date.now();
            await this.restart(`provider did not answer /health within ${this.o.startupTimeoutMs} ms of starting: ${this.lastError}`);
            return;
        }
        this.failures++;
        this.downSince ??= Date.now();
        this.logger.warn({failures: this.failures, of: this.o.failuresBeforeRestart, error: this.lastError}, "health check failed");
        this.writeState();
        if (this.failures >= this.o.failuresBeforeRestart)
            await this.restart(`health check failed ${this.failures} times in a row: ${this.lastError}`);
    }

    private async check(): Promise<HealthResult> {
        const h = await checkHealth(this.o.baseUrl, this.o.timeoutMs);
        this.emit("check", h);
        if (h.ok && h.status === "degraded") this.logger.warn({reasons: h.reasons}, "provider is alive but degraded");
        return h;
    }

    private onHealthy(): void {
        const wasDown = this.downSince;
        const changed = this.phase !== "watching" || this.failures !== 0;
        this.phase = "watching";
        this.failures = 0;
        this.restartsSinceHealthy = 0;
        if (wasDown != null) {
            const rec = this.record({event: "recovered", reason: this.lastRestart?.reason ?? "health checks pass again", down_since: new Date(wasDown).toISOString(), downtime_ms: Date.now() - wasDown, new_pid: this.pid});
            this.downSince = null;
            this.logger.info({downtime_ms: rec.downtime_ms}, "provider recovered");
            this.emit("recovered", rec);
        }
        if (changed || wasDown != null) this.writeState();
    }

    private async restart(reason: string): Promise<void> {
        const now = Date.now();
        this.downSince ??= now;
        this.restartTimes = this.restartTimes.filter((t) => now - t < this.o.windowMs);
        if (this.restartTimes.length >= this.o.maxRestarts) {
            this.giveUp(reason);
            return;
        }
        const backoff = Math.min(this.o.backoffInitialMs * 2 ** this.restartsSinceHealthy, this.o.backoffMaxMs);
        this.phase = "restarting";
        this.writeState();
        this.logger.warn({reason, backoff_ms: backoff}, "restarting the provider");
        await this.sleep(backoff, false);
        if (this.stopped) return;

        const oldPid = this.pid;
        let failure: string | null = null;
        if (this.o.mode === "direct") {
            if (oldPid != null && !this.processGone()) {
                if (this.pidVerified) await this.terminate(oldPid);
                else this.logger.warn({pid: oldPid}, "not killing an adopted PID never seen healthy (it may belong to another program now)");
            }
            try {
                this.spawn();
            } catch (err) {
                failure = (err as Error).message;
            }
        } else {
            try {
                await this.o.restartService!();
            } catch (err) {
                failure = (err as Error).message;
            }
        }
        this.restartTimes.push(Date.now());
        this.restartsSinceHealthy++;
        const rec = this.record({
            event: failure ? "restart_failed" : "restart",
            reason: failure ? `${reason}; the restart itself failed: ${failure}` : reason,
            down_since: new Date(this.downSince).toISOString(),
            downtime_ms: Date.now() - this.downSince,
            attempt: this.restartsSinceHealthy,
            restarts_in_window: this.restartTimes.length,
            backoff_ms: backoff,
            old_pid: oldPid,
            new_pid: this.pid
        });
        this.lastRestart = rec;
        this.emit("restart", rec);
        this.enterStarting();
    }

    private giveUp(reason: string): void {
        const minutes = this.o.windowMs / 60_000;
        this.reason = `crash loop: ${this.restartTimes.length} restarts within ${minutes} minutes did not keep the provider up; ` +
            `stopped restarting. Last failure: ${reason}. Fix the cause (see ${WATCHDOG_FILES.providerStderr} and the provider log), then restart the watchdog.`;
        this.phase = "gave_up";
        const rec = this.record({
            event: "gave_up", reason: this.reason,
            down_since: this.downSince != null ? new Date(this.downSince).toISOString() : undefined,
            downtime_ms: this.downSince != null ? Date.now() - this.downSince : undefined,
            restarts_in_window: this.restartTimes.length, old_pid: this.pid
        });
        this.writeState();
        this.logger.fatal({reason: this.reason}, "WATCHDOG GAVE UP: the provider keeps failing and will not be restarted again");
        this.emit("gave_up", rec);
    }

    private async terminate(pid: number): Promise<void> {
        await terminateProcessTree(pid, {
            graceMs: this.o.stopTimeoutMs,
            platform: this.o.platform,
            runner: this.o.runner,
            exited: this.child?.pid === pid ? this.child.exited : undefined
        });
    }

    private record(partial: Omit<RestartRecord, "time" | "mode">): RestartRecord {
        const rec: RestartRecord = {time: new Date().toISOString(), mode: this.o.mode, ...partial};
        try {
            fs.appendFileSync(this.files.log, `${JSON.stringify(rec)}\n`);
        } catch (err) {
            this.logger.error({err}, `cannot write ${this.files.log}`);
        }
        return rec;
    }

    private writeState(): void {
        const state: WatchdogState = {
            state: this.phase,
            reason: this.reason,
            watchdog_pid: process.pid,
            mode: this.o.mode,
            url: this.o.baseUrl,
            provider_pid: this.pid,
            consecutive_failures: this.failures,
            restarts_in_window: this.restartTimes.map((t) => new Date(t).toISOString()),
            max_restarts: this.o.maxRestarts,
            window_minutes: this.o.windowMs / 60_000,
            last_restart: this.lastRestart,
            updated_at: new Date().toISOString()
        };
        const text = `${JSON.stringify(state, null, 2)}\n`;
        const tmp = `${this.files.state}.${process.pid}.tmp`;
        try {
            fs.writeFileSync(tmp, text);
            fs.renameSync(tmp, this.files.state);
        } catch {
            // Windows refuses the rename while a reader holds the file open; a plain write is good enough then.
            try {
                fs.rmSync(tmp, {force: true});
                fs.writeFileSync(this.files.state, text);
            } catch (err) {
                this.logger.error({err}, `cannot write ${this.files.state}`);
            }
        }
    }

    /** Waits `ms`; `stop()` always cuts it short, a provider exit only when `wakeOnExit`. */
    private sleep(ms: number, wakeOnExit: boolean): Promise<void> {
        if (this.stopped || ms <= 0) return Promise.resolve();
        return new Promise((resolve) => {
            const done = (): void => {
                clearTimeout(timer);
                this.wakeAny = null;
                this.wakeInterval = null;
                resolve();
            };
            const timer = setTimeout(done, ms);
            this.wakeAny = done;
            if (wakeOnExit) this.wakeInterval = done;
        });
    }
}
