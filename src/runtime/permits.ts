import {cancelled} from "./errors.js";
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

    constructor(private readonly pool: Permits, held: boolean) {
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
            this.pool.giveBack();
        } else if (this.status === "queued") {
            this.pool.withdraw(this);
            this.refuse(reason);
        }
    }
}

/**
 * The permits of one model: as many jobs run at once as the runner has sequences, the rest wait in FIFO order.
 * A returned sequence passes straight to the oldest waiter, so a job that arrives later never overtakes one
 * that waits, and the in-flight count stays the same across the hand-over. The count only falls when nobody
 * waits, so it cannot reach zero while a job is queued: waiting for an idle model waits for the queue too.
 */
export class Permits {
    private waiters: Permit[] = [];

    constructor(private readonly inFlight: InFlight) {}

    get queued(): number {
        return this.waiters.length;
    }

    /** Whether a permit asked for now would be granted at once. */
    available(capacity: number): boolean {
        return this.inFlight.count < capacity && this.waiters.length === 0;
    }

    acquire(capacity: number): Permit {
        if (this.available(capacity)) {
            this.inFlight.enter();
            return new Permit(this, true);
        }
        const permit = new Permit(this, false);
        this.waiters.push(permit);
        return permit;
    }

    /** Refuses every waiting permit (shutdown). Held permits are untouched; their jobs finish or fail on their own. */
    refuseAll(reason: Error): void {
        for (const w of this.waiters.splice(0)) w.refuse(reason);
    }

    giveBack(): void {
        const next = this.waiters.shift();
        if (next) next.grant();
        else this.inFlight.leave();
    }

    withdraw(permit: Permit): void {
        const i = this.waiters.indexOf(permit);
        if (i !== -1) this.waiters.splice(i, 1);
    }
}
