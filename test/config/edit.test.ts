/** Editing the config file while the server runs: in place (the rest of the text unchanged), atomic, validated. */
import fs from "node:fs/promises";
import path from "node:path";
import {afterEach, beforeEach, describe, expect, it} from "vitest";
import {editModels} from "../../src/config/edit.js";
import {setJsonPath} from "../../src/config/json-edit.js";
import {loadConfig, type ProviderConfig} from "../../src/config/load.js";
import {ProviderError} from "../../src/runtime/errors.js";
import {makeHome, removeHome} from "../helpers/home.js";

describe("setJsonPath", () => {
    it("replaces a value and leaves every other byte", () => {
        const text = `{\n  "a": 1,\n  "list": [1,2,3],\n  "models": {"x": {"aliases": ["p"], "pinned": true}}\n}\n`;
        const out = setJsonPath(text, ["models", "x", "aliases"], ["p", "q"]);
        expect(out).toBe(`{\n  "a": 1,\n  "list": [1,2,3],\n  "models": {"x": {"aliases": ["p", "q"], "pinned": true}}\n}\n`);
    });

    it("inserts into a multi-line object with its indentation, a one-line object on its line, an empty object expanded", () => {
        const multi = `{\n\t"a": 1,\n\t"models": {\n\t\t"x": {}\n\t}\n}`;
        expect(setJsonPath(multi, ["models", "y"], {from: "x"})).toBe(`{\n\t"a": 1,\n\t"models": {\n\t\t"x": {},\n\t\t"y": {"from": "x"}\n\t}\n}`);
        expect(setJsonPath(multi, ["models", "x", "aliases"], ["z"])).toBe(`{\n\t"a": 1,\n\t"models": {\n\t\t"x": {\n\t\t\t"aliases": ["z"]\n\t\t}\n\t}\n}`);
        expect(setJsonPath(`{"a": 1}`, ["models", "x", "aliases"], ["z"])).toBe(`{"a": 1, "models": {"x": {"aliases": ["z"]}}}`);
    });

    it("writes long values over several lines, and a value that spanned lines stays multi-line", () => {
        const text = `{\n    "models": {\n        "v": {\n            "from": "x"\n        }\n    }\n}\n`;
        const system = "s".repeat(90);
        const out = setJsonPath(text, ["models", "v"], {from: "x", system, options: {temperature: 0}});
        expect(out).toBe(`{\n    "models": {\n        "v": {\n            "from": "x",\n            "system": "${system}",\n            "options": {"temperature": 0}\n        }\n    }\n}\n`);
        expect(JSON.parse(out)).toEqual({models: {v: {from: "x", system, options: {temperature: 0}}}});
    });

    it("removes the first, a middle, the last and the only key, with their commas", () => {
        const text = `{\n  "a": 1,\n  "b": 2,\n  "c": 3\n}`;
        expect(setJsonPath(text, ["a"], undefined)).toBe(`{\n  "b": 2,\n  "c": 3\n}`);
        expect(setJsonPath(text, ["b"], undefined)).toBe(`{\n  "a": 1,\n  "c": 3\n}`);
        expect(setJsonPath(text, ["c"], undefined)).toBe(`{\n  "a": 1,\n  "b": 2\n}`);
        expect(setJsonPath(`{"only": {"x": 1}}`, ["only", "x"], undefined)).toBe(`{"only": {}}`);
        expect(setJsonPath(text, ["missing", "deep"], undefined)).toBe(text);
    });

    it("reads keys with escapes, strings holding brackets, and a byte-order mark", () => {
        const text = `\uFEFF{"we\\"ird": "}{][", "models": {"m": {"stop": ["]", "}"]}}}`;
        const out = setJsonPath(text, ["models", "m", "stop"], ["x"]);
        expect(out).toBe(`\uFEFF{"we\\"ird": "}{][", "models": {"m": {"stop": ["x"]}}}`);
    });

    it("refuses a path through something that is not an object", () => {
        expect(() => setJsonPath(`{"models": []}`, ["models", "x"], 1)).toThrow(/not an object/);
    });
});

describe("editModels", () => {
    let home: string;
    let config: ProviderConfig;
    let file: string;

    beforeEach(async () => {
        home = await makeHome("zc-edit-");
        file = path.join(home, "config", "provider_config.json");
        config = loadConfig({home, env: {}, overrides: {auth: {enable_api_key: false, api_key: null, api_key_file: null, allow_loopback_without_key: false, cors_origins: []}}});
    });

    afterEach(async () => {
        await removeHome(home);
    });

    it("creates a missing file with only the change, and applies it to the running config", async () => {
        await editModels(config, () => [{name: "m", key: "aliases", value: ["a"]}]);
        expect(JSON.parse(await fs.readFile(file, "utf8"))).toEqual({models: {m: {aliases: ["a"]}}});
        expect(config.models.m).toEqual({aliases: ["a"]});
        expect(config.configFileExists).toBe(true);
    });

    it("plans against the file as it is now, and leaves no temporary file behind", async () => {
        await fs.mkdir(path.dirname(file), {recursive: true});
        await fs.writeFile(file, `{"server_port": 9000, "models": {"m": {"aliases": ["by-hand"]}}}\n`);
        await editModels(config, (models) => [{name: "m", key: "aliases", value: [...(models.m?.aliases ?? []), "b"]}]);
        expect(await fs.readFile(file, "utf8")).toBe(`{"server_port": 9000, "models": {"m": {"aliases": ["by-hand", "b"]}}}\n`);
        expect(await fs.readdir(path.dirname(file))).toEqual(["provider_config.json"]);
    });

    it("runs concurrent edits one after another, so none is lost", async () => {
        await Promise.all(["a", "b", "c", "d"].map((alias) =>
            editModels(config, (models) => [{name: "m", key: "aliases", value: [...(models.m?.aliases ?? []), alias]}])));
        const written = JSON.parse(await fs.readFile(file, "utf8")) as {models: {m: {aliases: string[]}}};
        expect(written.models.m.aliases.sort()).toEqual(["a", "b", "c", "d"]);
    });

    it("refuses a change that would make the file invalid, and an unparsable file, changing nothing", async () => {
        await fs.mkdir(path.dirname(file), {recursive: true});
        await fs.writeFile(file, `{"models": {}}`);
        const tooLong = editModels(config, () => [{name: "m", key: "aliases", value: ["x".repeat(300)]}]);
        await expect(tooLong).rejects.toThrow(/invalid configuration[\s\S]*Nothing was changed/);
        expect(await fs.readFile(file, "utf8")).toBe(`{"models": {}}`);
        expect(config.models.m).toBeUndefined();

        await fs.writeFile(file, `{"models": {`);
        const broken = editModels(config, () => [{name: "m", key: "aliases", value: ["x"]}]);
        await expect(broken).rejects.toBeInstanceOf(ProviderError);
        await expect(editModels(config, () => [{name: "m", key: "aliases", value: ["x"]}])).rejects.toThrow(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is not valid JSON`));
        expect(await fs.readFile(file, "utf8")).toBe(`{"models": {`);
    });

    it("a folder it cannot write to is an error naming the file; the file and the running config stay as they were", async (ctx) => {
        // root writes anywhere: the permission check cannot be shown as root
        if (process.getuid?.() === 0) ctx.skip();
        await fs.mkdir(path.dirname(file), {recursive: true});
        await fs.writeFile(file, `{"models": {}}`);
        await fs.chmod(path.dirname(file), 0o555);
        try {
            const err = await editModels(config, () => [{name: "m", key: "aliases", value: ["x"]}]).catch((e: unknown) => e);
            expect(err).toBeInstanceOf(ProviderError);
            expect((err as ProviderError).kind).toBe("internal");
            expect((err as Error).message).toContain(file);
            expect((err as Error).message).toMatch(/EACCES.*nothing was changed/);
            expect(await fs.readFile(file, "utf8")).toBe(`{"models": {}}`);
            expect(config.models.m).toBeUndefined();
        } finally {
            await fs.chmod(path.dirname(file), 0o755);
        }
    });

    it("keeps the file's permissions", async () => {
        await fs.mkdir(path.dirname(file), {recursive: true});
        await fs.writeFile(file, `{}`, {mode: 0o600});
        await fs.chmod(file, 0o600);
        await editModels(config, () => [{name: "m", entry: {from: "x"}}]);
        expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    });
});
