/**
 * Remembers which of node-llama-cpp's native binaries passed its load test on this machine, so a runner does not
 * fork a test process on every model load.
 *
 * node-llama-cpp tests every prebuilt binary on Linux (and GPU builds on Windows) by forking a child process that
 * loads it, before loading it itself: an incompatible binary (a CUDA build without a driver) then crashes the child,
 * and getLlama falls back to another binary. That test costs about 580 ms of a 1.4 s runner start on the tiny test
 * model, and its answer only changes when the binary, its libraries, Node or the kernel change. An entry is keyed by
 * all of those (paths, sizes and modification times of every file beside the binary), so an entry for another
 * binary, a reinstalled one, another Node or another GPU type is simply not found and the test runs again.
 * Only passes are kept: a failed test (a GPU without its driver) is run again next time, so installing the driver
 * is noticed.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const FORMAT = 1;

/** What node-llama-cpp's test is asked to check: its `start` message's fields. */
export interface BinaryTestSubject {
    bindingBinaryPath: string;
    extBackendsPath?: string;
    gpu: string | false;
}

interface CacheFile {
    format: number;
    passed: Record<string, {at: string}>;
}

function fileStamp(file: string): string {
    const st = fs.statSync(file);
    return `${st.size}:${Math.round(st.mtimeMs)}`;
}

/** Every file of a folder with its size and time (the binary's own libraries sit beside it), sorted. */
function folderStamp(dir: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const name of fs.readdirSync(dir).sort()) {
        const st = fs.statSync(path.join(dir, name));
        out[name] = st.isDirectory() ? `dir:${Math.round(st.mtimeMs)}` : `${st.size}:${Math.round(st.mtimeMs)}`;
    }
    return out;
}

/**
 * The identity of one test: the binary and its neighbours as they are on disk now, the GPU type asked for, and the
 * Node and OS that load it. Null when the binary cannot be read (the test then runs, and says why).
 */
export function binaryTestKey(subject: BinaryTestSubject): string | null {
    try {
        const binary = path.resolve(subject.bindingBinaryPath);
        return JSON.stringify({
            binary,
            stamp: fileStamp(binary),
            beside: folderStamp(path.dirname(binary)),
            ext: subject.extBackendsPath == null ? null : {path: path.resolve(subject.extBackendsPath), beside: folderStamp(path.resolve(subject.extBackendsPath))},
            gpu: subject.gpu,
            node: `${process.version} abi ${process.versions.modules}`,
            os: `${process.platform} ${process.arch} ${os.release()}`
        });
    } catch {
        return null;
    }
}

/**
 * This user's cache file in the OS's temporary folder (machine-local, as the verdict is), or null where that folder
 * cannot be made private to this user: an entry written by someone else could make a runner skip the test.
 */
export function defaultBinaryTestCacheFile(): string | null {
    try {
        const uid = process.getuid?.();
        const who = uid != null ? String(uid) : os.userInfo().username.replace(/[^A-Za-z0-9_.-]/g, "_");
        const dir = path.join(os.tmpdir(), `zombiecoder-${who}`);
        fs.mkdirSync(dir, {recursive: true, mode: 0o700});
        const st = fs.statSync(dir);
        if (uid != null && (st.uid !== uid || (st.mode & 0o022) !== 0)) return null;
        return path.join(dir, "binary-tests.json");
    } catch {
        return null;
    }
}

export class BinaryTestCache {
    constructor(private readonly file: string) {}

    private read(): CacheFile {
        try {
            const data = JSON.parse(fs.readFileSync(this.file, "utf8")) as Partial<CacheFile>;
            if (data.format === FORMAT && data.passed != null && typeof data.passed === "object") return {format: FORMAT, passed: data.passed};
        } catch {
            // missing or unreadable: nothing is known
        }
        return {format: FORMAT, passed: {}};
    }

    /** Whether a test with this key passed before. */
    passed(key: string): boolean {
        return Object.hasOwn(this.read().passed, key);
    }

    /** Records a pass; a failure to write only means the test runs again next time. */
    recordPass(key: string): void {
        try {
            const data = this.read();
            data.passed[key] = {at: new Date().toISOString()};
            const tmp = `${this.file}.${process.pid}.tmp`;
            fs.writeFileSync(tmp, JSON.stringify(data), {mode: 0o600});
            fs.renameSync(tmp, this.file);
        } catch {
            // read-only or full disk: the cache is an optimisation
        }
    }
}
