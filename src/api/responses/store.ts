/**
 * Recent responses by id, for `previous_response_id` and `GET /v1/responses/{id}`: in memory, bounded by count, the
 * least recently used out first.
 */
import type {ChatMessage} from "../../runtime/protocol.js";
import type {ResponseObject} from "./wire.js";

/** How many responses are kept when nothing else is configured. */
export const DEFAULT_STORE_MAX = 200;

export interface StoredResponse {
    readonly id: string;
    /** The response as it was answered. */
    readonly response: ResponseObject;
    /**
     * The response this one continued. Held by reference, so a conversation stays whole while any of its later
     * responses is stored, even after its own entry was evicted; each turn is kept once, never copied per response.
     */
    readonly parent: StoredResponse | null;
    /** This response's own input and its answer as chat messages; instructions are not part of it (they do not carry over). */
    readonly turn: readonly ChatMessage[];
}

export class ResponseStore {
    private readonly entries = new Map<string, StoredResponse>();

    constructor(readonly maxEntries = DEFAULT_STORE_MAX) {
        if (!Number.isInteger(maxEntries) || maxEntries < 0) throw new Error(`the response store size must be a whole number >= 0, got ${maxEntries}`);
    }

    get size(): number {
        return this.entries.size;
    }

    put(entry: StoredResponse): void {
        if (this.maxEntries === 0) return;
        this.entries.delete(entry.id);
        this.entries.set(entry.id, entry);
        while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    }

    /** A stored response; reading it counts as use, so a conversation being continued is not the next one evicted. */
    get(id: string): StoredResponse | undefined {
        const entry = this.entries.get(id);
        if (entry) {
            this.entries.delete(id);
            this.entries.set(id, entry);
        }
        return entry;
    }

    delete(id: string): boolean {
        return this.entries.delete(id);
    }
}

/** Every turn from the first response of the conversation up to and including this one, oldest first. */
export function conversationOf(entry: StoredResponse): ChatMessage[] {
    const turns: Array<readonly ChatMessage[]> = [];
    for (let e: StoredResponse | null = entry; e; e = e.parent) turns.push(e.turn);
    return turns.reverse().flat();
}
