import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {loadConfig, type ProviderConfig} from "../../src/config/load.js";
import type {ProviderConfigFile} from "../../src/config/schema.js";

/** A fresh provider home under the OS temp folder; never the repo. */
export function tempHome(prefix = "zc-dl-"): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function testConfig(home: string, opts: {
    downloads?: Partial<ProviderConfigFile["downloads"]>;
    import_sources?: Partial<ProviderConfigFile["import_sources"]>;
} = {}): ProviderConfig {
    return loadConfig({
        home,
        env: {},
        overrides: {
            downloads: {max_concurrent: 2, hf_token: null, hf_endpoint: null, retries: 3, orphan_part_days: 7, ...opts.downloads},
            // Tests never look at the real machine's stores unless they point a source at a fixture.
            import_sources: {ollama: false, ollama_dir: null, lmstudio: false, lmstudio_dir: null, huggingface: false, huggingface_dir: null, ...opts.import_sources}
        }
    });
}

export async function waitFor(cond: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!cond()) {
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 10));
    }
}

export function rmrf(p: string): void {
    fs.rmSync(p, {recursive: true, force: true});
}
