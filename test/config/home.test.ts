/** The default provider home: the checkout for a checkout, a per-user folder for an installed package. */
import path from "node:path";
import {describe, expect, it} from "vitest";
import {defaultProviderHome, loadConfig, projectRoot} from "../../src/config/load.js";
import {defaultHome, isInstalledPackage, userDataHome} from "../../src/config/home.js";

const WIN_PACKAGE = "C:\\Users\\Jane\\AppData\\Roaming\\npm\\node_modules\\zombiecoder-provider";

describe("default provider home", () => {
    it("an installed package on Windows uses %LOCALAPPDATA%\\ZombieCoder, never the package folder", () => {
        const home = defaultHome({packageRoot: WIN_PACKAGE, platform: "win32", env: {LOCALAPPDATA: "C:\\Users\\Jane\\AppData\\Local"}});
        expect(home).toBe("C:\\Users\\Jane\\AppData\\Local\\ZombieCoder");
        expect(path.win32.relative(WIN_PACKAGE, home).startsWith("..")).toBe(true);
        // Windows spells the variable any way it likes; the lookup ignores case
        expect(defaultHome({packageRoot: WIN_PACKAGE, platform: "win32", env: {LocalAppData: "D:\\Local"}})).toBe("D:\\Local\\ZombieCoder");
    });

    it("without LOCALAPPDATA it falls back to %USERPROFILE%\\AppData\\Local\\ZombieCoder", () => {
        expect(defaultHome({packageRoot: WIN_PACKAGE, platform: "win32", env: {USERPROFILE: "C:\\Users\\Jane"}}))
            .toBe("C:\\Users\\Jane\\AppData\\Local\\ZombieCoder");
        expect(defaultHome({packageRoot: WIN_PACKAGE, platform: "win32", env: {LOCALAPPDATA: "relative\\path", USERPROFILE: "C:\\Users\\Jane"}}))
            .toBe("C:\\Users\\Jane\\AppData\\Local\\ZombieCoder");
    });

    it("macOS and Linux use the user's data folder, XDG_DATA_HOME when it is absolute", () => {
        const pkg = "/usr/local/lib/node_modules/zombiecoder-provider";
        expect(defaultHome({packageRoot: pkg, platform: "darwin", env: {HOME: "/Users/jane"}})).toBe("/Users/jane/Library/Application Support/ZombieCoder");
        expect(defaultHome({packageRoot: pkg, platform: "linux", env: {HOME: "/home/jane"}})).toBe("/home/jane/.local/share/zombiecoder");
        expect(defaultHome({packageRoot: pkg, platform: "linux", env: {HOME: "/home/jane", XDG_DATA_HOME: "/data/jane"}})).toBe("/data/jane/zombiecoder");
        expect(defaultHome({packageRoot: pkg, platform: "linux", env: {HOME: "/home/jane", XDG_DATA_HOME: "rel"}})).toBe("/home/jane/.local/share/zombiecoder");
        expect(userDataHome({platform: "linux", env: {}, userHome: "/home/x"})).toBe("/home/x/.local/share/zombiecoder");
    });

    it("a checkout keeps its home in the checkout", () => {
        expect(defaultHome({packageRoot: "C:\\src\\zombiecoder", platform: "win32", env: {LOCALAPPDATA: "C:\\L"}})).toBe("C:\\src\\zombiecoder");
        expect(defaultHome({packageRoot: "/home/jane/zombiecoder", platform: "linux", env: {HOME: "/home/jane"}})).toBe("/home/jane/zombiecoder");
        // a folder merely named like one is not node_modules
        expect(isInstalledPackage("/home/jane/my_node_modules_notes/zc", "linux")).toBe(false);
        expect(isInstalledPackage("/tmp/prefix/lib/node_modules/zombiecoder-provider", "linux")).toBe(true);
        expect(isInstalledPackage("C:\\prefix\\Node_Modules\\zombiecoder-provider", "win32")).toBe(true);
    });

    it("this checkout's configuration defaults to the checkout, and ZOMBIECODER_HOME still wins", () => {
        expect(defaultProviderHome({})).toBe(projectRoot);
        expect(loadConfig({env: {ZOMBIECODER_HOME: path.join(projectRoot, "somewhere")}}).home).toBe(path.join(projectRoot, "somewhere"));
    });
});
