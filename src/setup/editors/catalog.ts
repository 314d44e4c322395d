/** The editors and agents setup can point at this provider: each one's name, settings file and merge. */
import {mergeAider} from "./aider.js";
import {mergeClaudeCode} from "./claude-code.js";
import {mergeCodex} from "./codex.js";
import {mergeContinue} from "./continue.js";
import type {MergeResult, ProviderFacts} from "./facts.js";
import type {EditorId} from "./locations.js";
import {mergeZed} from "./zed.js";

export interface EditorTarget {
    id: EditorId;
    title: string;
    /** The file's previous text (null: it does not exist) merged with this provider's settings. */
    merge(before: string | null, facts: ProviderFacts, file: string): MergeResult;
}

export const EDITORS: Readonly<Record<EditorId, EditorTarget>> = {
    "continue": {id: "continue", title: "Continue", merge: mergeContinue},
    "zed": {id: "zed", title: "Zed", merge: mergeZed},
    "codex": {id: "codex", title: "Codex CLI", merge: mergeCodex},
    "claude-code": {id: "claude-code", title: "Claude Code", merge: mergeClaudeCode},
    "aider": {id: "aider", title: "aider", merge: mergeAider}
};
