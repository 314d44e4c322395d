/** `zombiecoder list`: the installed models, as the running provider sees them (`GET /models/installed`). */
import {CONFIG_OPTIONS, CONFIG_USAGE, parseCliOrExit} from "./args.js";
import {withClient} from "./client-command.js";
import {formatBytes, renderTable} from "./common.js";

export const usage = (prog = "zombiecoder list"): string => `usage: ${prog} [options]
Lists the installed models (and the models of configured upstreams) from the running provider.
  --json           print the provider's answer as JSON
${CONFIG_USAGE}`;

export interface InstalledModel {
    name: string;
    size: number;
    status: string;
    source?: string;
    upstream?: string;
    details?: {quantization_level?: string; parameter_size?: string};
    pinned?: boolean;
}

/** One table row per model; upstream models show where they live instead of a size. */
export function installedRows(models: InstalledModel[]): string[][] {
    return models.map((m) => [
        m.name,
        m.upstream ? "-" : formatBytes(m.size),
        m.details?.quantization_level ?? "-",
        m.details?.parameter_size ?? "-",
        m.status + (m.pinned ? ", pinned" : ""),
        m.upstream ? `upstream ${m.upstream}` : m.source ?? "-"
    ]);
}

export async function main(argv: string[], prog?: string): Promise<number> {
    const {values} = parseCliOrExit({usage: usage(prog), options: {...CONFIG_OPTIONS, json: {type: "boolean"}}}, argv);
    return withClient(values, async (client) => {
        const {models} = await client.json<{models: InstalledModel[]}>("GET", "/models/installed");
        if (values.json === true) process.stdout.write(`${JSON.stringify(models, null, 2)}\n`);
        else if (models.length === 0) process.stdout.write("(no models installed: put GGUF files in the models folder, or `zombiecoder pull hf:org/repo:QUANT`)\n");
        else process.stdout.write(`${renderTable(["NAME", "SIZE", "QUANT", "PARAMS", "STATUS", "SOURCE"], installedRows(models))}\n`);
        return 0;
    });
}
