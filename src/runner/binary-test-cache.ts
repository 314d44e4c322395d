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
import {KeyedCacheFile, privateCacheFile} from "./private-cache.js";

// 2: entries kept by KeyedCacheFile
const FORMAT = 2;

/** What node-llama-cpp's test is asked to check: its `start` message's fields. */
export interface BinaryTestSubject {
    bindingBinaryPath: string;
    extBackendsPath?: string;
    gpu: string | false;
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

/** This user's cache file (private-cache.ts), or null where none can be kept privately. */
export function defaultBinaryTestCacheFile(): string | null {
    return privateCacheFile("binary-tests.json");
}

export class BinaryTestCache {
    private readonly entries: KeyedCacheFile<{at: string}>;

    constructor(file: string) {
        this.entries = new KeyedCacheFile(file, FORMAT);
    }

    /** Whether a test with this key passed before. */
    passed(key: string): boolean {
        return this.entries.get(key) != null;
    }

    /** Records a pass; a failure to write only means the test runs again next time. */
    recordPass(key: string): void {
        this.entries.set(key, {at: new Date().toISOString()});
    }
}
