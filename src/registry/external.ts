import fs from "node:fs";
import path from "node:path";
import {fileURLToPath, pathToFileURL} from "node:url";
import type {ProviderConfig} from "../config/load.js";
import type {Logger} from "../log/logger.js";
import {silentLogger} from "../log/logger.js";
import type {ExternalModel} from "./types.js";

/**
 * The other tools' stores (Ollama, LM Studio, the HF cache) as a scan source. The adopters live in src/sources;
 * loading them lazily keeps the registry usable on its own.
 */
export function externalSourcesFor(config: ProviderConfig, logger: Logger = silentLogger): (() => Promise<ExternalModel[]>) | undefined {
    const modulePath = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "sources", "index.ts");
    if (!fs.existsSync(modulePath)) return undefined;
    return async () => {
        const mod = (await import(pathToFileURL(modulePath).href)) as {discoverExternalModels?: (c: ProviderConfig, l: Logger) => Promise<ExternalModel[]>};
        return mod.discoverExternalModels ? mod.discoverExternalModels(config, logger) : [];
    };
}
