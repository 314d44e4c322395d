/**
 * Keeps several generating sequences of one context in the same decode.
 *
 * node-llama-cpp's batch loop (LlamaContext.dispatchPendingBatch) decodes a batch, resolves each sequence's
 * sampled token, and then at once decodes whatever is queued by then, without going through the dispatch schedule.
 * The sequences whose per-token JavaScript (the generator, LlamaChat's or LlamaCompletion's token handling, the
 * next evaluate call) has not finished in those few microtask turns miss that batch and wait for the next: with
 * four streams every decode carried three tokens, one sequence always a batch behind, each decode paying for the
 * model's weights with a fraction of the work llama-server's four-token batches do.
 *
 * The prioritization strategy is the one hook node-llama-cpp calls on that path. This one answers "nothing yet"
 * while fewer sequences have queued than are generating, so the loop turns again (an empty batch, a few
 * microtasks) and the stragglers, whose work is all microtasks too, catch up; after a small bounded number of turns
 * it decodes what is there, so a sequence waiting on something slower (a new request's setup, I/O) never holds the
 * others. Then it splits the batch as node-llama-cpp's default ("maximumParallelism") does.
 */
import type {BatchItem, CustomBatchingPrioritizationStrategy, PrioritizedBatchItem} from "node-llama-cpp";

/**
 * Decodes in a row that may leave lower-priority tokens out while a higher-priority request (a tab completion) has
 * tokens queued; the next one then carries everything, so a stream of completions never starves a chat.
 */
export const PRIORITY_RUN = 16;

/** Empty turns before a batch goes with what it has: each is a few microtasks (microseconds). */
const MAX_EMPTY_TURNS = 64;
/** And never longer than this, whatever the turns cost. */
const MAX_WAIT_MS = 1;

/** node-llama-cpp's "maximumParallelism": every item gets an even share of the batch, then the rest by priority. */
export function maximumParallelism(items: readonly BatchItem[], size: number): PrioritizedBatchItem[] {
    let left = size;
    const share = Math.floor(left / items.length);
    const res: PrioritizedBatchItem[] = [];
    const clipped: PrioritizedBatchItem[] = [];
    for (const item of items) {
        const p = {item, processAmount: Math.min(item.tokens.length, left, share)};
        res.push(p);
        left -= p.processAmount;
        if (p.processAmount < item.tokens.length) clipped.push(p);
        if (left === 0) break;
    }
    for (let passes = 3; left > 0 && clipped.length > 0 && passes > 0; passes--) {
        const step = Math.ceil(left / clipped.length);
        for (let i = 0; i < clipped.length && left > 0; i++) {
            const p = clipped[i]!;
            const rest = p.item.tokens.length - p.processAmount;
            const more = Math.min(rest, left, step);
            p.processAmount += more;
            left -= more;
            if (more === rest) clipped.splice(i--, 1);
        }
    }
    clipped.sort((a, b) => b.item.evaluationPriority - a.item.evaluationPriority);
    for (let i = 0; i < clipped.length && left > 0; i++) {
        const p = clipped[i]!;
        const rest = p.item.tokens.length - p.processAmount;
        const more = Math.min(rest, left);
        p.processAmount += more;
        left -= more;
        if (more === rest) clipped.splice(i--, 1);
    }
    return res;
}

export class BatchGatherer {
    /** Sequences between the start and the end of a request's evaluation (prompt and generation). */
    private generating = 0;
    private emptyTurns = 0;
    private waitingSince = 0;
    /** Decodes in a row that left lower-priority items waiting. */
    private deferredRun = 0;
    /** Batches sent and the items they carried (bench and tests read these). */
    batches = 0;
    items = 0;

    /** A sequence starts evaluating a request; pair with end() in a finally. */
    begin(): void {
        this.generating++;
    }

    end(): void {
        this.generating = Math.max(0, this.generating - 1);
    }

    /** Pass as createContext's `batching.itemPrioritizationStrategy`. */
    readonly strategy: CustomBatchingPrioritizationStrategy = ({items, size}) => {
        if (items.length < this.generating) {
            const now = performance.now();
            if (this.emptyTurns === 0) this.waitingSince = now;
            if (this.emptyTurns < MAX_EMPTY_TURNS && now - this.waitingSince < MAX_WAIT_MS) {
                this.emptyTurns++;
                return [];
            }
        }
        this.emptyTurns = 0;
        const chosen = this.byPriority(items);
        this.batches++;
        this.items += chosen.length;
        return maximumParallelism(chosen, size);
    };

    /**
     * While a higher-priority request has tokens queued, only the highest priority goes. On a CPU a decode's cost
     * grows with its tokens (at 2 threads a 2-token decode of the 0.5B shape took twice a 1-token one), so a tab
     * completion sharing every decode with a chat ran at half speed; alone it runs at full speed and the chat pauses
     * for the completion's few hundred milliseconds. Every PRIORITY_RUN-th decode takes everyone.
     */
    private byPriority(items: readonly BatchItem[]): readonly BatchItem[] {
        let top = -Infinity;
        for (const i of items) top = Math.max(top, i.evaluationPriority);
        const first = items.filter((i) => i.evaluationPriority === top);
        if (first.length === items.length || this.deferredRun >= PRIORITY_RUN) {
            this.deferredRun = 0;
            return items;
        }
        this.deferredRun++;
        return first;
    }
}
