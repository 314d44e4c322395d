import {describe, expect, it} from "vitest";
import {UsageError} from "../../src/cli/args.js";
import {formatTable, parsePeerArgs, summarize, type Row} from "../../bench/peer.js";

describe("bench peer: arguments", () => {
    it("defaults: threads from the CPU count, 5 runs, no llama-server", () => {
        expect(parsePeerArgs([], {}, 6)).toEqual({threads: 6, runs: 5});
    });

    it("takes LLAMA_SERVER, BENCH_THREADS and BENCH_OUT from the environment, flags winning over them", () => {
        const env = {LLAMA_SERVER: "/env/llama-server", BENCH_THREADS: "3", BENCH_OUT: "/tmp/env.txt"};
        expect(parsePeerArgs([], env, 8)).toEqual({threads: 3, runs: 5, llamaServer: "/env/llama-server", out: "/tmp/env.txt"});
        expect(parsePeerArgs(["--llama-server", "/bin/ls", "--threads", "2", "--runs", "3", "--model", "m.gguf", "--out", "o"], env, 8))
            .toEqual({threads: 2, runs: 3, llamaServer: "/bin/ls", model: "m.gguf", out: "o"});
    });

    it("an empty LLAMA_SERVER means none", () => {
        expect(parsePeerArgs([], {LLAMA_SERVER: ""}, 2)?.llamaServer).toBeUndefined();
    });

    it("rejects bad numbers and unknown options with a usage error", () => {
        for (const argv of [["--runs", "0"], ["--runs", "2.5"], ["--threads", "many"], ["--bogus"], ["extra"]])
            expect(() => parsePeerArgs(argv, {}, 2), argv.join(" ")).toThrow(UsageError);
        expect(() => parsePeerArgs([], {BENCH_THREADS: "-1"}, 2)).toThrow(/BENCH_THREADS/);
    });

    it("--help answers null", () => {
        expect(parsePeerArgs(["--help"], {}, 2)).toBeNull();
    });
});

describe("bench peer: statistics", () => {
    it("median of an odd and an even count, min and max", () => {
        expect(summarize([5, 1, 3])).toEqual({median: 3, min: 1, max: 5, n: 3});
        expect(summarize([4, 1, 3, 2])).toEqual({median: 2.5, min: 1, max: 4, n: 4});
    });

    it("ignores values that are not finite, and has nothing for no values", () => {
        expect(summarize([Number.NaN, 2, Number.POSITIVE_INFINITY])).toEqual({median: 2, min: 2, max: 2, n: 1});
        expect(summarize([])).toBeNull();
    });
});

describe("bench peer: table", () => {
    const rows: Row[] = [
        {label: "generation", unit: "tokens/s", server: summarize([30, 31, 29]), peer: summarize([40, 42, 41])},
        {label: "cold start", unit: "ms", server: summarize([4000, 4100]), peer: summarize([700, 800])}
    ];

    it("prints both engines' medians with min–max and the ratio of the medians", () => {
        const lines = formatTable(rows, false).split("\n");
        expect(lines).toHaveLength(4);
        expect(lines[2]).toBe("| generation | 30.0 tokens/s (29.0–31.0) | 41.0 tokens/s (40.0–42.0) | 0.73 |");
        expect(lines[3]).toBe("| cold start | 4,050 ms (4,000–4,100) | 750 ms (700–800) | 5.40 |");
    });

    it("says the peer column was skipped, with no ratio", () => {
        const skipped = rows.map((r) => ({...r, peer: null}));
        const line = formatTable(skipped, true).split("\n")[2];
        expect(line).toBe("| generation | 30.0 tokens/s (29.0–31.0) | skipped | — |");
    });
});
