import fs from "node:fs";
import path from "node:path";
import {describe, expect, it} from "vitest";
import {findImportCycles, sourceImports} from "../../scripts/import-cycles.js";

const SRC = path.resolve(import.meta.dirname, "../../src");

describe("module structure", () => {
    it("src/ has no import circles (type-only imports excluded: they vanish at run time)", () => {
        expect(findImportCycles(SRC)).toEqual([]);
    });

    it("the cycle finder sees a circle when there is one", () => {
        const dir = fs.mkdtempSync(path.join(import.meta.dirname, ".tmp-cycle-"));
        try {
            fs.writeFileSync(path.join(dir, "a.ts"), 'import {b} from "./b.js";\nexport const a = () => b;\n');
            fs.writeFileSync(path.join(dir, "b.ts"), 'import {c} from "./c.js";\nexport const b = 1;\n');
            fs.writeFileSync(path.join(dir, "c.ts"), 'import type {x} from "./a.js";\nimport {a} from "./a.js";\nexport const c = a;\n');
            fs.writeFileSync(path.join(dir, "d.ts"), 'import type {a} from "./a.js";\nexport const d = 1;\n');
            expect(findImportCycles(dir)).toEqual([["a.ts", "b.ts", "c.ts", "a.ts"]]);
        } finally {
            fs.rmSync(dir, {recursive: true, force: true});
        }
    });

    it("the upstream clients import nothing from the HTTP layer", () => {
        for (const file of fs.readdirSync(path.join(SRC, "upstream"))) {
            const imports = sourceImports(path.join(SRC, "upstream", file));
            expect(imports.filter((i) => /\/(api|server)\//.test(i)), file).toEqual([]);
        }
    });
});
