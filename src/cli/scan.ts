/** `zombiecoder scan` / `npm run scan`: find GGUF models, print a table, write registry/models_index.json. */
import {CONFIG_OPTIONS, CONFIG_USAGE, parseCliOrExit} from "./args.js";
import {formatBytes, loadConfigForCli, renderTable, runIfEntryPoint} from "./common.js";

export const usage = (prog = "npm run scan --"): string => `usage: ${prog} [options]
Finds the GGUF models in models_dir (and the import sources), prints them and rewrites the registry index.
${CONFIG_USAGE}`;

export async function main(argv: string[], prog?: string): Promise<number> {
    const {values} = parseCliOrExit({usage: usage(prog), options: CONFIG_OPTIONS}, argv);
    const config = await loadConfigForCli(values);
    const {scanModels} = await import("../registry/scan.js");
    const {externalSourcesFor} = await import("../registry/external.js");

    const {index, stats, warnings} = await scanModels(config, {external: externalSourcesFor(config)});
    const rows = index.models.map((m) => [
        m.name,
        formatBytes(m.size_bytes),
        m.metadata?.quantization ?? "-",
        m.metadata?.parameter_size || "-",
        m.source,
        m.status === "invalid" ? `invalid: ${m.reason ?? ""}` : m.status
    ]);
    process.stdout.write(`Models in ${config.paths.models}\n\n`);
    process.stdout.write(rows.length > 0 ? renderTable(["NAME", "SIZE", "QUANT", "PARAMS", "SOURCE", "STATUS"], rows) + "\n" : "(no GGUF models found)\n");
    if (index.projectors.length > 0) process.stdout.write(`\n${index.projectors.length} projector file(s) attached to their models.\n`);
    for (const w of warnings) process.stdout.write(`warning: ${w}\n`);
    process.stdout.write(`\nWrote ${config.paths.registry} (${index.models.length} entries; ${stats.headerReads} headers read, ${stats.reused} cached).\n`);
    return 0;
}

runIfEntryPoint(import.meta.url, main);
