/**
 * Editors send a completion request per keystroke and only want the answer to the last one. A newer short job
 * from the same client for the same model supersedes the older one, queued or running: its permit goes back, its
 * generation is aborted, and its sequence serves the newer request.
 *
 * The client is whoever the API layer says it is: `User-Agent` plus the connection's remote address (not the
 * port: editors open a new keep-alive connection whenever the previous one is busy, so one editor uses several
 * ports at once). Two editors on one machine with the same `User-Agent` therefore count as one client; a request
 * without a client key never supersedes anything.
 */
import {ProviderError} from "./errors.js";

export const superseded = () =>
    new ProviderError("cancelled", "superseded by a newer completion request from the same client", {code: "superseded"});

export function isSuperseded(err: unknown): boolean {
    return err instanceof ProviderError && err.code === "superseded";
}

export class Supersession {
    private latest = new Map<string, AbortController>();

    /**
     * Registers a new short job under `key` and aborts the one it replaces. Returns the new job's signal (aborted
     * when a newer one comes) and the function that ends the registration once the job is done.
     */
    claim(key: string): {signal: AbortSignal; done: () => void} {
        this.latest.get(key)?.abort(superseded());
        const controller = new AbortController();
        this.latest.set(key, controller);
        return {
            signal: controller.signal,
            done: () => {
                if (this.latest.get(key) === controller) this.latest.delete(key);
            }
        };
    }

    /** Jobs registered and not yet done (for tests and status). */
    get size(): number {
        return this.latest.size;
    }
}
