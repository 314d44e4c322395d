import {ProviderError} from "./errors.js";

/**
 * One model's lifecycle. The manager moves a model between these phases only through `Lifecycle.to`, which
 * refuses any move the table below does not list, so a bug shows up as an "internal" error naming both
 * phases instead of a model stuck half-way (a runner that nobody stops, or a record that says loaded without one).
 *
 * The main path is unloaded → loading → loaded ⇄ busy → draining → unloading → unloaded; every move:
 *
 * - unloaded  → loading    a request or an explicit load starts a runner
 * - loading   → loaded     the runner reported the model loaded
 * - loading   → failed     the runner could not load it (or died while loading)
 * - loading   → unloaded   the memory plan failed again after a victim became busy: no runner was started
 * - loaded    → busy       the first job took a permit
 * - busy      → loaded     the last job gave its permit back
 * - busy      → draining   an explicit unload: stop admitting, let the jobs in flight finish
 * - draining  → unloading  the last job in flight finished
 * - loaded    → unloading  idle timeout, eviction, explicit unload of an idle model
 * - busy      → unloading  a reload for a larger context, asked by the only job in flight before it used the runner
 * - unloading → unloaded   the runner exited
 * - loaded, busy, draining → failed   the runner died on its own
 * - failed    → loading    the next request loads it again
 * - failed    → unloaded   an explicit unload of a model whose runner is gone (also one that died while draining)
 *
 * Shutdown moves nothing: it ends the runners and ignores their exits.
 */
export type ModelPhase = "unloaded" | "loading" | "loaded" | "busy" | "draining" | "unloading" | "failed";

/** The state clients see (/runtime/status, the registry index): busy and draining models are still loaded. */
export type ModelState = "unloaded" | "loading" | "loaded" | "unloading" | "failed";

export const TRANSITIONS: Readonly<Record<ModelPhase, readonly ModelPhase[]>> = {
    unloaded: ["loading"],
    loading: ["loaded", "failed", "unloaded"],
    loaded: ["busy", "unloading", "failed"],
    busy: ["loaded", "draining", "unloading", "failed"],
    draining: ["unloading", "failed"],
    unloading: ["unloaded"],
    failed: ["loading", "unloaded"]
};

export function canTransition(from: ModelPhase, to: ModelPhase): boolean {
    return TRANSITIONS[from].includes(to);
}

export function publicState(phase: ModelPhase): ModelState {
    return phase === "busy" || phase === "draining" ? "loaded" : phase;
}

/** A model has a runner process in these phases (one may still be starting, or be stopping). */
export function hasRunnerPhase(phase: ModelPhase): boolean {
    return phase === "loading" || phase === "loaded" || phase === "busy" || phase === "draining" || phase === "unloading";
}

/** Loaded and able to serve: the runner is up and the model is in it. */
export function isServing(phase: ModelPhase): boolean {
    return phase === "loaded" || phase === "busy" || phase === "draining";
}

export class Lifecycle {
    private current: ModelPhase = "unloaded";

    /** `onChange` runs after every transition, with the phase left and the phase entered. */
    constructor(private readonly model: string, private readonly onChange: (from: ModelPhase, to: ModelPhase) => void = () => undefined) {}

    get phase(): ModelPhase {
        return this.current;
    }

    /** Moves to `next`; an unlisted move throws and leaves the phase as it was. */
    to(next: ModelPhase): void {
        const from = this.current;
        if (!canTransition(from, next))
            throw new ProviderError("internal", `model '${this.model}': invalid state transition ${from} → ${next}`, {code: "invalid_state_transition"});
        this.current = next;
        this.onChange(from, next);
    }
}

/**
 * Jobs admitted to one model and not yet finished (each holds a permit). "Never evict a busy model" and
 * "an unload waits for the jobs in flight" both read this count; `idle()` is the wait.
 */
export class InFlight {
    private n = 0;
    private idleWaiters: Array<() => void> = [];

    /** `onChange` runs when the count moves between zero and non-zero. */
    constructor(private readonly onChange: (busy: boolean) => void = () => undefined) {}

    get count(): number {
        return this.n;
    }

    enter(): void {
        this.n++;
        if (this.n === 1) this.onChange(true);
    }

    leave(): void {
        if (this.n === 0) throw new ProviderError("internal", "in-flight count would go below zero", {code: "in_flight_underflow"});
        this.n--;
        if (this.n > 0) return;
        this.onChange(false);
        for (const w of this.idleWaiters.splice(0)) w();
    }

    /** Resolves when no job is in flight (at once if none is). */
    idle(): Promise<void> {
        if (this.n === 0) return Promise.resolve();
        return new Promise((resolve) => this.idleWaiters.push(resolve));
    }
}
