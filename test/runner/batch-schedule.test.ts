/**
 * BatchGatherer: while fewer sequences have queued than are generating, node-llama-cpp's batch loop is told to
 * decode nothing yet (it turns again at once), for a bounded number of turns; then the batch is split the way
 * node-llama-cpp's "maximumParallelism" splits it. The engine's four-stream batches are measured by bench/batching.ts.
 */
import type {BatchItem, Token} from "node-llama-cpp";
import {describe, expect, it} from "vitest";
import {BatchGatherer, maximumParallelism, PRIORITY_RUN} from "../../src/runner/batch-schedule.js";

const item = (n: number, evaluationPriority: BatchItem["evaluationPriority"] = 3): BatchItem =>
    ({tokens: Array.from({length: n}, (_, i) => i as Token), logits: [], evaluationPriority});

describe("BatchGatherer", () => {
    it("waits for every generating sequence, then sends them in one batch", () => {
        const g = new BatchGatherer();
        for (let i = 0; i < 4; i++) g.begin();
        expect(g.strategy({items: [item(1), item(1), item(1)], size: 512})).toEqual([]);
        const four = [item(1), item(1), item(1), item(1)];
        expect(g.strategy({items: four, size: 512}).map((p) => p.processAmount)).toEqual([1, 1, 1, 1]);
        expect(g.batches).toBe(1);
        expect(g.items).toBe(4);
    });

    it("sends what is queued after a bounded number of empty turns", () => {
        const g = new BatchGatherer();
        g.begin();
        g.begin();
        let turns = 0;
        while (g.strategy({items: [item(1)], size: 512}).length === 0) {
            turns++;
            expect(turns).toBeLessThan(1000);
        }
        expect(turns).toBeGreaterThan(0);
        // the next batch waits again
        expect(g.strategy({items: [item(1)], size: 512})).toEqual([]);
    });

    it("never waits for a sequence that ended, nor with a single sequence", () => {
        const g = new BatchGatherer();
        g.begin();
        expect(g.strategy({items: [item(1)], size: 512})).toHaveLength(1);
        g.begin();
        g.end();
        g.end();
        g.end(); // an extra end does not go below zero
        g.begin();
        expect(g.strategy({items: [item(1)], size: 512})).toHaveLength(1);
    });
});

describe("BatchGatherer priorities", () => {
    /** A chat and a tab completion generating on one context. */
    function chatAndCompletion() {
        const g = new BatchGatherer();
        g.begin();
        g.begin();
        return {g, fim: item(1, 5), chat: item(1, 3)};
    }

    it("while a tab completion (higher priority) has tokens queued, a decode carries only its tokens", () => {
        const {g, fim, chat} = chatAndCompletion();
        const sent = g.strategy({items: [chat, fim], size: 512});
        expect(sent.map((p) => p.item)).toEqual([fim]);
        // equal priorities share the decode as before
        const other = item(1, 3);
        expect(g.strategy({items: [chat, other], size: 512}).map((p) => p.item)).toEqual([chat, other]);
    });

    it("lets the lower priority through every PRIORITY_RUN-th decode, so completions cannot starve a chat", () => {
        const {g, fim, chat} = chatAndCompletion();
        const carried: number[] = [];
        for (let i = 0; i < 2 * (PRIORITY_RUN + 1); i++) carried.push(g.strategy({items: [chat, fim], size: 512}).length);
        expect(carried.filter((n) => n === 2)).toHaveLength(2);
        expect(carried[PRIORITY_RUN]).toBe(2);
        expect(carried.slice(0, PRIORITY_RUN).every((n) => n === 1)).toBe(true);
    });
});

describe("maximumParallelism", () => {
    it("gives every item an even share, then the rest by priority", () => {
        const low = item(300, 1);
        const high = item(300, 5);
        const small = item(2);
        const res = maximumParallelism([low, high, small], 512);
        const by = new Map(res.map((p) => [p.item, p.processAmount]));
        expect(by.get(small)).toBe(2);
        expect([...by.values()].reduce((a, b) => a + b, 0)).toBe(512);
        expect(by.get(high)!).toBeGreaterThanOrEqual(by.get(low)!);
    });

    it("takes whole items when they fit", () => {
        expect(maximumParallelism([item(10), item(20)], 512).map((p) => p.processAmount)).toEqual([10, 20]);
    });
});
