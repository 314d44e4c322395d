/**
 * Work still under way, by key: a second start of the same thing arriving meanwhile can join the first instead
 * of repeating it. The entry is set synchronously, before any other caller gets to run, so none can slip in between.
 */
export class InFlight<T> {
    private readonly pending = new Map<string, Promise<T>>();

    get(key: string): Promise<T> | undefined {
        return this.pending.get(key);
    }

    async run(key: string, work: () => Promise<T>): Promise<T> {
        const p = work();
        this.pending.set(key, p);
        try {
            return await p;
        } finally {
            if (this.pending.get(key) === p) this.pending.delete(key);
        }
    }
}
