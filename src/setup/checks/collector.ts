/** Runs checks one after another and keeps their results: a check that throws is a failed check, not a failed suite. */
import type {CheckGroup, CheckResult} from "./types.js";

export interface CheckHead {
    id: string;
    group: CheckGroup;
    title: string;
    model?: string | null;
}

/** What a check function returns; the collector adds the head. */
export type CheckBody = Partial<Omit<CheckResult, "id" | "group" | "title" | "model" | "ok" | "detail">> & {ok: boolean; detail: string};

export class CheckCollector {
    readonly results: CheckResult[] = [];

    constructor(private readonly onResult?: (r: CheckResult) => void) {}

    private add(r: CheckResult): CheckResult {
        this.results.push(r);
        this.onResult?.(r);
        return r;
    }

    async run(head: CheckHead, fn: () => Promise<CheckBody>): Promise<CheckResult> {
        const t0 = performance.now();
        let body: CheckBody;
        try {
            body = await fn();
        } catch (err) {
            body = {ok: false, detail: err instanceof Error ? err.message : String(err), ms: Math.round(performance.now() - t0)};
        }
        return this.add({
            id: head.id, group: head.group, title: head.title, model: head.model ?? null, ok: body.ok, skipped: body.skipped ?? false,
            status: body.status ?? null, ms: body.ms ?? null, detail: body.detail, tokens_per_second: body.tokens_per_second ?? null,
            prompt_tokens_per_second: body.prompt_tokens_per_second ?? null, load_ms: body.load_ms ?? null
        });
    }

    skip(head: CheckHead, why: string): CheckResult {
        return this.add({
            id: head.id, group: head.group, title: head.title, model: head.model ?? null, ok: true, skipped: true, status: null, ms: null, detail: why,
            tokens_per_second: null, prompt_tokens_per_second: null, load_ms: null
        });
    }
}
