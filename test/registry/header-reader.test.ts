import fs from "node:fs/promises";
import path from "node:path";
import {afterAll, beforeAll, expect, it} from "vitest";
import {InvalidGgufError} from "../../src/registry/gguf-header.js";
import {createHeaderReader} from "../../src/registry/header-reader.js";
import {addModel, makeHome, removeHome} from "../helpers/home.js";

let home: string;
let model: string;
beforeAll(async () => {
    home = await makeHome("zc-header-reader-");
    model = (await addModel(home, "tiny/tiny-q8_0.gguf")).path;
});
afterAll(async () => removeHome(home));

it("a child that cannot start costs nothing but time: its reads are done in this process", async () => {
    const reader = createHeaderReader("child", {script: path.join(home, "no-such-child.js"), execArgv: []});
    try {
        const facts = await reader.read(model);
        expect(facts.meta.architecture).toBe("llama");
        expect(facts.projector).toBe(false);
        expect(facts.dataEnd).toBeGreaterThan(0);
        // later reads of the same scan do not try the child again, and a bad file is still reported as one
        const junk = path.join(home, "junk.gguf");
        await fs.writeFile(junk, "not a model");
        await expect(reader.read(junk)).rejects.toBeInstanceOf(InvalidGgufError);
    } finally {
        reader.close();
    }
});
