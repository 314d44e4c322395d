import {Ajv} from "ajv";
import {describe, expect, it} from "vitest";
import {validateConfigObject} from "../../src/config/load.js";
import {surelyValid} from "../../src/config/quick-check.js";
import {configJsonSchema, defaultConfigFile} from "../../src/config/schema.js";

/** Values that sit on every edge the config's keywords have: types, bounds, empty, code points, NaN and Infinity. */
const VALUES: unknown[] = [
    undefined, null, true, false, 0, 1, -1, 1.5, 16, 15, 63, 64, 65, 1024, 1025, 65535, 65536, 1048576, 1048577,
    Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, "", "x", "auto", "user", "direct", "cuda", "info",
    "http://h", "https://h/x", "ftp://h", "😀".repeat(256), "😀".repeat(257), "a".repeat(1025), [], ["a"], [""], [1], {}, {a: 1},
    [{url: "http://u"}], [{}], [{url: "http://u", extra: 1}], {m: {}}, {m: {context_size: 15}}, {m: {messages: [{role: "user", content: "c"}]}},
    {m: {messages: [{role: "tool", content: "c"}]}}, {m: {parallel: "auto", aliases: ["a"], options: {x: 1}}}, {m: null}
];

/** Every key path of the default config (sections' keys and one model entry's keys included), and one unknown. */
function paths(): string[][] {
    const out: string[][] = [["no_such_key"]];
    for (const [key, value] of Object.entries(defaultConfigFile())) {
        out.push([key]);
        if (value && typeof value === "object" && !Array.isArray(value)) {
            for (const sub of Object.keys(value)) out.push([key, sub]);
            out.push([key, "no_such_key"]);
        }
    }
    for (const key of Object.keys((configJsonSchema.properties as {models: {patternProperties: Record<string, {properties: object}>}}).models.patternProperties["^.*$"]!.properties))
        out.push(["models", "m", key]);
    out.push(["upstreams", "0", "url"], ["upstreams", "0", "timeout_ms"], ["models", "with\nnewline"]);
    return out;
}

function withValue(base: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
    const root = structuredClone(base);
    let cur: Record<string, unknown> = root;
    for (const part of path.slice(0, -1)) {
        if (cur[part] == null || typeof cur[part] !== "object") cur[part] = part === "upstreams" ? [] : {};
        cur = cur[part] as Record<string, unknown>;
    }
    cur[path[path.length - 1]!] = value;
    return root;
}

describe("the config's quick check", () => {
    const ajv = new Ajv({allErrors: true, strict: false}).compile(configJsonSchema);

    it("answers as Ajv does on every key set to every edge value, from an empty file and from the defaults", () => {
        let valid = 0;
        let invalid = 0;
        for (const base of [{}, defaultConfigFile() as unknown as Record<string, unknown>]) {
            for (const path of paths()) {
                for (const value of VALUES) {
                    const obj = withValue(base, path, value);
                    const expected = ajv(obj);
                    expect(surelyValid(configJsonSchema, obj), `${path.join(".")} = ${String(value)}`).toBe(expected);
                    if (expected) valid++;
                    else invalid++;
                }
            }
        }
        // both answers were exercised, many times
        expect(valid).toBeGreaterThan(500);
        expect(invalid).toBeGreaterThan(500);
    });

    it("asks Ajv about a keyword it does not know rather than guessing", () => {
        expect(surelyValid({type: "string", format: "uri"}, "x")).toBe(false);
        expect(surelyValid({type: "string"}, "x")).toBe(true);
        expect(surelyValid({enum: [{a: 1}]}, {a: 1})).toBe(false);
    });

    it("leaves the wording of a bad file's errors to Ajv", () => {
        expect(() => validateConfigObject({server_port: "80", watchdog: {mode: "x"}}, "f")).toThrow(
            'f: invalid configuration:\n  key "server_port": expected a value of type integer, got "80"\n  key "watchdog.mode": expected one of ["auto","direct","service"], got "x"');
        expect(validateConfigObject({server_port: 80}, "f")).toEqual({server_port: 80});
    });
});
