import fs from "node:fs/promises";
import path from "node:path";
import {afterEach, beforeEach, describe, expect, it} from "vitest";
import {ConfigError, loadConfig, parseCommonArgs, resolveConfigPath} from "../../src/config/load.js";
import {defaultConfigFile, SEED_DEFAULT_API_KEY} from "../../src/config/schema.js";
import {makeHome, removeHome} from "../helpers/home.js";

let home: string;
beforeEach(async () => {
    home = await makeHome("zc-config-");
});
afterEach(async () => removeHome(home));

async function writeConfig(obj: unknown): Promise<string> {
    const file = path.join(home, "config", "provider_config.json");
    await fs.mkdir(path.dirname(file), {recursive: true});
    await fs.writeFile(file, typeof obj === "string" ? obj : JSON.stringify(obj));
    return file;
}

function errorOf(fn: () => unknown): ConfigError {
    try {
        fn();
    } catch (err) {
        if (err instanceof ConfigError) return err;
        throw err;
    }
    throw new Error("expected a ConfigError");
}

describe("configuration", () => {
    it("applies the defaults when there is no file", () => {
        const c = loadConfig({home, env: {}});
        expect(c.configFileExists).toBe(false);
        expect(c.server_port).toBe(8007);
        expect(c.server_host).toBe("127.0.0.1");
        expect(c.keep_loaded_default).toBe(true);
        expect(c.idle_unload_seconds).toBe(86400);
        expect(c.ram_threshold_mb).toBe(14000);
        expect(c.upstream_ollama).toBeNull();
        expect(c.auth.enable_api_key).toBe(true);
        expect(c.apiKey).toBe(SEED_DEFAULT_API_KEY);
        expect(c.default_model).toBeNull();
        expect(c.paths.models).toBe(path.join(home, "models"));
        expect(c.paths.registry).toBe(path.join(home, "registry", "models_index.json"));
    });

    it("reads a file in the original format, with idle_timeout_seconds as an alias", async () => {
        await writeConfig({server_port: 9001, idle_timeout_seconds: 60, keep_loaded_default: false, models: {"m": {keep_loaded: true, aliases: ["mm"], pinned: true, context_size: 1024, parallel: 2}}});
        const c = loadConfig({home, env: {}});
        expect(c.configFileExists).toBe(true);
        expect(c.server_port).toBe(9001);
        expect(c.idle_unload_seconds).toBe(60);
        expect(c.keep_loaded_default).toBe(false);
        expect(c.models.m).toEqual({keep_loaded: true, aliases: ["mm"], pinned: true, context_size: 1024, parallel: 2});
    });

    it("names the file, the key and what is expected for each problem", async () => {
        const file = await writeConfig({server_port: 70000, ram_threshold_mb: -1, bogus_key: 1, auth: {enable_api_key: "yes"}, upstreams: [{url: "ftp://x"}]});
        const err = errorOf(() => loadConfig({home, env: {}}));
        expect(err.message).toContain(file);
        expect(err.message).toMatch(/key "server_port": expected a number <= 65535, got 70000/);
        expect(err.message).toMatch(/key "ram_threshold_mb": expected a number >= 0, got -1/);
        expect(err.message).toMatch(/key "bogus_key": expected no such key is known/);
        expect(err.message).toMatch(/key "auth.enable_api_key": expected a value of type boolean, got "yes"/);
        expect(err.message).toMatch(/key "upstreams.0.url"/);
    });

    it("reports malformed JSON and conflicting aliases clearly", async () => {
        const file = await writeConfig("{\"server_port\": 8007,");
        expect(errorOf(() => loadConfig({home, env: {}})).message).toMatch(new RegExp(`${file.replace(/[\\.]/g, "\\$&")}: not valid JSON`));
        await writeConfig({idle_timeout_seconds: 5, idle_unload_seconds: 6});
        expect(errorOf(() => loadConfig({home, env: {}})).message).toMatch(/same setting with different values/);
    });

    it("lets the environment override port, host, key and models dir", () => {
        const c = loadConfig({home, env: {ZOMBIECODER_PORT: "9100", ZOMBIECODER_HOST: "0.0.0.0", ZOMBIECODER_API_KEY: "from-env", ZOMBIECODER_MODELS_DIR: "elsewhere"}});
        expect(c.server_port).toBe(9100);
        expect(c.server_host).toBe("0.0.0.0");
        expect(c.apiKey).toBe("from-env");
        expect(c.apiKeySource).toBe("env");
        expect(c.paths.models).toBe(path.join(home, "elsewhere"));
        expect(errorOf(() => loadConfig({home, env: {ZOMBIECODER_PORT: "http"}})).message).toMatch(/ZOMBIECODER_PORT.*server_port/);
    });

    it("finds home and config through ZOMBIECODER_HOME and ZOMBIECODER_CONFIG", async () => {
        const other = path.join(home, "alt.json");
        await fs.writeFile(other, JSON.stringify({server_port: 1234}));
        const c = loadConfig({env: {ZOMBIECODER_HOME: home, ZOMBIECODER_CONFIG: other}});
        expect(c.home).toBe(home);
        expect(c.configPath).toBe(other);
        expect(c.server_port).toBe(1234);
    });

    it("reads the key from auth.api_key_file", async () => {
        await fs.mkdir(path.join(home, "config"), {recursive: true});
        await fs.writeFile(path.join(home, "config", "api_key.txt"), "file-key\n");
        await writeConfig({auth: {api_key: null, api_key_file: "config/api_key.txt"}});
        const c = loadConfig({home, env: {}});
        expect(c.apiKey).toBe("file-key");
        expect(c.apiKeySource).toBe("file");
    });

    it("requires a key when the key check is on", async () => {
        await writeConfig({auth: {api_key: null}});
        expect(errorOf(() => loadConfig({home, env: {}})).message).toMatch(/auth.api_key.*ZOMBIECODER_API_KEY/);
    });

    it("parses a Windows models_dir on Windows and reports it on other systems", async () => {
        await writeConfig({models_dir: "C:\\model\\models"});
        const win = loadConfig({home: "C:\\model", env: {}, platform: "win32", configPath: path.join(home, "config", "provider_config.json")});
        expect(win.paths.models).toBe("C:\\model\\models");
        const err = errorOf(() => loadConfig({home, env: {}, platform: "posix"}));
        expect(err.message).toMatch(/"C:\\model\\models" is a Windows path/);
        expect(err.message).toContain("models_dir");
    });

    it("resolves relative paths against the home, with each OS's rules", () => {
        expect(resolveConfigPath("models", "C:\\Users\\me\\zc", "models_dir", "f", "win32")).toBe("C:\\Users\\me\\zc\\models");
        expect(resolveConfigPath("D:\\weights", "C:\\zc", "models_dir", "f", "win32")).toBe("D:\\weights");
        expect(resolveConfigPath("models", "/home/me/zc", "models_dir", "f", "posix")).toBe("/home/me/zc/models");
        expect(() => resolveConfigPath("/home/me/models", "C:\\zc", "models_dir", "f", "win32")).toThrow(/POSIX path/);
    });

    it("parses --home and --config", () => {
        expect(parseCommonArgs(["--home", "/x", "--config=/y.json", "list"])).toEqual({home: "/x", configPath: "/y.json", rest: ["list"]});
        expect(() => parseCommonArgs(["--home"])).toThrow(/needs a value/);
    });

    it("documents every top-level key in documentation/configuration.md", async () => {
        const doc = await fs.readFile(new URL("../../documentation/configuration.md", import.meta.url), "utf8");
        for (const key of Object.keys(defaultConfigFile())) expect(doc, `missing ${key}`).toMatch(new RegExp(`\`${key}[.\`]`));
    });
});
