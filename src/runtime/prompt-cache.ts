/**
 * Prompt states that survive an unload: when a runner stops, each sequence's evaluated state (the KV cache of its
 * tokens) is written to disk; when the model loads again and a request shares such a state's prefix, the state is
 * read back instead of evaluating those tokens again.
 *
 * One entry is two files in the store's folder: `<key>.state` (node-llama-cpp's saveStateToFile) and
 * `<key>.json` (what the state holds: the model, the engine, the tokens, the state file's size and sha256). The key
 * hashes the model's identity and the tokens, so the same prefix is stored once. Loading a state made by another
 * model can crash the engine, and a damaged one can too, so an entry is used only when its record names this
 * model and engine and the state file's hash matches; anything else is skipped with a log line and deleted.
 * The store as a whole is bounded: after each save the least recently used entries go until it fits `maxBytes`.
 */
import {createHash} from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";

/** What a runner needs to keep its prompt states (sent with the load). */
export interface PromptCacheSpec {
    dir: string;
    maxBytes: number;
    /** States shorter than this are not worth a file. */
    minTokens: number;
    /** The model's identity: its content fingerprint. */
    model: string;
}

interface EntryRecord {
    version: 1;
    /** The model and engine the state belongs to; an entry for anything else is never loaded. */
    compat: string;
    tokens: number[];
    bytes: number;
    sha256: string;
    lastUsed: number;
}

export interface PromptStateEntry {
    key: string;
    tokens: readonly number[];
    statePath: string;
}

/** The part of a context sequence the store uses (node-llama-cpp's LlamaContextSequence has it). */
export interface SavableSequence {
    readonly contextTokens: readonly number[];
    saveStateToFile(filePath: string): Promise<{fileSize: number}>;
}

type Log = (level: "info" | "warn", msg: string, data?: Record<string, unknown>) => void;

const RECORD_VERSION = 1;

async function sha256Of(file: string): Promise<string> {
    const hash = createHash("sha256");
    for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
    return hash.digest("hex");
}

function sharedPrefix(a: readonly number[], b: readonly number[]): number {
    const n = Math.min(a.length, b.length);
    let i = 0;
    while (i < n && a[i] === b[i]) i++;
    return i;
}

export class PromptStateStore {
    private readonly compat: string;
    private entries: Array<PromptStateEntry & {record: EntryRecord}> = [];

    /** `engine` names what wrote the states (library version, GPU backend): states are only read by the same. */
    constructor(private readonly spec: PromptCacheSpec, engine: string, private readonly log: Log = () => undefined) {
        this.compat = `${spec.model}\u0000${engine}`;
    }

    private keyOf(tokens: readonly number[]): string {
        return createHash("sha256").update(this.compat).update("\u0000").update(Uint32Array.from(tokens)).digest("hex").slice(0, 40);
    }

    private files(key: string) {
        return {state: path.join(this.spec.dir, `${key}.state`), record: path.join(this.spec.dir, `${key}.json`)};
    }

    /** Reads the records of this model's entries; others' and unreadable ones are left alone here (pruning judges them). */
    async open(): Promise<void> {
        await fsp.mkdir(this.spec.dir, {recursive: true});
        this.entries = [];
        for (const name of await fsp.readdir(this.spec.dir)) {
            if (!name.endsWith(".json")) continue;
            const key = name.slice(0, -5);
            const record = await this.readRecord(key);
            if (record && record.compat === this.compat) this.entries.push({key, tokens: record.tokens, statePath: this.files(key).state, record});
        }
    }

    private async readRecord(key: string): Promise<EntryRecord | null> {
        try {
            const r = JSON.parse(await fsp.readFile(this.files(key).record, "utf8")) as Partial<EntryRecord>;
            if (r.version !== RECORD_VERSION || typeof r.compat !== "string" || !Array.isArray(r.tokens) || typeof r.sha256 !== "string" || typeof r.bytes !== "number")
                return null;
            return r as EntryRecord;
        } catch {
            return null;
        }
    }

    get size(): number {
        return this.entries.length;
    }

    /** The entry sharing the longest prefix with `tokens`, if that prefix is at least `minTokens` long. */
    best(tokens: readonly number[]): {entry: PromptStateEntry; shared: number} | null {
        let best: {entry: PromptStateEntry; shared: number} | null = null;
        for (const entry of this.entries) {
            const shared = sharedPrefix(entry.tokens, tokens);
            if (shared >= this.spec.minTokens && shared > (best?.shared ?? 0)) best = {entry, shared};
        }
        return best;
    }

    /**
     * Checks an entry before its state is loaded: same model and engine, the file as it was written. Returns false
     * (and deletes the entry) for anything else, with a log line saying why.
     */
    async verify(entry: PromptStateEntry): Promise<boolean> {
        const record = await this.readRecord(entry.key);
        let why: string | null = null;
        if (!record) why = "its record is missing or unreadable";
        else if (record.compat !== this.compat) why = "it belongs to another model or engine";
        else {
            try {
                const stat = await fsp.stat(entry.statePath);
                if (stat.size !== record.bytes) why = `its state file has ${stat.size} bytes, the record says ${record.bytes}`;
                else if (await sha256Of(entry.statePath) !== record.sha256) why = "its state file does not match its checksum";
            } catch (err) {
                why = `its state file cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
            }
        }
        if (why == null) return true;
        this.log("warn", "prompt state ignored", {key: entry.key, reason: why});
        await this.forget(entry.key);
        return false;
    }

    /** A state could not be loaded after all: it is dropped so it is not tried again. */
    async reject(entry: PromptStateEntry, reason: string): Promise<void> {
        this.log("warn", "prompt state ignored", {key: entry.key, reason});
        await this.forget(entry.key);
    }

    async touch(entry: PromptStateEntry): Promise<void> {
        const e = this.entries.find((x) => x.key === entry.key);
        if (!e) return;
        e.record.lastUsed = Date.now();
        await fsp.writeFile(this.files(e.key).record, JSON.stringify(e.record)).catch(() => undefined);
    }

    private async forget(key: string): Promise<void> {
        this.entries = this.entries.filter((e) => e.key !== key);
        const f = this.files(key);
        await Promise.all([fsp.rm(f.record, {force: true}), fsp.rm(f.state, {force: true})]);
    }

    /**
     * Saves a sequence's state unless it is short or already stored; an entry whose tokens are a prefix of the new
     * one's is replaced by it. The state is written under a temporary name and renamed, and the record comes last,
     * so a runner killed half-way leaves nothing that looks complete.
     */
    async save(sequence: SavableSequence): Promise<boolean> {
        const tokens = [...sequence.contextTokens];
        if (tokens.length < this.spec.minTokens) return false;
        const covering = this.entries.find((e) => sharedPrefix(e.tokens, tokens) === tokens.length);
        if (covering) {
            await this.touch(covering);
            return false;
        }
        const key = this.keyOf(tokens);
        const f = this.files(key);
        const tmp = `${f.state}.${process.pid}.tmp`;
        await fsp.mkdir(this.spec.dir, {recursive: true});
        try {
            const {fileSize} = await sequence.saveStateToFile(tmp);
            if (fileSize > this.spec.maxBytes) {
                await fsp.rm(tmp, {force: true});
                return false;
            }
            const record: EntryRecord = {version: RECORD_VERSION, compat: this.compat, tokens, bytes: fileSize, sha256: await sha256Of(tmp), lastUsed: Date.now()};
            await fsp.rename(tmp, f.state);
            await fsp.writeFile(f.record, JSON.stringify(record));
            for (const older of this.entries.filter((e) => sharedPrefix(e.tokens, tokens) === e.tokens.length)) await this.forget(older.key);
            this.entries.push({key, tokens, statePath: f.state, record});
            return true;
        } catch (err) {
            await fsp.rm(tmp, {force: true});
            this.log("warn", "prompt state not saved", {err: (err as Error).message});
            return false;
        }
    }

    /**
     * Deletes the least recently used entries (every model's) until the folder holds at most `maxBytes`, and
     * leftovers: temporary files and states without a record.
     */
    async prune(): Promise<void> {
        let names: string[];
        try {
            names = await fsp.readdir(this.spec.dir);
        } catch {
            return;
        }
        const all: Array<{key: string; bytes: number; lastUsed: number}> = [];
        for (const name of names) {
            const full = path.join(this.spec.dir, name);
            if (name.endsWith(".tmp")) {
                // another runner may be writing it right now: only old ones are leftovers
                const stat = await fsp.stat(full).catch(() => null);
                if (stat && Date.now() - stat.mtimeMs > 10 * 60_000) await fsp.rm(full, {force: true});
                continue;
            }
            if (!name.endsWith(".json")) {
                if (name.endsWith(".state") && !names.includes(`${name.slice(0, -6)}.json`)) await fsp.rm(full, {force: true});
                continue;
            }
            const key = name.slice(0, -5);
            const record = await this.readRecord(key);
            if (!record) {
                this.log("warn", "prompt state ignored", {key, reason: "its record is unreadable"});
                await this.forget(key);
                continue;
            }
            all.push({key, bytes: record.bytes, lastUsed: record.lastUsed});
        }
        let total = all.reduce((n, e) => n + e.bytes, 0);
        for (const e of all.sort((a, b) => a.lastUsed - b.lastUsed)) {
            if (total <= this.spec.maxBytes) break;
            await this.forget(e.key);
            total -= e.bytes;
        }
    }
}
