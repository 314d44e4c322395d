/**
 * The provider home when neither `--home` nor ZOMBIECODER_HOME names one. A checkout keeps its models, config and
 * logs in the checkout. An installed package (`npm install -g`, or any prefix: the package folder is then inside a
 * node_modules folder) must not: upgrading or removing the package deletes its folder, and with it everything the
 * user put there. So an installed package uses the per-user data folder each OS names for that.
 */
import os from "node:os";
import path from "node:path";

export interface HomeContext {
    /** The package's top folder (the checkout, or the installed package). */
    packageRoot: string;
    platform: NodeJS.Platform;
    env: NodeJS.ProcessEnv;
    /** The user's home folder, for when the environment does not name the data folder. */
    userHome?: string;
}

function pathFor(platform: NodeJS.Platform): path.PlatformPath {
    return platform === "win32" ? path.win32 : path.posix;
}

/** Windows environment names are case-insensitive; an injected env object is not, so look the name up that way. */
function envValue(env: NodeJS.ProcessEnv, name: string, platform: NodeJS.Platform): string | undefined {
    const key = platform === "win32" ? Object.keys(env).find((k) => k.toLowerCase() === name.toLowerCase()) : name;
    const value = key == null ? undefined : env[key];
    return value != null && value.trim() !== "" ? value : undefined;
}

/** True when the package runs from an installed copy: some folder above it is a node_modules folder. */
export function isInstalledPackage(packageRoot: string, platform: NodeJS.Platform): boolean {
    const parts = pathFor(platform).resolve(packageRoot).split(/[\\/]+/);
    return parts.some((part) => (platform === "win32" || platform === "darwin" ? part.toLowerCase() : part) === "node_modules");
}

/**
 * The per-user folder an installed package keeps its home in: `%LOCALAPPDATA%\ZombieCoder` on Windows,
 * `~/Library/Application Support/ZombieCoder` on macOS, `${XDG_DATA_HOME:-~/.local/share}/zombiecoder` elsewhere.
 */
export function userDataHome(ctx: Omit<HomeContext, "packageRoot">): string {
    const p = pathFor(ctx.platform);
    const userHome = () => ctx.userHome ?? os.homedir();
    if (ctx.platform === "win32") {
        const local = envValue(ctx.env, "LOCALAPPDATA", "win32");
        if (local && p.isAbsolute(local)) return p.join(local, "ZombieCoder");
        const profile = envValue(ctx.env, "USERPROFILE", "win32") ?? userHome();
        return p.join(profile, "AppData", "Local", "ZombieCoder");
    }
    const home = envValue(ctx.env, "HOME", ctx.platform) ?? userHome();
    if (ctx.platform === "darwin") return p.join(home, "Library", "Application Support", "ZombieCoder");
    // the XDG spec says a relative XDG_DATA_HOME is invalid and is ignored
    const xdg = envValue(ctx.env, "XDG_DATA_HOME", ctx.platform);
    return p.join(xdg && p.isAbsolute(xdg) ? xdg : p.join(home, ".local", "share"), "zombiecoder");
}

/**
 * The per-user cache folder: `%LOCALAPPDATA%\ZombieCoder\Cache` on Windows, `~/Library/Caches/ZombieCoder` on macOS,
 * `${XDG_CACHE_HOME:-~/.cache}/zombiecoder` elsewhere. Unlike the OS's temporary folder it survives a restart, so a
 * service started at boot finds what its runners learnt before (the binary test's verdict, the chat wrappers).
 */
export function userCacheDir(ctx: Omit<HomeContext, "packageRoot">): string {
    const p = pathFor(ctx.platform);
    if (ctx.platform === "win32") return p.join(userDataHome(ctx), "Cache");
    const home = envValue(ctx.env, "HOME", ctx.platform) ?? ctx.userHome ?? os.homedir();
    if (ctx.platform === "darwin") return p.join(home, "Library", "Caches", "ZombieCoder");
    const xdg = envValue(ctx.env, "XDG_CACHE_HOME", ctx.platform);
    return p.join(xdg && p.isAbsolute(xdg) ? xdg : p.join(home, ".cache"), "zombiecoder");
}

/** The default home: the checkout itself, or for an installed package the per-user data folder. */
export function defaultHome(ctx: HomeContext): string {
    return isInstalledPackage(ctx.packageRoot, ctx.platform) ? userDataHome(ctx) : pathFor(ctx.platform).resolve(ctx.packageRoot);
}
