/**
 * How a message tells the user to run one of our commands with options. `npm run setup -- --resume` works in bash,
 * zsh and cmd.exe, but PowerShell removes a bare `--` before npm sees it (npm/cli#4903), and npm then takes the
 * options as its own; quoting it (`'--'`) breaks cmd.exe instead. `npx zombiecoder setup --resume` needs no `--`
 * in any shell, so on Windows, where PowerShell is the default terminal, messages name that form.
 */
export type Script = "setup" | "service" | "pull" | "audit" | "watchdog" | "scan";

export function commandHint(script: Script, args = "", platform: NodeJS.Platform = process.platform): string {
    const rest = args.trim();
    if (platform === "win32") return rest === "" ? `npx zombiecoder ${script}` : `npx zombiecoder ${script} ${rest}`;
    return rest === "" ? `npm run ${script}` : `npm run ${script} -- ${rest}`;
}
