/** The shared argument parser, in process: what each kind of mistake is called, and what a good line parses to. */
import {describe, expect, it} from "vitest";
import {CONFIG_OPTIONS, formatUsageError, parseCli, UsageError} from "../../src/cli/args.js";

const USAGE = "usage: test [options]";
const spec = {
    usage: USAGE,
    options: {...CONFIG_OPTIONS, json: {type: "boolean"}, approve: {type: "string", multiple: true}, yes: {type: "boolean", short: "y"}},
    positionals: {min: 0, max: 1, name: "action"}
} as const;

function usageError(argv: string[]): string {
    try {
        parseCli(spec, argv);
    } catch (err) {
        expect(err).toBeInstanceOf(UsageError);
        expect((err as UsageError).usage).toBe(USAGE);
        return (err as UsageError).message;
    }
    throw new Error(`expected a usage error for ${JSON.stringify(argv)}`);
}

describe("parseCli", () => {
    it("parses options, inline values, repeats and a positional", () => {
        const r = parseCli(spec, ["install", "--home", "/h", "--config=/c.json", "--json", "--approve", "a", "--approve=b", "-y"]);
        expect(r).toEqual({help: false, positionals: ["install"], values: {home: "/h", config: "/c.json", json: true, approve: ["a", "b"], yes: true}});
    });

    it("takes anything after -- as a positional, even when it looks like a flag", () => {
        expect(parseCli(spec, ["--", "--bogus"])).toEqual({help: false, positionals: ["--bogus"], values: {}});
    });

    it("answers help for --help and -h, also next to mistakes", () => {
        for (const argv of [["--help"], ["-h"], ["--bogus", "--help"], ["-yh"], ["--home", "/h", "extra", "more", "-h"]])
            expect(parseCli(spec, argv)).toEqual({help: true});
        // after the terminator it is an argument, not a request for help
        expect(parseCli(spec, ["--", "--help"])).toEqual({help: false, positionals: ["--help"], values: {}});
    });

    it("names an unknown long or short option", () => {
        expect(usageError(["--bogus"])).toBe("unknown option --bogus");
        expect(usageError(["-x"])).toBe("unknown option -x");
        expect(usageError(["-yx"])).toBe("unknown option -x");
        expect(usageError(["--no-json"])).toBe("unknown option --no-json");
    });

    it("says when a value is missing, empty, or swallowed a flag", () => {
        expect(usageError(["--home"])).toBe("--home needs a value");
        expect(usageError(["--home="])).toBe("--home needs a value");
        expect(usageError(["--approve", "a", "--approve="])).toBe("--approve needs a value");
        expect(usageError(["--home", "--json"])).toMatch(/^--home needs a value \(got the option --json; to pass a value that starts with "-", write --home=--json\)$/);
    });

    it("says when a boolean flag is given a value", () => {
        expect(usageError(["--json=yes"])).toBe("--json takes no value");
    });

    it("counts positionals", () => {
        expect(usageError(["install", "extra"])).toBe("unexpected argument \"extra\": expected at most 1 action");
        const none = {usage: USAGE, options: CONFIG_OPTIONS};
        expect(() => parseCli(none, ["models"])).toThrow("unexpected argument \"models\": this command takes options only");
        const one = {usage: USAGE, options: {}, positionals: {min: 1, max: 1, name: "model to download"}};
        expect(() => parseCli(one, [])).toThrow("missing model to download");
    });

    it("formats an error as the message, a blank line and the usage", () => {
        expect(formatUsageError(new UsageError("unknown option --bogus", USAGE))).toBe(`error: unknown option --bogus\n\n${USAGE}\n`);
    });
});
