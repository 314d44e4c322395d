import {describe, expect, it} from "vitest";
import {commandHint} from "../../src/command-hint.js";

describe("commandHint", () => {
    it("names npm run with -- on POSIX shells", () => {
        expect(commandHint("setup", "--resume", "linux")).toBe("npm run setup -- --resume");
        expect(commandHint("service", "install --watchdog", "darwin")).toBe("npm run service -- install --watchdog");
        expect(commandHint("setup", "", "linux")).toBe("npm run setup");
    });

    it("names the zombiecoder command on Windows, where PowerShell drops a bare --", () => {
        expect(commandHint("setup", "--resume", "win32")).toBe("npx zombiecoder setup --resume");
        expect(commandHint("service", "install", "win32")).toBe("npx zombiecoder service install");
        expect(commandHint("pull", "", "win32")).toBe("npx zombiecoder pull");
        expect(commandHint("setup", "--resume", "win32")).not.toContain(" -- ");
    });
});
