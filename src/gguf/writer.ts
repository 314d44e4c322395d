/**
 * A small, dependency-free GGUF v3 writer.
 *
 * Layout (little-endian, from the GGUF spec):
 *   magic "GGUF" · u32 version · u64 tensor_count · u64 kv_count
 *   kv_count × (string key · u32 value_type · value)
 *   tensor_count × (string name · u32 n_dims · u64 dims[n_dims] · u32 ggml_type · u64 offset)
 *   padding to `alignment` · tensor data (each tensor starts at a multiple of `alignment`
 *   relative to the start of the data section)
 *
 * Strings are a u64 byte length followed by UTF-8 bytes (no terminator). Arrays are
 * u32 item type · u64 count · items. Tensor dimensions are in ggml order: dims[0] is the
 * contiguous (innermost) one, e.g. a llama `attn_q` weight is [n_embd, n_embd].
 *
 * Tensor data is streamed: each tensor supplies its bytes as a (sync or async) iterable of chunks,
 * so multi-hundred-MB files never sit in memory.
 */
import {open, type FileHandle} from "node:fs/promises";

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;

export enum GgufValueType {
    Uint8 = 0,
    Int8 = 1,
    Uint16 = 2,
    Int16 = 3,
    Uint32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    Uint64 = 10,
    Int64 = 11,
    Float64 = 12
}

/** ggml tensor types this writer knows the block layout of (numbers are ggml's `enum ggml_type`). */
export enum GgmlType {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    BF16 = 30
}

/** [elements per block, bytes per block] */
const GGML_BLOCK_LAYOUT: Readonly<Record<GgmlType, readonly [number, number]>> = {
    [GgmlType.F32]: [1, 4],
    [GgmlType.F16]: [1, 2],
    [GgmlType.Q4_0]: [32, 18],
    [GgmlType.Q4_1]: [32, 20],
    [GgmlType.Q5_0]: [32, 22],
    [GgmlType.Q5_1]: [32, 24],
    [GgmlType.Q8_0]: [32, 34],
    [GgmlType.Q2_K]: [256, 84],
    [GgmlType.Q3_K]: [256, 110],
    [GgmlType.Q4_K]: [256, 144],
    [GgmlType.Q5_K]: [256, 176],
    [GgmlType.Q6_K]: [256, 210],
    [GgmlType.I8]: [1, 1],
    [GgmlType.I16]: [1, 2],
    [GgmlType.I32]: [1, 4],
    [GgmlType.I64]: [1, 8],
    [GgmlType.F64]: [1, 8],
    [GgmlType.BF16]: [1, 2]
};

export type GgufScalarTypeName =
    | "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32"
    | "float32" | "bool" | "string" | "uint64" | "int64" | "float64";

type NumberTypeName = "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32" | "float32" | "float64";
type BigTypeName = "uint64" | "int64";

/** One metadata value with its GGUF type made explicit (JS numbers alone cannot say u32 vs f32). */
export type GgufMetadataValue =
    | {readonly type: NumberTypeName; readonly value: number}
    | {readonly type: BigTypeName; readonly value: number | bigint}
    | {readonly type: "bool"; readonly value: boolean}
    | {readonly type: "string"; readonly value: string}
    | {readonly type: "array"; readonly value: GgufArrayValue};

export type GgufArrayValue =
    | {readonly itemType: NumberTypeName; readonly items: ArrayLike<number>}
    | {readonly itemType: BigTypeName; readonly items: ArrayLike<number | bigint>}
    | {readonly itemType: "bool"; readonly items: ArrayLike<boolean>}
    | {readonly itemType: "string"; readonly items: ArrayLike<string>}
    | {readonly itemType: "array"; readonly items: ArrayLike<GgufArrayValue>};

/** Terse constructors: `gguf.u32(4)`, `gguf.str("llama")`, `gguf.arr("float32", scores)`. */
export const gguf = {
    u8: (value: number): GgufMetadataValue => ({type: "uint8", value}),
    i8: (value: number): GgufMetadataValue => ({type: "int8", value}),
    u16: (value: number): GgufMetadataValue => ({type: "uint16", value}),
    i16: (value: number): GgufMetadataValue => ({type: "int16", value}),
    u32: (value: number): GgufMetadataValue => ({type: "uint32", value}),
    i32: (value: number): GgufMetadataValue => ({type: "int32", value}),
    f32: (value: number): GgufMetadataValue => ({type: "float32", value}),
    f64: (value: number): GgufMetadataValue => ({type: "float64", value}),
    u64: (value: number | bigint): GgufMetadataValue => ({type: "uint64", value}),
    i64: (value: number | bigint): GgufMetadataValue => ({type: "int64", value}),
    bool: (value: boolean): GgufMetadataValue => ({type: "bool", value}),
    str: (value: string): GgufMetadataValue => ({type: "string", value}),
    arr: (itemType: GgufArrayValue["itemType"], items: GgufArrayValue["items"]): GgufMetadataValue =>
        ({type: "array", value: {itemType, items} as GgufArrayValue})
};

/** Ordered key → value list; insertion order is the on-disk order. */
export type GgufMetadata = ReadonlyArray<readonly [string, GgufMetadataValue]> | Readonly<Record<string, GgufMetadataValue>>;

export type TensorDataSource =
    | Uint8Array
    | (() => Iterable<Uint8Array> | AsyncIterable<Uint8Array>);

export interface GgufTensor {
    readonly name: string;
    /** ggml order: dims[0] is the contiguous dimension. */
    readonly dims: readonly number[];
    readonly type: GgmlType | number;
    /**
     * Encoded bytes (already in `type`'s layout). A function is called once, when the writer reaches
     * this tensor, so generators can produce data lazily.
     */
    readonly data: TensorDataSource;
    /** Only needed for ggml types this module has no block layout for. */
    readonly byteLength?: number;
}

export interface WriteGgufOptions {
    readonly metadata: GgufMetadata;
    readonly tensors: readonly GgufTensor[];
    /**
     * Data alignment. When it differs from 32 (or `writeAlignmentKey` is set) a `general.alignment`
     * u32 key is added unless the metadata already carries one (which must then agree).
     */
    readonly alignment?: number;
    readonly writeAlignmentKey?: boolean;
    /**
     * Stop after this many bytes of the tensor data section: the header stays valid but the file is
     * too short for its tensors (a corrupt/incomplete download).
     */
    readonly truncateTensorDataAt?: number;
}

export interface WrittenTensorInfo {
    readonly name: string;
    readonly dims: readonly number[];
    readonly type: number;
    /** Relative to the data section. */
    readonly offset: number;
    readonly byteLength: number;
}

export interface WriteGgufResult {
    readonly path: string;
    /** Bytes actually on disk. */
    readonly fileSize: number;
    /** Size the file would have without truncation. */
    readonly expectedFileSize: number;
    /** Absolute file offset of the tensor data section. */
    readonly dataOffset: number;
    readonly alignment: number;
    readonly tensors: readonly WrittenTensorInfo[];
}

export function ggmlTypeBlockLayout(type: number): readonly [elementsPerBlock: number, bytesPerBlock: number] | undefined {
    return GGML_BLOCK_LAYOUT[type as GgmlType];
}

export function ggmlTensorByteLength(type: number, dims: readonly number[]): number {
    const layout = ggmlTypeBlockLayout(type);
    if (layout == null)
        throw new Error(`Unknown ggml type ${type}: pass byteLength explicitly`);
    const [blockElements, blockBytes] = layout;
    const rowLength = dims[0] ?? 1;
    // ggml quantizes along rows only, so a row that is not a whole number of blocks is unrepresentable.
    if (rowLength % blockElements !== 0)
        throw new Error(`ggml type ${type} needs dims[0] to be a multiple of ${blockElements}, got ${rowLength}`);
    const elements = dims.reduce((a, b) => a * b, 1);
    return (elements / blockElements) * blockBytes;
}

export function alignUp(offset: number, alignment: number): number {
    return Math.ceil(offset / alignment) * alignment;
}

function metadataEntries(metadata: GgufMetadata): Array<readonly [string, GgufMetadataValue]> {
    return Array.isArray(metadata)
        ? [...(metadata as ReadonlyArray<readonly [string, GgufMetadataValue]>)]
        : Object.entries(metadata as Readonly<Record<string, GgufMetadataValue>>);
}

const SCALAR_TYPE_IDS: Readonly<Record<GgufScalarTypeName | "array", GgufValueType>> = {
    uint8: GgufValueType.Uint8,
    int8: GgufValueType.Int8,
    uint16: GgufValueType.Uint16,
    int16: GgufValueType.Int16,
    uint32: GgufValueType.Uint32,
    int32: GgufValueType.Int32,
    float32: GgufValueType.Float32,
    bool: GgufValueType.Bool,
    string: GgufValueType.String,
    uint64: GgufValueType.Uint64,
    int64: GgufValueType.Int64,
    float64: GgufValueType.Float64,
    array: GgufValueType.Array
};

/** Growable little-endian byte sink for the header. */
class ByteSink {
    private buf = Buffer.alloc(64 * 1024);
    private len = 0;

    get length(): number {
        return this.len;
    }

    private reserve(n: number): void {
        if (this.len + n <= this.buf.length)
            return;
        let size = this.buf.length * 2;
        while (size < this.len + n)
            size *= 2;
        const next = Buffer.alloc(size);
        this.buf.copy(next, 0, 0, this.len);
        this.buf = next;
    }

    u8(v: number): void {
        this.reserve(1);
        this.buf.writeUInt8(v, this.len);
        this.len += 1;
    }
    i8(v: number): void {
        this.reserve(1);
        this.buf.writeInt8(v, this.len);
        this.len += 1;
    }
    u16(v: number): void {
        this.reserve(2);
        this.buf.writeUInt16LE(v, this.len);
        this.len += 2;
    }
    i16(v: number): void {
        this.reserve(2);
        this.buf.writeInt16LE(v, this.len);
        this.len += 2;
    }
    u32(v: number): void {
        this.reserve(4);
        this.buf.writeUInt32LE(v, this.len);
        this.len += 4;
    }
    i32(v: number): void {
        this.reserve(4);
        this.buf.writeInt32LE(v, this.len);
        this.len += 4;
    }
    f32(v: number): void {
        this.reserve(4);
        this.buf.writeFloatLE(v, this.len);
        this.len += 4;
    }
    f64(v: number): void {
        this.reserve(8);
        this.buf.writeDoubleLE(v, this.len);
        this.len += 8;
    }
    u64(v: number | bigint): void {
        this.reserve(8);
        this.buf.writeBigUInt64LE(BigInt(v), this.len);
        this.len += 8;
    }
    i64(v: number | bigint): void {
        this.reserve(8);
        this.buf.writeBigInt64LE(BigInt(v), this.len);
        this.len += 8;
    }
    str(s: string): void {
        const bytes = Buffer.from(s, "utf8");
        this.u64(bytes.length);
        this.bytes(bytes);
    }
    bytes(b: Uint8Array): void {
        this.reserve(b.length);
        this.buf.set(b, this.len);
        this.len += b.length;
    }
    zeros(n: number): void {
        this.reserve(n);
        this.buf.fill(0, this.len, this.len + n);
        this.len += n;
    }
    toBuffer(): Buffer {
        return this.buf.subarray(0, this.len);
    }
}

function writeScalar(sink: ByteSink, type: GgufScalarTypeName, value: unknown, key: string): void {
    switch (type) {
        case "uint8": return sink.u8(checkInt(value, 0, 0xff, key));
        case "int8": return sink.i8(checkInt(value, -0x80, 0x7f, key));
        case "uint16": return sink.u16(checkInt(value, 0, 0xffff, key));
        case "int16": return sink.i16(checkInt(value, -0x8000, 0x7fff, key));
        case "uint32": return sink.u32(checkInt(value, 0, 0xffffffff, key));
        case "int32": return sink.i32(checkInt(value, -0x80000000, 0x7fffffff, key));
        case "float32": return sink.f32(checkNumber(value, key));
        case "float64": return sink.f64(checkNumber(value, key));
        case "uint64": return sink.u64(checkBig(value, key));
        case "int64": return sink.i64(checkBig(value, key));
        case "bool":
            if (typeof value !== "boolean")
                throw new TypeError(`GGUF key ${key}: expected a boolean`);
            return sink.u8(value ? 1 : 0);
        case "string":
            if (typeof value !== "string")
                throw new TypeError(`GGUF key ${key}: expected a string`);
            return sink.str(value);
    }
}

function checkNumber(value: unknown, key: string): number {
    if (typeof value !== "number" || Number.isNaN(value))
        throw new TypeError(`GGUF key ${key}: expected a number`);
    return value;
}

function checkInt(value: unknown, min: number, max: number, key: string): number {
    const n = checkNumber(value, key);
    if (!Number.isInteger(n) || n < min || n > max)
        throw new RangeError(`GGUF key ${key}: ${n} is not an integer in [${min}, ${max}]`);
    return n;
}

function checkBig(value: unknown, key: string): bigint {
    if (typeof value === "bigint")
        return value;
    if (typeof value === "number" && Number.isSafeInteger(value))
        return BigInt(value);
    throw new TypeError(`GGUF key ${key}: expected a safe integer or bigint`);
}

function writeArray(sink: ByteSink, arr: GgufArrayValue, key: string): void {
    sink.u32(SCALAR_TYPE_IDS[arr.itemType]);
    sink.u64(arr.items.length);
    if (arr.itemType === "array") {
        for (let i = 0; i < arr.items.length; i++)
            writeArray(sink, arr.items[i] as GgufArrayValue, key);
        return;
    }
    for (let i = 0; i < arr.items.length; i++)
        writeScalar(sink, arr.itemType, arr.items[i], key);
}

export interface EncodedGgufHeader {
    /** Header + tensor infos + padding up to the data section. */
    readonly header: Buffer;
    readonly alignment: number;
    readonly tensors: readonly WrittenTensorInfo[];
    /** Total bytes of the data section (each tensor padded to the alignment). */
    readonly dataSize: number;
}

/** Resolve the alignment and produce every byte that precedes the tensor data. */
export function encodeGgufHeader(opts: Omit<WriteGgufOptions, "truncateTensorDataAt">): EncodedGgufHeader {
    const entries = metadataEntries(opts.metadata);
    const seen = new Set<string>();
    for (const [key] of entries) {
        if (seen.has(key))
            throw new Error(`Duplicate GGUF metadata key ${key}`);
        seen.add(key);
    }

    const existing = entries.find(([key]) => key === "general.alignment")?.[1];
    let alignment = opts.alignment ?? GGUF_DEFAULT_ALIGNMENT;
    if (existing != null) {
        if (existing.type !== "uint32")
            throw new Error("general.alignment must be a uint32");
        if (opts.alignment != null && opts.alignment !== existing.value)
            throw new Error(`general.alignment (${existing.value}) disagrees with the alignment option (${opts.alignment})`);
        alignment = existing.value;
    } else if (alignment !== GGUF_DEFAULT_ALIGNMENT || opts.writeAlignmentKey === true) {
        entries.push(["general.alignment", gguf.u32(alignment)]);
    }
    // The spec requires a multiple of 8 (readers mmap and cast tensor pointers).
    if (!Number.isInteger(alignment) || alignment <= 0 || alignment % 8 !== 0)
        throw new Error(`GGUF alignment must be a positive multiple of 8, got ${alignment}`);

    const names = new Set<string>();
    let dataSize = 0;
    const tensors: WrittenTensorInfo[] = opts.tensors.map((t) => {
        if (names.has(t.name))
            throw new Error(`Duplicate tensor name ${t.name}`);
        names.add(t.name);
        if (t.dims.length === 0 || t.dims.length > 4 || t.dims.some((d) => !Number.isSafeInteger(d) || d <= 0))
            throw new Error(`Tensor ${t.name}: dims must be 1 to 4 positive integers, got [${t.dims.join(", ")}]`);
        const byteLength = t.byteLength ?? ggmlTensorByteLength(t.type, t.dims);
        if (t.data instanceof Uint8Array && t.data.length !== byteLength)
            throw new Error(`Tensor ${t.name}: ${t.data.length} data bytes, expected ${byteLength}`);
        const info: WrittenTensorInfo = {name: t.name, dims: [...t.dims], type: t.type, offset: dataSize, byteLength};
        dataSize = alignUp(dataSize + byteLength, alignment);
        return info;
    });

    const sink = new ByteSink();
    sink.u32(GGUF_MAGIC);
    sink.u32(GGUF_VERSION);
    sink.u64(tensors.length);
    sink.u64(entries.length);
    for (const [key, value] of entries) {
        sink.str(key);
        sink.u32(SCALAR_TYPE_IDS[value.type]);
        if (value.type === "array")
            writeArray(sink, value.value, key);
        else
            writeScalar(sink, value.type, value.value, key);
    }
    for (const t of tensors) {
        sink.str(t.name);
        sink.u32(t.dims.length);
        for (const d of t.dims)
            sink.u64(d);
        sink.u32(t.type);
        sink.u64(t.offset);
    }
    sink.zeros(alignUp(sink.length, alignment) - sink.length);
    return {header: Buffer.from(sink.toBuffer()), alignment, tensors, dataSize};
}

/** Coalesces small chunks into large writes; syscalls per tiny chunk would dominate for big files. */
class BufferedFileWriter {
    private readonly buf = Buffer.allocUnsafe(4 * 1024 * 1024);
    private used = 0;
    written = 0;

    constructor(private readonly fh: FileHandle, private limit: number) {}

    /** Returns false once the byte limit is reached (truncation). */
    async write(chunk: Uint8Array): Promise<boolean> {
        let data = chunk;
        if (this.written + data.length > this.limit)
            data = data.subarray(0, Math.max(0, this.limit - this.written));
        this.written += data.length;
        let pos = 0;
        while (pos < data.length) {
            const n = Math.min(this.buf.length - this.used, data.length - pos);
            this.buf.set(data.subarray(pos, pos + n), this.used);
            this.used += n;
            pos += n;
            if (this.used === this.buf.length)
                await this.flush();
        }
        return this.written < this.limit;
    }

    async zeros(n: number): Promise<boolean> {
        return n === 0 ? this.written < this.limit : this.write(new Uint8Array(n));
    }

    async flush(): Promise<void> {
        let off = 0;
        while (off < this.used) {
            const {bytesWritten} = await this.fh.write(this.buf, off, this.used - off);
            off += bytesWritten;
        }
        this.used = 0;
    }
}

/** Write a complete GGUF v3 file, streaming tensor data from each tensor's source. */
export async function writeGgufFile(filePath: string, opts: WriteGgufOptions): Promise<WriteGgufResult> {
    const encoded = encodeGgufHeader(opts);
    const expectedFileSize = encoded.header.length + encoded.dataSize;
    const limit = opts.truncateTensorDataAt == null
        ? expectedFileSize
        : encoded.header.length + Math.max(0, Math.min(opts.truncateTensorDataAt, encoded.dataSize));

    const fh = await open(filePath, "w");
    try {
        const out = new BufferedFileWriter(fh, limit);
        let more = await out.write(encoded.header);
        for (let i = 0; i < opts.tensors.length && more; i++) {
            const tensor = opts.tensors[i];
            const info = encoded.tensors[i];
            let got = 0;
            const source = tensor.data instanceof Uint8Array ? [tensor.data] : tensor.data();
            for await (const chunk of source) {
                got += chunk.length;
                if (got > info.byteLength)
                    throw new Error(`Tensor ${info.name}: source produced more than ${info.byteLength} bytes`);
                if (more)
                    more = await out.write(chunk);
                if (!more)
                    break;
            }
            if (more && got !== info.byteLength)
                throw new Error(`Tensor ${info.name}: source produced ${got} bytes, expected ${info.byteLength}`);
            if (more)
                more = await out.zeros(alignUp(info.byteLength, encoded.alignment) - info.byteLength);
        }
        await out.flush();
        return {
            path: filePath,
            fileSize: out.written,
            expectedFileSize,
            dataOffset: encoded.header.length,
            alignment: encoded.alignment,
            tensors: encoded.tensors
        };
    } finally {
        await fh.close();
    }
}

// ---------------------------------------------------------------------------------------------
// Encoders for the tensor types the test-model generator emits.

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE-754 binary32 → binary16 bits, round to nearest even (what ggml's FP32_TO_FP16 does). */
export function float32ToFloat16Bits(value: number): number {
    f32Scratch[0] = value;
    const x = u32Scratch[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;

    if (exp === 0xff)
        return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0); // Inf / NaN (quiet)

    const e = exp - 127 + 15;
    if (e >= 0x1f)
        return sign | 0x7c00; // overflow → Inf
    if (e <= 0) {
        if (e < -10)
            return sign; // underflows to ±0
        // Subnormal half: shift the mantissa (with its implicit 1) right, rounding to nearest even.
        mant |= 0x800000;
        const shift = 14 - e;
        const half = 1 << (shift - 1);
        const rest = mant & ((1 << shift) - 1);
        let m = mant >>> shift;
        if (rest > half || (rest === half && (m & 1) === 1))
            m++;
        return sign | m;
    }
    let h = sign | (e << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    // A carry out of the mantissa correctly bumps the exponent (and can round up to Inf).
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1))
        h++;
    return h;
}

export function float16BitsToFloat32(h: number): number {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0)
        return sign * mant * 2 ** -24;
    if (exp === 0x1f)
        return mant === 0 ? sign * Infinity : NaN;
    return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function encodeF32(values: Float32Array): Uint8Array {
    // Little-endian hosts only (x86-64, arm64); GGUF is little-endian here too.
    return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

export function encodeF16(values: Float32Array): Uint8Array {
    const out = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++)
        out[i] = float32ToFloat16Bits(values[i]);
    return new Uint8Array(out.buffer);
}

export function encodeBF16(values: Float32Array): Uint8Array {
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    const out = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) {
        const x = bits[i];
        if ((x & 0x7fffffff) > 0x7f800000) {
            out[i] = (x >>> 16) | 0x40; // keep NaN a NaN after truncation
            continue;
        }
        out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
    }
    return new Uint8Array(out.buffer);
}

export const Q8_0_BLOCK_ELEMENTS = 32;
export const Q8_0_BLOCK_BYTES = 34;

/**
 * Q8_0: per block of 32 values, an f16 scale d = max|x| / 127 followed by 32 int8 q = round(x / d)
 * (round half away from zero, like C's roundf).
 */
export function encodeQ8_0(values: Float32Array): Uint8Array {
    if (values.length % Q8_0_BLOCK_ELEMENTS !== 0)
        throw new Error(`Q8_0 needs a multiple of ${Q8_0_BLOCK_ELEMENTS} values, got ${values.length}`);
    const blocks = values.length / Q8_0_BLOCK_ELEMENTS;
    const out = new Uint8Array(blocks * Q8_0_BLOCK_BYTES);
    // Same bytes viewed as signed: typed-array stores are several times faster than DataView calls here.
    const qs = new Int8Array(out.buffer);
    for (let b = 0; b < blocks; b++) {
        const base = b * Q8_0_BLOCK_ELEMENTS;
        let amax = 0;
        for (let j = 0; j < Q8_0_BLOCK_ELEMENTS; j++) {
            const a = Math.abs(values[base + j]);
            if (a > amax)
                amax = a;
        }
        const d = Math.fround(amax / 127);
        const id = d !== 0 ? Math.fround(1 / d) : 0;
        const o = b * Q8_0_BLOCK_BYTES;
        const h = float32ToFloat16Bits(d);
        out[o] = h & 0xff;
        out[o + 1] = h >>> 8;
        for (let j = 0; j < Q8_0_BLOCK_ELEMENTS; j++) {
            // ggml multiplies in float, then roundf (half away from zero).
            const x = Math.fround(values[base + j] * id);
            qs[o + 2 + j] = x >= 0 ? Math.round(x) : -Math.round(-x);
        }
    }
    return out;
}

/** Encode f32 values into one of the simple types; quantized types beyond Q8_0 are not implemented. */
export function encodeTensorValues(type: GgmlType, values: Float32Array): Uint8Array {
    switch (type) {
        case GgmlType.F32: return encodeF32(values);
        case GgmlType.F16: return encodeF16(values);
        case GgmlType.BF16: return encodeBF16(values);
        case GgmlType.Q8_0: return encodeQ8_0(values);
        default:
            throw new Error(`No encoder for ggml type ${type}`);
    }
}
