import {describe, expect, it, vi} from "vitest";
import {ProviderError} from "../../src/runtime/errors.js";
import {canTransition, InFlight, Lifecycle, publicState, TRANSITIONS, type ModelPhase} from "../../src/runtime/model-state.js";
import {Permits} from "../../src/runtime/permits.js";

// everything here settles in milliseconds: a wait that hangs is a bug, so fail fast instead of at the default minute
vi.setConfig({testTimeout: 5000});

const PHASES = Object.keys(TRANSITIONS) as ModelPhase[];

/** A lifecycle driven to `phase` through allowed moves only (breadth-first over the table). */
function lifecycleAt(phase: ModelPhase, seen: Array<[ModelPhase, ModelPhase]> = []): Lifecycle {
    const previous = new Map<ModelPhase, ModelPhase>();
    const queue: ModelPhase[] = ["unloaded"];
    while (queue.length > 0) {
        const p = queue.shift()!;
        for (const n of TRANSITIONS[p]) if (n !== "unloaded" && !previous.has(n)) {
            previous.set(n, p);
            queue.push(n);
        }
    }
    const path: ModelPhase[] = [];
    for (let p: ModelPhase | undefined = phase; p && p !== "unloaded"; p = previous.get(p)) path.unshift(p);
    const life = new Lifecycle("m", (from, to) => seen.push([from, to]));
    for (const p of path) life.to(p);
    return life;
}

describe("model lifecycle table", () => {
    it("allows the main path unloaded → loading → loaded ⇄ busy → draining → unloading → unloaded", () => {
        const seen: Array<[ModelPhase, ModelPhase]> = [];
        const life = new Lifecycle("m", (from, to) => seen.push([from, to]));
        for (const p of ["loading", "loaded", "busy", "loaded", "busy", "draining", "unloading", "unloaded"] as const) life.to(p);
        expect(life.phase).toBe("unloaded");
        expect(seen).toHaveLength(8);
        expect(seen[0]).toEqual(["unloaded", "loading"]);
    });

    it("lets a failed model load again or be unloaded, and every serving phase fail", () => {
        for (const from of ["loading", "loaded", "busy", "draining"] as const) expect(canTransition(from, "failed")).toBe(true);
        expect(canTransition("failed", "loading")).toBe(true);
        expect(canTransition("failed", "unloaded")).toBe(true);
    });

    it("refuses every move the table does not list, with an internal error naming both phases, and stays where it was", () => {
        let refused = 0;
        for (const from of PHASES) for (const to of PHASES) {
            if (canTransition(from, to)) continue;
            const seen: Array<[ModelPhase, ModelPhase]> = [];
            const life = lifecycleAt(from, seen);
            expect(life.phase).toBe(from);
            const before = seen.length;
            let err: unknown = null;
            try {
                life.to(to);
            } catch (e) {
                err = e;
            }
            expect(err, `${from} → ${to}`).toBeInstanceOf(ProviderError);
            expect((err as ProviderError).kind).toBe("internal");
            expect((err as ProviderError).message).toContain(`${from} → ${to}`);
            expect(life.phase).toBe(from);
            expect(seen).toHaveLength(before);
            refused++;
        }
        // the table is small on purpose: most moves are refused (a loaded model never "loads" again without unloading)
        expect(refused).toBeGreaterThan(30);
        expect(canTransition("loaded", "loading")).toBe(false);
        expect(canTransition("unloaded", "loaded")).toBe(false);
        expect(canTransition("unloading", "loaded")).toBe(false);
        expect(canTransition("draining", "busy")).toBe(false);
    });

    it("shows clients busy and draining models as loaded", () => {
        expect(PHASES.map(publicState)).toEqual(["unloaded", "loading", "loaded", "loaded", "loaded", "unloading", "failed"]);
    });
});

describe("in-flight accounting", () => {
    it("tells when it becomes busy and idle, and idle() waits for the last job", async () => {
        const changes: boolean[] = [];
        const inFlight = new InFlight((busy) => changes.push(busy));
        await inFlight.idle();
        inFlight.enter();
        inFlight.enter();
        let idle = false;
        void inFlight.idle().then(() => (idle = true));
        inFlight.leave();
        await Promise.resolve();
        expect(idle).toBe(false);
        inFlight.leave();
        await Promise.resolve();
        expect(idle).toBe(true);
        expect(changes).toEqual([true, false]);
        expect(() => inFlight.leave()).toThrow(ProviderError);
    });
});

/** A model with `n` sequences and none reserved for short jobs. */
const sequences = (n: number) => ({sequences: n, reservedForShort: 0});

describe("permits", () => {
    it("grants up to capacity, queues the rest in order, and hands a returned permit to the oldest waiter", async () => {
        const inFlight = new InFlight();
        const permits = new Permits(inFlight);
        const a = permits.acquire(sequences(1));
        const b = permits.acquire(sequences(1));
        const c = permits.acquire(sequences(1));
        expect([a.held, b.queued, c.queued]).toEqual([true, true, true]);
        expect(permits.queued).toBe(2);
        a.release();
        await b.granted;
        expect([b.held, c.queued, inFlight.count]).toEqual([true, true, 1]);
        // a newcomer queues behind c even though the count is below capacity 2
        expect(permits.available(sequences(2))).toBe(false);
        c.release(new Error("gone"));
        await expect(c.granted).rejects.toThrow("gone");
        expect(permits.available(sequences(2))).toBe(true);
        b.release();
        b.release();
        expect(inFlight.count).toBe(0);
    });

    it("refuseAll rejects every waiter and leaves held permits alone", async () => {
        const inFlight = new InFlight();
        const permits = new Permits(inFlight);
        const held = permits.acquire(sequences(1));
        const waiting = permits.acquire(sequences(1));
        permits.refuseAll(new Error("closing"));
        await expect(waiting.granted).rejects.toThrow("closing");
        expect(held.held).toBe(true);
        expect(permits.queued).toBe(0);
        held.release();
        expect(inFlight.count).toBe(0);
    });
});
