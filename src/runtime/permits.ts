import {cancelled} from "./errors.js";
import type {LatencyClass} from "./latency.js";
import type {InFlight} from "./model-state.js";

type PermitStatus = "queued" | "held" | "returned";

/**
 * One job's right to a sequence of its model's runner. `granted` resolves when the job may run (at once when a
 * sequence was free) and rejects if the permit leaves the queue first.
 */
export class Permit {
    private status: PermitStatus;
    readonly granted: Promise<void>;
    private settle!: {resolve: () => void; reject: (e: Error) => void};

    constructor(private readonly pool: Permits, readonly latency: LatencyClass, held: boolean) {
        this.status = held ? "held" : "queued";
        this.granted = new Promise<void>((resolve, reject) => {
            this.settle = {resolve, reject};
        });
        // a job cancelled before anyone awaited `granted` must not surface as an unhandled rejection
        this.granted.catch(() => undefined);
        if (held) this.settle.resolve();
    }

    get held(): boolean {
        return this.status === "held";
    }

    get queued(): boolean {
        return this.status === "queued";
    }

    /** Called by the pool when a sequence passes to this permit. */
    grant(): void {
        this.status = "held";
        this.settle.resolve();
    }

    /** Called by the pool when this permit leaves the queue without a sequence. */
    refuse(reason: Error): void {
        this.status = "returned";
        this.settle.reject(reason);
    }

    /**
     * Gives the sequence back (the next job in the queue gets it), or, still queued, leaves the queue and
     * rejects `granted` with `reason`. Later calls do nothing.
     */
    release(reason: Error = cancelled()): void {
        if (this.status === "held") {
            this.status = "returned";
            this.pool.giveBack(this);
        } else if (this.status === "queued") {
            this.pool.withdraw(this);
            this.refuse(reason);
        }
    }
}

/** How many sequences a model has, and how many of them long jobs must leave to short ones. */
export interface Capacity {
    sequences: number;
    /** Sequences long jobs may not take; at most `sequences - 1`, so a long job can always run eventually. */
    reservedForShort: number;
}

/**
 * The permits of one model, in two classes. Short jobs (tab completions) may take any free sequence; long jobs
 * (chats, agents) may hold at most `sequences - reservedForShort` of them, so a completion that arrives while
 * chats fill the model starts at once instead of waiting minutes for one to end.
 *
 * Within a class jobs are served in arrival order: a returned sequence passes to the oldest short waiter, else to
 * the oldest long waiter the long limit allows, so a job never overtakes an earlier one of its own class. The
 * in-flight count stays the same across such a hand-over and only falls when the sequence goes to nobody; a job
 * waits only while another runs, so the count cannot reach zero while a job is queued, and waiting for an idle
 * model waits for the queue too.
 */
export class Permits {
    private shortWaiters: Permit[] = [];
    private longWaiters: Permit[] = [];
    private longHeld = 0;
    private capacity: Capacity = {sequences: 1, reservedForShort: 0};

    constructor(private readonly inFlight: InFlight) {}

    get queued(): number {
        return this.shortWaiters.length + this.longWaiters.length;
    }

    /** Waiting jobs by class, for status reports. */
    get queuedByClass(): Record<LatencyClass, number> {
        return {short: this.shortWaiters.length, long: this.longWaiters.length};
    }

    /** The queued permits, oldest first within each class (supersession looks through them). */
    waiting(): readonly Permit[] {
        return [...this.shortWaiters, ...this.longWaiters];
    }

    private longLimit(): number {
        const reserved = Math.min(Math.max(0, this.capacity.reservedForShort), this.capacity.sequences - 1);
        return this.capacity.sequences - reserved;
    }

    private fits(latency: LatencyClass): boolean {
        if (this.inFlight.count >= this.capacity.sequences) return false;
        return latency === "short" || this.longHeld < this.longLimit();
    }

    /**
     * Whether a permit of this class asked for now would be granted at once. `capacity` is the model's as it is
     * now (the runner's when loaded, else the configured one); it also applies to the waiters from here on.
     */
    available(capacity: Capacity, latency: LatencyClass = "long"): boolean {
        this.capacity = capacity;
        const waiters = latency === "short" ? this.shortWaiters : this.longWaiters;
        return waiters.length === 0 && this.fits(latency);
    }

    acquire(capacity: Capacity, latency: LatencyClass = "long"): Permit {
        if (this.available(capacity, latency)) {
            this.inFlight.enter();
            if (latency === "long") this.longHeld++;
            return new Permit(this, latency, true);
        }
        const permit = new Permit(this, latency, false);
        (latency === "short" ? this.shortWaiters : this.longWaiters).push(permit);
        return permit;
    }

    /** Refuses every waiting permit (shutdown). Held permits are untouched; their jobs finish or fail on their own. */
    refuseAll(reason: Error): void {
        for (const w of [...this.shortWaiters.splice(0), ...this.longWaiters.splice(0)]) w.refuse(reason);
    }

    giveBack(permit: Permit): void {
        if (permit.latency === "long") this.longHeld--;
        const next = this.shortWaiters.length > 0 ? this.shortWaiters.shift()
            : this.longWaiters.length > 0 && this.longHeld < this.longLimit() ? this.longWaiters.shift() : undefined;
        if (!next) {
            this.inFlight.leave();
            return;
        }
        if (next.latency === "long") this.longHeld++;
        next.grant();
    }

    withdraw(permit: Permit): void {
        for (const list of [this.shortWaiters, this.longWaiters]) {
            const i = list.indexOf(permit);
            if (i !== -1) list.splice(i, 1);
        }
    }
}
