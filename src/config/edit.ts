/**
 * Changes to `models.<name>` made by the running server (Ollama's copy, create and delete): written to the config
 * file atomically, with the rest of the file byte for byte as it was, and applied to the in-memory config so the
 * change takes effect without a restart.
 */
import fs from "node:fs/promises";
import path from "node:path";
import {isDeepStrictEqual} from "node:util";
import {ProviderError} from "../runtime/errors.js";
import {indentUnit, setJsonPath, type JsonValue} from "./json-edit.js";
import {ConfigError, validateConfigObject, type ProviderConfig} from "./load.js";
import type {ModelOverride} from "./schema.js";

/** One change to the `models` map: a whole entry set or removed, or one key of an entry set or removed. */
export type ModelEdit =
    | {name: string; entry: ModelOverride | undefined}
    | {name: string; key: keyof ModelOverride; value: ModelOverride[keyof ModelOverride] | undefined};

type ModelsMap = Record<string, ModelOverride>;

/**
 * Decides the edits from the models section as the file holds it now (the file is the truth: the user may have
 * changed it since the server started). Throwing here changes nothing.
 */
export type PlanEdits = (fileModels: Readonly<ModelsMap>) => ModelEdit[];

/** Edits of one file run one after another, so two requests never write over each other's change. */
const queues = new Map<string, Promise<unknown>>();

function serialized<T>(file: string, fn: () => Promise<T>): Promise<T> {
    const prev = queues.get(file) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    queues.set(file, tail);
    void tail.then(() => {
        if (queues.get(file) === tail) queues.delete(file);
    });
    return run;
}

function cannot(file: string, what: string, err: unknown): ProviderError {
    const code = (err as NodeJS.ErrnoException).code;
    return new ProviderError("internal",
        `cannot ${what} the configuration file ${file} (${code ?? (err as Error).message}); nothing was changed. ` +
        "Check that the file and its folder are writable by the provider's user, or make the change by hand in the file and restart.",
        {code: "config_not_writable"});
}

/** Applies one edit to a models map, in place. */
function applyEdit(models: ModelsMap, edit: ModelEdit): void {
    if ("entry" in edit) {
        if (edit.entry === undefined) delete models[edit.name];
        else models[edit.name] = structuredClone(edit.entry);
        return;
    }
    const entry: Record<string, unknown> = {...models[edit.name]};
    if (edit.value === undefined) delete entry[edit.key];
    else entry[edit.key] = structuredClone(edit.value);
    // an entry left with nothing in it says nothing: it goes
    if (Object.keys(entry).length === 0) delete models[edit.name];
    else models[edit.name] = entry as ModelOverride;
}

/** The new file text: only the edited values are rewritten; every other byte stays. */
function rewrite(text: string, before: Record<string, unknown>, edits: ModelEdit[]): {text: string; after: Record<string, unknown>} {
    const models: ModelsMap = structuredClone((before.models ?? {}) as ModelsMap);
    let out = text;
    for (const edit of edits) {
        applyEdit(models, edit);
        const entry = models[edit.name];
        if ("entry" in edit || entry === undefined) out = setJsonPath(out, ["models", edit.name], entry as JsonValue | undefined);
        else out = setJsonPath(out, ["models", edit.name, edit.key], entry[edit.key] as JsonValue | undefined);
    }
    const after = {...before, models};
    // the in-place edit is a convenience; what must hold is that the file says exactly what was meant
    let parsed: unknown;
    try {
        parsed = JSON.parse(out.replace(/^\uFEFF/, ""));
    } catch {
        parsed = undefined;
    }
    if (!isDeepStrictEqual(parsed, after)) out = JSON.stringify(after, null, indentUnit(text)) + "\n";
    return {text: out, after};
}

/** Writes beside the file and renames over it, so a crash leaves the old file or the new one, never half of one. */
async function writeAtomically(file: string, text: string): Promise<void> {
    const mode = await fs.stat(file).then((s) => s.mode & 0o777, () => 0o644);
    const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now().toString(36)}.tmp`);
    try {
        const handle = await fs.open(tmp, "w", mode);
        try {
            await handle.writeFile(text, "utf8");
            await handle.sync();
        } finally {
            await handle.close();
        }
        await fs.rename(tmp, file);
    } catch (err) {
        await fs.rm(tmp, {force: true}).catch(() => undefined);
        throw err;
    }
}

/**
 * Plans edits against the config file's models, writes the file, then applies the same edits to `config.models`.
 * A file that cannot be read, parsed, validated or written is an error naming it, and then neither the file nor
 * the running config has changed. Returns the edits that were made.
 */
export function editModels(config: ProviderConfig, plan: PlanEdits): Promise<ModelEdit[]> {
    const file = config.configPath;
    return serialized(file, async () => {
        let text: string;
        try {
            text = await fs.readFile(file, "utf8");
        } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw cannot(file, "read", err);
            text = "{}\n";
        }
        let before: unknown;
        try {
            before = JSON.parse(text.replace(/^\uFEFF/, ""));
        } catch (err) {
            throw new ProviderError("internal", `the configuration file ${file} is not valid JSON (${(err as Error).message}); fix it, then try again. Nothing was changed.`,
                {code: "config_invalid"});
        }
        if (before == null || typeof before !== "object" || Array.isArray(before))
            throw new ProviderError("internal", `the configuration file ${file} does not hold a JSON object; fix it, then try again. Nothing was changed.`, {code: "config_invalid"});
        const fileObject = before as Record<string, unknown>;
        const edits = plan(structuredClone((fileObject.models ?? {}) as ModelsMap));
        if (edits.length === 0) return edits;
        const {text: next, after} = rewrite(text, fileObject, edits);
        try {
            validateConfigObject(after, file);
        } catch (err) {
            if (!(err instanceof ConfigError)) throw err;
            throw new ProviderError("internal", `${err.message}\nNothing was changed: the file would not be valid after this change.`, {code: "config_invalid"});
        }
        try {
            await fs.mkdir(path.dirname(file), {recursive: true});
            await writeAtomically(file, next);
        } catch (err) {
            throw cannot(file, "write", err);
        }
        for (const edit of edits) applyEdit(config.models, edit);
        config.configFileExists = true;
        return edits;
    });
}
