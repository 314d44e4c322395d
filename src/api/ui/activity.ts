/** The dashboard's activity list: the last few hundred finished requests, each with its API family. */
import type {RequestRecord} from "../../server/request-log.js";

export type ActivityFamily = "ollama" | "openai" | "anthropic" | "llamacpp" | "runtime" | "downloads" | "dashboard" | "other";

export type ActivityRecord = RequestRecord & {family: ActivityFamily};

/** Which API a route belongs to, for the activity list (errors have their own shape rule in server/errors.ts). */
export function activityFamily(route: string): ActivityFamily {
    if (route === "/v1/messages" || route.startsWith("/v1/messages/")) return "anthropic";
    if (route.startsWith("/v1/")) return "openai";
    if (route === "/api/pull") return "downloads";
    if (route.startsWith("/api/")) return "ollama";
    if (route === "/infill" || route === "/completion" || route === "/tokenize" || route === "/detokenize") return "llamacpp";
    if (route.startsWith("/runtime/") || route.startsWith("/models/")) return "runtime";
    if (route.startsWith("/download/")) return "downloads";
    if (route === "/ui" || route.startsWith("/ui/") || route === "/metrics") return "dashboard";
    return "other";
}

export class ActivityLog {
    private readonly records: ActivityRecord[] = [];
    private readonly listeners = new Set<(record: ActivityRecord) => void>();

    constructor(readonly keep = 300) {}

    add(record: RequestRecord): ActivityRecord {
        const entry: ActivityRecord = {...record, family: activityFamily(record.route)};
        this.records.push(entry);
        if (this.records.length > this.keep) this.records.splice(0, this.records.length - this.keep);
        for (const listener of this.listeners) listener(entry);
        return entry;
    }

    subscribe(listener: (record: ActivityRecord) => void): () => void {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
    }

    /** Oldest first. */
    recent(): ActivityRecord[] {
        return [...this.records];
    }
}
