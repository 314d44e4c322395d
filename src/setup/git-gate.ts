/**
 * The git gate before a step that changes files: pending changes are committed first (only when there are any),
 * with a message naming the step, so every change the step makes can be seen and undone on its own.
 */
import path from "node:path";
import type {SetupGit} from "./git.js";
import type {CommitRecord} from "./records.js";
import type {StepId} from "./step-ids.js";
import {DEFAULT_KEY_FILE} from "./steps/repo.js";
import {loadSetupConfig, type ConfigSource} from "./steps/setup-config.js";

export interface GateInput {
    step: StepId;
    /** The step's position in the tasklist, from 1: the commit message names it. */
    index: number;
    title: string;
}

/** The key file path relative to the home, so gate commits never stage it even if .gitignore was edited by hand. */
function keyFileRel(home: string, configSource: ConfigSource): string {
    try {
        const cfg = loadSetupConfig(configSource).config;
        const abs = path.resolve(home, cfg.auth.api_key_file ?? DEFAULT_KEY_FILE);
        return path.relative(home, abs).split(path.sep).join("/");
    } catch {
        return DEFAULT_KEY_FILE.split(path.sep).join("/");
    }
}

export async function commitBeforeStep(deps: {home: string; configSource: ConfigSource; git: SetupGit}, input: GateInput): Promise<CommitRecord | null> {
    if (!deps.git.hasRepo() || !(await deps.git.isDirty())) return null;
    return deps.git.commitAll(`setup: before step ${input.index} (${input.title})`, {step: input.step, protectedExtra: [keyFileRel(deps.home, deps.configSource)]});
}
