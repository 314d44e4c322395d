/** tasks/provider-setup.yaml, the tasklist the setup machine is built from: read and checked field by field. */
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import {projectRoot} from "../config/load.js";
import {isStepId, STEP_IDS, type StepId} from "./step-ids.js";

export const TASKLIST_FILE = path.join(projectRoot, "tasks", "provider-setup.yaml");

/** One step of the tasklist. */
export interface TaskDef {
    id: StepId;
    title: string;
    description: string;
    mutates: boolean;
    gate: boolean;
    required: boolean;
    approvals: string[];
    /** How long the step usually takes, in seconds, for --plan; a step's prepare half may give a better figure. */
    expectedSeconds: number;
    /** On Windows, the step's changes need a terminal started as Administrator (a Windows service install). */
    windowsAdmin: boolean;
}

function isRecord(v: unknown): v is Record<string, unknown> {
    return v != null && typeof v === "object" && !Array.isArray(v);
}

/** Reads and checks the tasklist: known ids, each once, every field typed. */
export function parseTasklist(text: string, file = TASKLIST_FILE): TaskDef[] {
    const doc: unknown = YAML.parse(text);
    const steps = isRecord(doc) ? doc.steps : undefined;
    if (!Array.isArray(steps) || steps.length === 0) throw new Error(`${file}: expected a "steps" list`);
    const seen = new Set<string>();
    return steps.map((raw: unknown, i: number): TaskDef => {
        const s = isRecord(raw) ? raw : {};
        const where = `${file}: steps[${i}]`;
        const id = s.id;
        if (typeof id !== "string" || !isStepId(id)) throw new Error(`${where}: "id" must be one of ${STEP_IDS.join(", ")}`);
        if (seen.has(id)) throw new Error(`${where}: step "${id}" appears twice`);
        seen.add(id);
        const text = (k: string): string => {
            const v = s[k];
            if (typeof v !== "string" || v === "") throw new Error(`${where} (${id}): "${k}" must be a non-empty string`);
            return v;
        };
        const flag = (k: string, fallback?: boolean): boolean => {
            const v = s[k] === undefined ? fallback : s[k];
            if (typeof v !== "boolean") throw new Error(`${where} (${id}): "${k}" must be true or false`);
            return v;
        };
        const title = text("title");
        const description = text("description").trim();
        const mutates = flag("mutates");
        const required = flag("required");
        const gate = flag("gate", mutates);
        const approvals = s.approvals;
        if (!Array.isArray(approvals) || !approvals.every((a): a is string => typeof a === "string"))
            throw new Error(`${where} (${id}): "approvals" must be a list of approval ids`);
        const expected = s.expected_seconds;
        if (typeof expected !== "number" || !Number.isFinite(expected) || expected < 0)
            throw new Error(`${where} (${id}): "expected_seconds" must be a number of seconds (0 or more)`);
        const windowsAdmin = flag("windows_admin", false);
        return {id, title, description, mutates, gate, required, approvals, expectedSeconds: expected, windowsAdmin};
    });
}

export function loadTasklist(file = TASKLIST_FILE): TaskDef[] {
    return parseTasklist(fs.readFileSync(file, "utf8"), file);
}
