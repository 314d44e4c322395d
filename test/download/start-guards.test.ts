import {describe, expect, it} from "vitest";
import {DownloadError} from "../../src/download/errors.js";
import {InFlight} from "../../src/download/in-flight.js";
import {assertRoom, FREE_SPACE_HEADROOM} from "../../src/download/space.js";

describe("InFlight", () => {
    it("lets a second caller with the same key join the work under way, and forgets it once settled", async () => {
        const starts = new InFlight<number>();
        let runs = 0;
        let release!: (n: number) => void;
        const first = starts.run("k", () => {
            runs++;
            return new Promise<number>((resolve) => (release = resolve));
        });
        const joined = starts.get("k");
        expect(joined).toBeDefined();
        expect(starts.get("other")).toBeUndefined();
        release(7);
        expect(await first).toBe(7);
        expect(await joined).toBe(7);
        expect(runs).toBe(1);
        expect(starts.get("k")).toBeUndefined();
    });

    it("forgets failed work too, so a retry runs again", async () => {
        const starts = new InFlight<number>();
        await expect(starts.run("k", () => Promise.reject(new Error("no")))).rejects.toThrow("no");
        expect(starts.get("k")).toBeUndefined();
        expect(await starts.run("k", async () => 1)).toBe(1);
    });
});

describe("assertRoom", () => {
    const check = (free: number | null, need: number, reserved: number): Promise<void> =>
        assertRoom({probe: async () => free, dir: "/models", need, reserved: () => reserved, what: "hf:org/repo:Q4_K_M"});

    it("passes when the need, the other jobs' reservation and the headroom fit, or when the OS cannot tell", async () => {
        await expect(check(1000 + 500 + FREE_SPACE_HEADROOM, 1000, 500)).resolves.toBeUndefined();
        await expect(check(null, 1e15, 1e15)).resolves.toBeUndefined();
    });

    it("refuses with insufficient_storage (507), naming the other jobs' share when there is one", async () => {
        const e = await check(1000 + 500 + FREE_SPACE_HEADROOM - 1, 1000, 500).catch((err: unknown) => err);
        expect(e).toBeInstanceOf(DownloadError);
        expect(e).toMatchObject({code: "insufficient_storage", status: 507});
        expect((e as Error).message).toMatch(/other running downloads/);
        const alone = await check(10, 1000, 0).then(() => null, (err: unknown) => err as Error);
        expect(alone).toBeInstanceOf(DownloadError);
        expect(alone?.message).not.toMatch(/other running downloads/);
    });
});
