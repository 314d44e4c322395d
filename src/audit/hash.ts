import {createHash} from "node:crypto";
import fs from "node:fs";

/** sha256 of a whole file, streamed; `onBytes` receives the running count for progress bars. */
export async function sha256File(file: string, opts: {onBytes?: (bytes: number) => void; signal?: AbortSignal} = {}): Promise<string> {
    const hash = createHash("sha256");
    const stream = fs.createReadStream(file, {highWaterMark: 4 * 1024 * 1024});
    let n = 0;
    try {
        for await (const chunk of stream) {
            if (opts.signal?.aborted) throw opts.signal.reason;
            hash.update(chunk as Buffer);
            n += (chunk as Buffer).length;
            opts.onBytes?.(n);
        }
    } finally {
        stream.destroy();
    }
    return hash.digest("hex");
}
