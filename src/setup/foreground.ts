/**
 * The provider that the final state started in this process (no service was installed). Whoever runs the machine
 * creates one holder per run, keeps the process alive while it serves, and closes it on Ctrl+C.
 */
import type {ProviderConfig} from "../config/load.js";
import type {Logger} from "../log/logger.js";
import {startServer, type RunningServer} from "../server/serve.js";

export class ForegroundProvider {
    private running: RunningServer | null = null;

    /** The server while it runs; null before it started and after it closed. */
    get server(): RunningServer | null {
        return this.running;
    }

    async start(config: ProviderConfig, logger: Logger): Promise<RunningServer> {
        // A second provider in the same process would find the port taken, or serve the same models twice.
        if (this.running) throw new Error(`a provider is already running in this process at ${this.running.url}`);
        this.running = await startServer(config, {logger});
        return this.running;
    }

    async close(): Promise<void> {
        const server = this.running;
        this.running = null;
        await server?.close();
    }
}
