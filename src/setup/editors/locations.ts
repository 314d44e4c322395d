/**
 * Where each editor or agent keeps the settings setup edits, and whether it is installed for this user, on Windows,
 * macOS and Linux. Everything goes through a SystemProbe (the OS, the environment, a file-exists check), so the Windows
 * paths are worked out with path.win32 and tested on any machine.
 */
import {envGet, findOnPath, pathFor, type SystemProbe} from "../../service/probe.js";

export const EDITOR_IDS = ["continue", "zed", "codex", "claude-code", "aider"] as const;
export type EditorId = typeof EDITOR_IDS[number];

export function isEditorId(v: string): v is EditorId {
    return (EDITOR_IDS as readonly string[]).includes(v);
}

function home(probe: SystemProbe): string {
    return (probe.os === "windows" ? envGet(probe.env, "USERPROFILE", probe.os) : envGet(probe.env, "HOME", probe.os)) || probe.homeDir;
}

/** The settings file setup writes for `id`. */
export function editorConfigFile(id: EditorId, probe: SystemProbe): string {
    const p = pathFor(probe.os);
    const h = home(probe);
    const env = (k: string) => envGet(probe.env, k, probe.os) || null;
    switch (id) {
        case "continue":
            return p.join(env("CONTINUE_GLOBAL_DIR") ?? p.join(h, ".continue"), "config.yaml");
        case "zed":
            // Zed keeps ~/.config/zed on macOS too; on Windows it follows %APPDATA%.
            if (probe.os === "windows") return p.join(env("APPDATA") ?? p.join(h, "AppData", "Roaming"), "Zed", "settings.json");
            return p.join(probe.os === "linux" ? env("XDG_CONFIG_HOME") ?? p.join(h, ".config") : p.join(h, ".config"), "zed", "settings.json");
        case "codex":
            return p.join(env("CODEX_HOME") ?? p.join(h, ".codex"), "config.toml");
        case "claude-code":
            return p.join(env("CLAUDE_CONFIG_DIR") ?? p.join(h, ".claude"), "settings.json");
        case "aider":
            return p.join(h, ".aider.conf.yml");
    }
}

/** The programs each one is started with, looked up on PATH. */
const PROGRAMS: Record<EditorId, string[]> = {
    "continue": [],
    "zed": ["zed", "zeditor"],
    "codex": ["codex"],
    "claude-code": ["claude"],
    "aider": ["aider"]
};

/**
 * How it was found (its settings file or folder, its program on PATH), or null when it is not installed. Continue
 * has no program of its own: its VS Code or JetBrains extension makes ~/.continue the first time it runs.
 */
export function detectEditor(id: EditorId, probe: SystemProbe): string | null {
    const p = pathFor(probe.os);
    const file = editorConfigFile(id, probe);
    if (probe.exists(file)) return `${file} exists`;
    const dir = p.dirname(file);
    if (id !== "aider" && probe.exists(dir)) return `${dir} exists`;
    for (const prog of PROGRAMS[id]) {
        const found = findOnPath(prog, probe);
        if (found) return `${found} is on PATH`;
    }
    return null;
}
