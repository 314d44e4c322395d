import {describe, expect, it} from "vitest";
import {InFlight} from "../../src/runtime/model-state.js";
import {Permits} from "../../src/runtime/permits.js";

/** Four sequences, one of them kept for short jobs. */
const FOUR = {sequences: 4, reservedForShort: 1};

function pool() {
    const inFlight = new InFlight();
    return {inFlight, permits: new Permits(inFlight)};
}

describe("permits in two latency classes", () => {
    it("long jobs take at most sequences − reserved; a short job still gets the reserved one at once", () => {
        const {permits, inFlight} = pool();
        const longs = [1, 2, 3].map(() => permits.acquire(FOUR, "long"));
        expect(longs.every((p) => p.held)).toBe(true);
        const fourthLong = permits.acquire(FOUR, "long");
        expect(fourthLong.queued).toBe(true);
        const short = permits.acquire(FOUR, "short");
        expect(short.held).toBe(true);
        expect(inFlight.count).toBe(4);
        // every sequence is taken now: the next short job waits, and is served before the waiting long one
        const nextShort = permits.acquire(FOUR, "short");
        expect(nextShort.queued).toBe(true);
        longs[0]!.release();
        expect(nextShort.held).toBe(true);
        expect(fourthLong.queued).toBe(true);
        expect(permits.queuedByClass).toEqual({short: 0, long: 1});
    });

    it("a returned short sequence does not go to a long waiter beyond the long limit; a returned long one does", () => {
        const {permits, inFlight} = pool();
        const longs = [1, 2, 3].map(() => permits.acquire(FOUR, "long"));
        const short = permits.acquire(FOUR, "short");
        const waitingLong = permits.acquire(FOUR, "long");
        short.release();
        expect(waitingLong.queued).toBe(true);
        expect(inFlight.count).toBe(3);
        longs[1]!.release();
        expect(waitingLong.held).toBe(true);
        expect(inFlight.count).toBe(3);
        for (const p of [longs[0]!, longs[2]!, waitingLong]) p.release();
        expect(inFlight.count).toBe(0);
    });

    it("with one sequence nothing can be reserved: long jobs still run, and short ones queue first in line", () => {
        const {permits} = pool();
        const one = {sequences: 1, reservedForShort: 1};
        const long = permits.acquire(one, "long");
        expect(long.held).toBe(true);
        const laterLong = permits.acquire(one, "long");
        const short = permits.acquire(one, "short");
        long.release();
        expect(short.held).toBe(true);
        expect(laterLong.queued).toBe(true);
    });

    it("within a class the oldest waiter is served first, and a withdrawn waiter leaves its place", async () => {
        const {permits} = pool();
        const two = {sequences: 2, reservedForShort: 0};
        const running = [permits.acquire(two, "short"), permits.acquire(two, "short")];
        const [a, b, c] = [1, 2, 3].map(() => permits.acquire(two, "short"));
        b!.release(new Error("gone"));
        await expect(b!.granted).rejects.toThrow("gone");
        running[0]!.release();
        expect(a!.held).toBe(true);
        expect(c!.queued).toBe(true);
        running[1]!.release();
        expect(c!.held).toBe(true);
    });
});
