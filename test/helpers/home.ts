import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {writeTestModel, type ScriptedTurn, type TestModelOptions, type TestModelInfo, type TestModelScript} from "../../src/gguf/test-model.js";
import {loadConfig, type ProviderConfig} from "../../src/config/load.js";
import type {ProviderConfigFile} from "../../src/config/schema.js";

export const TEST_KEY = "test-key-0123456789abcdef";

/** A throwaway provider home under the OS temp dir; never the project checkout. */
export async function makeHome(prefix = "zc-home-"): Promise<string> {
    return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Writes a generated model to `<home>/models/<folder>/<file>`. */
export async function addModel(home: string, relPath: string, opts: TestModelOptions = {}): Promise<TestModelInfo> {
    const file = path.join(home, "models", relPath);
    await fs.mkdir(path.dirname(file), {recursive: true});
    return writeTestModel(file, opts);
}

/**
 * Writes a scripted model (its greedy output is `script`, the same on every CPU) to `<home>/models/<folder>/<file>`.
 * `info.script.turns[i].tokens.length` is how many tokens a turn writes.
 */
export async function addScriptedModel(home: string, relPath: string, script: TestModelScript, opts: TestModelOptions = {}): Promise<TestModelInfo> {
    return addModel(home, relPath, {...opts, script});
}

/** A text that never ends by itself: scripted with `then: "repeat"`, for runs cut only by a token limit. */
export const ENDLESS: ScriptedTurn = {text: "Round and round it goes, never done; ", then: "repeat"};

/** Config for tests: one thread (2-core machines), a known key, a free port, no external stores. */
export function testConfig(home: string, overrides: Partial<ProviderConfigFile> = {}): ProviderConfig {
    return loadConfig({
        home,
        env: {},
        overrides: {
            server_port: 0,
            threads: 1,
            // the oracles (raw node-llama-cpp contexts in the tests) run without it: greedy output must match theirs
            flash_attention: false,
            log_level: "silent",
            import_sources: {ollama: false, ollama_dir: null, lmstudio: false, lmstudio_dir: null, huggingface: false, huggingface_dir: null},
            ...overrides,
            auth: {enable_api_key: true, api_key: TEST_KEY, api_key_file: null, allow_loopback_without_key: false, cors_origins: ["http://localhost:*", "vscode-webview://*"], ...overrides.auth}
        }
    });
}

export async function removeHome(home: string): Promise<void> {
    await fs.rm(home, {recursive: true, force: true, maxRetries: 5, retryDelay: 100});
}
