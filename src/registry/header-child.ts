/**
 * The child process `header-reader.ts` starts to read GGUF headers for one scan: answers each path it is sent over
 * IPC and exits when its parent disconnects, returning node-llama-cpp's memory to the OS.
 */
import {InvalidGgufError} from "./gguf-header.js";
import {readHeaderFacts} from "./gguf-read.js";
import type {HeaderAnswer, HeaderRequest} from "./header-reader.js";

function reply(answer: HeaderAnswer): void {
    process.send?.(answer);
}

process.on("message", (request: HeaderRequest) => {
    readHeaderFacts(request.path).then(
        (facts) => reply({id: request.id, facts}),
        (err: unknown) => reply({id: request.id, error: (err as Error).message ?? String(err), invalid: err instanceof InvalidGgufError})
    );
});
process.on("disconnect", () => process.exit(0));
