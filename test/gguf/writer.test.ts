import {mkdtemp, readFile, rm, stat} from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {readGgufFileInfo} from "node-llama-cpp";
import {
    GgmlType,
    encodeF16,
    encodeGgufHeader,
    encodeQ8_0,
    float16BitsToFloat32,
    float32ToFloat16Bits,
    gguf,
    ggmlTensorByteLength,
    writeGgufFile
} from "../../src/gguf/writer.js";

let dir: string;
beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "zc-gguf-writer-"));
});
afterAll(async () => {
    await rm(dir, {recursive: true, force: true});
});

function bytes(n: number, seed: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++)
        out[i] = (i * 31 + seed) & 0xff;
    return out;
}

describe("GGUF writer", () => {
    it("writes every metadata value type and node-llama-cpp reads them back", async () => {
        const file = path.join(dir, "types.gguf");
        await writeGgufFile(file, {
            metadata: [
                ["general.architecture", gguf.str("llama")],
                ["zc.u8", gguf.u8(255)],
                ["zc.i8", gguf.i8(-128)],
                ["zc.u16", gguf.u16(65535)],
                ["zc.i16", gguf.i16(-32768)],
                ["zc.u32", gguf.u32(4294967295)],
                ["zc.i32", gguf.i32(-2147483648)],
                ["zc.f32", gguf.f32(0.5)],
                ["zc.f64", gguf.f64(Math.PI)],
                ["zc.u64", gguf.u64(2n ** 64n - 1n)],
                ["zc.i64", gguf.i64(-(2n ** 63n))],
                ["zc.yes", gguf.bool(true)],
                ["zc.no", gguf.bool(false)],
                ["zc.text", gguf.str("héllo ▁ 世界")],
                ["zc.empty", gguf.str("")],
                ["zc.strings", gguf.arr("string", ["a", "", "<0x0A>"])],
                ["zc.floats", gguf.arr("float32", [1, -2.5])],
                ["zc.ints", gguf.arr("int32", [-1, 0, 7])],
                ["zc.bools", gguf.arr("bool", [true, false])],
                ["zc.nested", gguf.arr("array", [{itemType: "uint8", items: [1, 2]}, {itemType: "string", items: ["x"]}])]
            ],
            tensors: []
        });
        const info = await readGgufFileInfo(file, {logWarnings: false});
        expect(info.version).toBe(3);
        const zc = (info.metadata as unknown as {zc: Record<string, unknown>}).zc;
        expect(zc).toEqual({
            u8: 255, i8: -128, u16: 65535, i16: -32768, u32: 4294967295, i32: -2147483648,
            f32: 0.5, f64: Math.PI, u64: 2n ** 64n - 1n, i64: -(2n ** 63n),
            yes: true, no: false, text: "héllo ▁ 世界", empty: "",
            strings: ["a", "", "<0x0A>"], floats: [1, -2.5], ints: [-1, 0, 7], bools: [true, false],
            nested: [[1, 2], ["x"]]
        });
    });

    it("lays tensor data out at aligned offsets, with general.alignment when not 32", async () => {
        for (const alignment of [32, 64]) {
            const file = path.join(dir, `tensors-${alignment}.gguf`);
            const a = bytes(4 * 3, 1); // f32 [3]: 12 bytes, forces padding
            const b = bytes(2 * 5 * 2, 2); // f16 [5, 2]
            const c = bytes(34 * 2, 3); // q8_0 [64]: two blocks
            const res = await writeGgufFile(file, {
                metadata: {"general.architecture": gguf.str("llama")},
                alignment,
                tensors: [
                    {name: "a", dims: [3], type: GgmlType.F32, data: a},
                    // Chunked async source: the writer must stitch chunks together.
                    {name: "b", dims: [5, 2], type: GgmlType.F16, data: async function* () {
                        yield b.subarray(0, 7);
                        yield b.subarray(7);
                    }},
                    {name: "c", dims: [64], type: GgmlType.Q8_0, data: () => [c]}
                ]
            });
            const info = await readGgufFileInfo(file, {logWarnings: false});
            expect(info.metadata.general.alignment).toBe(alignment === 32 ? undefined : alignment);
            const tensors = info.tensorInfo ?? [];
            expect(tensors.map((t) => [t.name, t.dimensions, t.ggmlType])).toEqual([
                ["a", [3], GgmlType.F32], ["b", [5, 2], GgmlType.F16], ["c", [64], GgmlType.Q8_0]
            ]);
            const raw = await readFile(file);
            for (const [t, data] of [[tensors[0], a], [tensors[1], b], [tensors[2], c]] as const) {
                expect(Number(t.offset) % alignment).toBe(0);
                expect(Number(t.fileOffset) % alignment).toBe(0);
                expect(raw.subarray(Number(t.fileOffset), Number(t.fileOffset) + data.length)).toEqual(Buffer.from(data));
            }
            expect(res.dataOffset).toBe(info.infoEndOffset);
            expect((await stat(file)).size).toBe(res.expectedFileSize);
        }
    });

    it("truncates the data section on request while keeping the header intact", async () => {
        const file = path.join(dir, "cut.gguf");
        const res = await writeGgufFile(file, {
            metadata: {"general.architecture": gguf.str("llama")},
            tensors: [{name: "w", dims: [256], type: GgmlType.F32, data: new Uint8Array(1024)}],
            truncateTensorDataAt: 100
        });
        expect(res.fileSize).toBe(res.dataOffset + 100);
        expect((await stat(file)).size).toBe(res.dataOffset + 100);
        const info = await readGgufFileInfo(file, {logWarnings: false});
        expect(info.tensorInfo?.[0]?.dimensions).toEqual([256]);
    });

    it("rejects inconsistent input", async () => {
        const metadata = {"general.architecture": gguf.str("llama")};
        expect(() => encodeGgufHeader({metadata, tensors: [], alignment: 12})).toThrow(/multiple of 8/);
        expect(() => encodeGgufHeader({metadata: {...metadata, "general.alignment": gguf.u32(64)}, tensors: [], alignment: 32}))
            .toThrow(/disagrees/);
        expect(() => encodeGgufHeader({metadata: [["k", gguf.u8(1)], ["k", gguf.u8(2)]], tensors: []})).toThrow(/Duplicate/);
        expect(() => encodeGgufHeader({metadata: {k: gguf.u8(256)}, tensors: []})).toThrow(/not an integer in/);
        expect(() => encodeGgufHeader({metadata, tensors: [{name: "t", dims: [3], type: GgmlType.F32, data: new Uint8Array(8)}]}))
            .toThrow(/expected 12/);
        expect(() => ggmlTensorByteLength(GgmlType.Q8_0, [48, 2])).toThrow(/multiple of 32/);
        await expect(writeGgufFile(path.join(dir, "short.gguf"), {
            metadata,
            tensors: [{name: "t", dims: [4], type: GgmlType.F32, data: () => [new Uint8Array(8)]}]
        })).rejects.toThrow(/produced 8 bytes, expected 16/);
    });
});

describe("tensor encoders", () => {
    it("f16 conversion matches IEEE binary16 and round-trips every finite half", () => {
        expect(float32ToFloat16Bits(1)).toBe(0x3c00);
        expect(float32ToFloat16Bits(-2)).toBe(0xc000);
        expect(float32ToFloat16Bits(0.1)).toBe(0x2e66);
        expect(float32ToFloat16Bits(65504)).toBe(0x7bff);
        expect(float32ToFloat16Bits(65520)).toBe(0x7c00); // rounds to +Inf
        expect(float32ToFloat16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
        expect(float32ToFloat16Bits(2 ** -26)).toBe(0x0000);
        expect(float32ToFloat16Bits(-0)).toBe(0x8000);
        expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
        expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
        expect(float32ToFloat16Bits(NaN) & 0x7c00).toBe(0x7c00);
        const mismatches: number[] = [];
        for (let h = 0; h < 0x10000; h++) {
            if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0)
                continue; // NaN payloads are not preserved
            if (float32ToFloat16Bits(float16BitsToFloat32(h)) !== h)
                mismatches.push(h);
        }
        expect(mismatches).toEqual([]);
        expect(Array.from(new Uint16Array(encodeF16(new Float32Array([1, -2])).buffer))).toEqual([0x3c00, 0xc000]);
    });

    it("q8_0 stores an f16 scale amax/127 and 32 rounded int8 values per block", () => {
        const values = new Float32Array(64);
        for (let i = 0; i < 32; i++)
            values[i] = (i - 15.5) / 8; // block 0: amax 15.5/8
        // block 1 stays zero → d = 0
        const out = encodeQ8_0(values);
        expect(out.length).toBe(68);
        const view = new DataView(out.buffer);
        const d = float16BitsToFloat32(view.getUint16(0, true));
        expect(d).toBeCloseTo(15.5 / 8 / 127, 5);
        const q = new Int8Array(out.buffer, 2, 32);
        expect(q[0]).toBe(-127);
        expect(q[31]).toBe(127);
        for (let i = 0; i < 32; i++)
            expect(Math.abs(q[i] * d - values[i])).toBeLessThanOrEqual(d / 2 + 1e-3);
        expect(view.getUint16(34, true)).toBe(0);
        expect(Array.from(new Int8Array(out.buffer, 36, 32))).toEqual(new Array(32).fill(0));
        expect(() => encodeQ8_0(new Float32Array(31))).toThrow();
    });
});
