import fs from "node:fs/promises";
import path from "node:path";
import {Ajv} from "ajv";
import {describe, expect, it} from "vitest";
import {loadConfig, validateConfigObject} from "../../src/config/load.js";
import {ConfigFileSchema, configJsonSchema, defaultConfigFile, ModelOverrideSchema, sectionKeys} from "../../src/config/schema.js";
import {makeHome, removeHome} from "../helpers/home.js";

/** `key` for a top-level setting, `section.key` for one inside a section; sorted so a difference reads as a diff. */
function schemaKeys(): string[] {
    const sections = new Set(sectionKeys());
    const keys: string[] = [];
    for (const [key, schema] of Object.entries(ConfigFileSchema.properties)) {
        if (sections.has(key)) keys.push(...Object.keys((schema as {properties: object}).properties).map((k) => `${key}.${k}`));
        else keys.push(key);
    }
    return keys.sort();
}

function defaultKeys(): string[] {
    const sections = new Set(sectionKeys());
    const keys: string[] = [];
    for (const [key, value] of Object.entries(defaultConfigFile())) {
        if (sections.has(key)) keys.push(...Object.keys(value as object).map((k) => `${key}.${k}`));
        else keys.push(key);
    }
    return keys.sort();
}

describe("config schema", () => {
    it("has a default for every key it declares, and declares every key that has a default", () => {
        expect(sectionKeys()).toEqual(expect.arrayContaining(["auth", "downloads", "import_sources", "service", "watchdog", "setup"]));
        expect(defaultKeys()).toEqual(schemaKeys());
    });

    it("accepts its own defaults, with every key present", () => {
        const validate = new Ajv({allErrors: true, strict: false}).compile(ConfigFileSchema);
        expect(validate(defaultConfigFile()), JSON.stringify(validate.errors)).toBe(true);
    });

    it("lets a file leave out any key, inside a section too, but not an upstream's url", () => {
        expect(validateConfigObject({}, "f")).toEqual({});
        for (const section of sectionKeys()) expect(() => validateConfigObject({[section]: {}}, "f")).not.toThrow();
        expect(() => validateConfigObject({upstreams: [{}]}, "f")).toThrow(/key "upstreams.0.url": expected this key to be present/);
        expect(configJsonSchema).not.toHaveProperty("required");
    });

    it("keeps the defaults of the keys a file leaves out of a section", async () => {
        const home = await makeHome("zc-schema-");
        try {
            await fs.mkdir(path.join(home, "config"), {recursive: true});
            await fs.writeFile(path.join(home, "config", "provider_config.json"), JSON.stringify({watchdog: {mode: "direct"}, setup: {branch: "work"}}));
            const d = defaultConfigFile();
            const c = loadConfig({home, env: {}});
            expect(c.watchdog).toEqual({...d.watchdog, mode: "direct"});
            expect(c.setup).toEqual({...d.setup, branch: "work"});
            expect(c.auth).toEqual(d.auth);
        } finally {
            await removeHome(home);
        }
    });

    it("documents every key, sections' keys included, in documentation/configuration.md", async () => {
        const doc = await fs.readFile(new URL("../../documentation/configuration.md", import.meta.url), "utf8");
        const row = (key: string): RegExp => new RegExp(`^\\| \`${key.replace(/\./g, "\\.")}\` \\|`, "m");
        for (const key of schemaKeys()) expect(doc, `missing ${key}`).toMatch(row(key));
        for (const key of Object.keys(ModelOverrideSchema.properties)) expect(doc, `missing models.<name>.${key}`).toMatch(row(key));
    });
});
