/** `zombiecoder load <model>` and `zombiecoder unload <model>`: explicit residency through the running provider. */
import {CONFIG_OPTIONS, CONFIG_USAGE, parseCliOrExit} from "./args.js";
import {modelPath, withClient} from "./client-command.js";

export const loadUsage = (prog = "zombiecoder load"): string => `usage: ${prog} <model> [options]
Loads a model into the running provider now, instead of on its first request, and waits until it is ready.
${CONFIG_USAGE}`;

export const unloadUsage = (prog = "zombiecoder unload"): string => `usage: ${prog} <model> [options]
Unloads a model from the running provider (after the requests it is serving finish), freeing its memory.
${CONFIG_USAGE}`;

const ONE_MODEL = {min: 1, max: 1, name: "model"};

export async function loadMain(argv: string[], prog?: string): Promise<number> {
    const {values, positionals} = parseCliOrExit({usage: loadUsage(prog), options: CONFIG_OPTIONS, positionals: ONE_MODEL}, argv);
    return withClient(values, async (client) => {
        const r = await client.json<{model: string; status: string; load_ms: number; context_size: number | null}>("POST", `/runtime/load/${modelPath(positionals[0]!)}`);
        process.stdout.write(`${r.model}: ${r.status} in ${r.load_ms} ms${r.context_size ? ` (context ${r.context_size} tokens)` : ""}\n`);
        return 0;
    });
}

export async function unloadMain(argv: string[], prog?: string): Promise<number> {
    const {values, positionals} = parseCliOrExit({usage: unloadUsage(prog), options: CONFIG_OPTIONS, positionals: ONE_MODEL}, argv);
    return withClient(values, async (client) => {
        const r = await client.json<{model: string; status: string; was_loaded: boolean}>("POST", `/runtime/unload/${modelPath(positionals[0]!)}`);
        process.stdout.write(r.was_loaded ? `${r.model}: unloaded\n` : `${r.model}: was not loaded\n`);
        return 0;
    });
}
