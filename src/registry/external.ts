import type {ProviderConfig} from "../config/load.js";
import type {Logger} from "../log/logger.js";
import {silentLogger} from "../log/logger.js";
import type {ExternalModel} from "./types.js";

/**
 * The other tools' stores (Ollama, LM Studio, the HF cache) as a scan source. The adopters in src/sources are
 * imported on first use, so a scan without import sources never loads them; the import is static (a literal path)
 * so that a build or a bundler sees it.
 */
export function externalSourcesFor(config: ProviderConfig, logger: Logger = silentLogger): () => Promise<ExternalModel[]> {
    return async () => {
        const {discoverExternalModels} = await import("../sources/index.js");
        return discoverExternalModels(config, logger);
    };
}
