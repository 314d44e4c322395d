/**
 * Writing an editor's settings with a way back. Before setup changes a file, the file as it was is copied next to it
 * (`<file>.zc-backup-<time>`, byte for byte), and the change is recorded in `<logs>/editor_backups.json`: which file,
 * which backup (none when setup created the file), and a hash of what setup wrote. `--restore-editors` walks that
 * record newest first and puts every backup back, so the files end exactly as they were before setup's first change.
 * A file the user changed after setup wrote it is not thrown away: it is kept as `<file>.zc-replaced-<time>`.
 */
import {createHash} from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import {fileTimestamp} from "../steps/contract.js";

export const EDITOR_MANIFEST = "editor_backups.json";

export function editorManifestPath(logsDir: string): string {
    return path.join(logsDir, EDITOR_MANIFEST);
}

export interface EditorChange {
    editor: string;
    file: string;
    /** The previous version, next to the file; null when the file did not exist before setup wrote it. */
    backup: string | null;
    /** sha256 of what setup wrote: tells a restore whether the user changed the file since. */
    written_sha256: string;
    at: string;
    run_id: string;
}

interface Manifest {
    version: 1;
    changes: EditorChange[];
}

function sha256(buf: Buffer | string): string {
    return createHash("sha256").update(buf).digest("hex");
}

export function readManifest(file: string): Manifest {
    try {
        const parsed = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<Manifest>;
        if (parsed.version === 1 && Array.isArray(parsed.changes)) return {version: 1, changes: parsed.changes};
    } catch {
        // missing or unreadable: nothing recorded
    }
    return {version: 1, changes: []};
}

function writeAtomic(file: string, data: string | Buffer, mode?: number): void {
    fs.mkdirSync(path.dirname(file), {recursive: true});
    const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.zc-tmp`);
    fs.writeFileSync(tmp, data, mode != null ? {mode} : {});
    fs.renameSync(tmp, file);
}

function writeManifest(file: string, m: Manifest): void {
    writeAtomic(file, `${JSON.stringify(m, null, 2)}\n`);
}

/** A name next to `file` that does not exist yet: `<file>.<tag>-<time>`, with a counter when two land in one second. */
function freshSibling(file: string, tag: string, now: Date): string {
    const base = `${file}.${tag}-${fileTimestamp(now)}`;
    let candidate = base;
    for (let i = 2; fs.existsSync(candidate); i++) candidate = `${base}-${i}`;
    return candidate;
}

/**
 * Backs the file up (when it exists), writes `text` in its place (keeping its permissions), and records both.
 * The record is written before the file: a crash in between leaves a restore that has nothing to undo, never a change
 * without its record.
 */
export function writeWithBackup(opts: {editor: string; file: string; text: string; manifest: string; runId: string; now?: Date}): EditorChange {
    const now = opts.now ?? new Date();
    let backup: string | null = null;
    let mode: number | undefined;
    if (fs.existsSync(opts.file)) {
        backup = freshSibling(opts.file, "zc-backup", now);
        // COPYFILE_EXCL: a backup is never overwritten, whatever happens to the clock.
        fs.copyFileSync(opts.file, backup, fs.constants.COPYFILE_EXCL);
        mode = fs.statSync(opts.file).mode & 0o777;
    }
    const change: EditorChange = {editor: opts.editor, file: opts.file, backup, written_sha256: sha256(opts.text), at: now.toISOString(), run_id: opts.runId};
    const m = readManifest(opts.manifest);
    writeManifest(opts.manifest, {version: 1, changes: [...m.changes, change]});
    // A new file holds an API key: readable by its owner only.
    writeAtomic(opts.file, opts.text, mode ?? 0o600);
    return change;
}

export interface RestoreResult {
    /** What happened, one line per file, for the person. */
    lines: string[];
    /** What could not be put back (the record keeps those entries). */
    problems: string[];
    restored: string[];
}

/** Puts every recorded change back, newest first; entries restored are dropped from the record. */
export function restoreEditorFiles(manifestFile: string, now: Date = new Date()): RestoreResult {
    const m = readManifest(manifestFile);
    const out: RestoreResult = {lines: [], problems: [], restored: []};
    if (m.changes.length === 0) {
        out.lines.push(`Nothing to restore: ${manifestFile} records no editor change by setup.`);
        return out;
    }
    const left: EditorChange[] = [];
    for (const c of [...m.changes].reverse()) {
        const current = fs.existsSync(c.file) ? fs.readFileSync(c.file) : null;
        // Changed by the user after setup wrote it: kept aside, so putting the backup back loses nothing.
        let aside: string | null = null;
        if (current != null && sha256(current) !== c.written_sha256) {
            aside = freshSibling(c.file, "zc-replaced", now);
            fs.copyFileSync(c.file, aside, fs.constants.COPYFILE_EXCL);
        }
        if (c.backup) {
            if (!fs.existsSync(c.backup)) {
                out.problems.push(`${c.file}: its backup ${c.backup} is gone; left as it is`);
                left.unshift(c);
                continue;
            }
            fs.renameSync(c.backup, c.file);
            out.lines.push(`restored ${c.file} from ${path.basename(c.backup)}${aside ? ` (the version changed since setup is kept as ${path.basename(aside)})` : ""}`);
        } else {
            if (current != null) fs.rmSync(c.file, {force: true});
            out.lines.push(`removed ${c.file}: setup had created it${aside ? ` (the version changed since is kept as ${path.basename(aside)})` : ""}`);
        }
        out.restored.push(c.file);
    }
    writeManifest(manifestFile, {version: 1, changes: left});
    return out;
}
