/**
 * logs/setup_state.json: the run's persisted state.
 *
 * The machine's persisted snapshot (XState's own, context included) is written after every transition,
 * synchronously and atomically (temp file + rename), so a crash or a power cut leaves either the previous or the
 * next state, never half a file. `--resume` restores it: completed steps lie behind the restored state and are never
 * run again; the step that was interrupted starts over (steps are written to be safe to re-run).
 */
import fs from "node:fs";
import path from "node:path";
import type {PersistedState} from "./records.js";

export const STATE_FILE_NAME = "setup_state.json";

export function stateFilePath(logsDir: string): string {
    return path.join(logsDir, STATE_FILE_NAME);
}

/** Synchronous on purpose: it runs inside the machine's transition listener, before the next step can start. */
export function writeStateFile(file: string, state: PersistedState): void {
    fs.mkdirSync(path.dirname(file), {recursive: true});
    const tmp = `${file}.${process.pid}.tmp`;
    const text = `${JSON.stringify(state, null, 1)}\n`;
    fs.writeFileSync(tmp, text);
    try {
        fs.renameSync(tmp, file);
    } catch {
        // Windows refuses the rename while another process (an editor, a virus scanner) holds the file open;
        // a direct write still records the state, only without the crash atomicity.
        fs.writeFileSync(file, text);
        fs.rmSync(tmp, {force: true});
    }
}

export function readStateFile(file: string): PersistedState | null {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch {
        return null;
    }
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch (err) {
        throw new Error(`${file}: not valid JSON (${(err as Error).message}); delete it to start setup afresh`);
    }
    const s = parsed as Partial<PersistedState>;
    if (s == null || s.version !== 1 || typeof s.run_id !== "string" || s.machine == null || typeof s.machine !== "object")
        throw new Error(`${file}: not a setup state file of this version; delete it to start setup afresh`);
    return s as PersistedState;
}
