/** What every client subcommand shares: the config → client step, and the same two errors said the same way. */
import {NoProviderError, ProviderClient, ProviderResponseError} from "./client.js";
import {loadConfigForCli} from "./common.js";

/**
 * Builds the client from `--home` / `--config` and runs `work` with it. A provider that is not running, or that
 * refused the request, is a one-line error and exit 1, never a stack trace.
 */
export async function withClient(paths: {home?: string; config?: string}, work: (client: ProviderClient) => Promise<number>): Promise<number> {
    const client = ProviderClient.fromConfig(await loadConfigForCli(paths));
    try {
        return await work(client);
    } catch (err) {
        if (err instanceof NoProviderError || err instanceof ProviderResponseError) {
            process.stderr.write(`error: ${err.message}\n`);
            return 1;
        }
        throw err;
    }
}

/** A model name as one URL path segment list: slashes stay (names like `org/model` are routes' `*`), the rest is escaped. */
export function modelPath(name: string): string {
    return name.split("/").map(encodeURIComponent).join("/");
}
