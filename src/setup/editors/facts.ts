/** What an editor's settings need to know about this provider, and what a merge hands back. */

export interface ProviderFacts {
    /** http://127.0.0.1:8007 */
    baseUrl: string;
    /** The API key itself (written into the editor's own settings), or null when the provider needs none. */
    key: string | null;
    /** The model the settings name: the best installed chat model. */
    model: string;
    /** The context the model loads with: what editors should send as their window. */
    contextSize: number;
    /** The model can call tools (agents need it). */
    tools: boolean;
    /** A model whose GGUF has fill-in-the-middle tokens, for autocomplete; null when none is installed. */
    fimModel: string | null;
}

export interface MergeResult {
    text: string;
    /** What the user still has to do, or should know (Zed keeps its key in the keychain; Codex needs --profile). */
    notes: string[];
}

/** The file has a shape setup will not edit (a syntax error, a key of another type): the user changes it by hand. */
export class EditorMergeError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "EditorMergeError";
    }
}

/** Entries setup writes into lists it shares with the user's own (Continue's models) carry this prefix. */
export const OUR_PREFIX = "ZombieCoder";
