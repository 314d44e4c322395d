/**
 * Quoting for the places a path with spaces (`C:\Program Files\nodejs\node.exe`) ends up:
 * a Windows command line (NSSM's AppParameters), a systemd unit and a launchd plist.
 */

/**
 * Quotes one argument so that CommandLineToArgvW / the MSVC runtime parse it back unchanged.
 * Backslashes are literal unless they precede a quote, so only those runs (and a trailing run) are doubled.
 */
export function quoteWindowsArg(arg: string): string {
    if (arg !== "" && !/[\s"]/.test(arg)) return arg;
    let out = "\"";
    let backslashes = 0;
    for (const ch of arg) {
        if (ch === "\\") {
            backslashes++;
            continue;
        }
        if (ch === "\"") {
            out += "\\".repeat(backslashes * 2 + 1) + "\"";
        } else {
            out += "\\".repeat(backslashes) + ch;
        }
        backslashes = 0;
    }
    return out + "\\".repeat(backslashes * 2) + "\"";
}

export function joinWindowsArgs(args: readonly string[]): string {
    return args.map(quoteWindowsArg).join(" ");
}

/** Shell-style quoting, used only to display POSIX commands in a plan (they are never run through a shell). */
export function quotePosixArg(arg: string): string {
    if (arg !== "" && /^[A-Za-z0-9_\-./:=,@+%]+$/.test(arg)) return arg;
    return `'${arg.replace(/'/g, "'\\''")}'`;
}

/** systemd expands `%` specifiers in most settings; a literal percent is written `%%`. */
export function escapeSystemdSpecifiers(value: string): string {
    return value.replace(/%/g, "%%");
}

/**
 * One word of a systemd command line (ExecStart=) or a quoted Environment= assignment:
 * C-style escapes inside double quotes, `%%` for specifiers and, for command lines, `$$` for a literal dollar.
 * The executable word is always an absolute path here, so the `-`/`@`/`+` prefixes cannot be triggered by accident.
 */
export function quoteSystemdWord(value: string, opts: {commandLine: boolean}): string {
    let v = escapeSystemdSpecifiers(value);
    if (opts.commandLine) v = v.replace(/\$/g, "$$$$");
    if (/^[A-Za-z0-9_\-./:=,@+%$]+$/.test(v)) return v;
    return `"${v.replace(/\\/g, "\\\\").replace(/"/g, "\\\"")}"`;
}

export function xmlEscape(value: string): string {
    return value
        .replace(/&/g, "&amp;")
        .replace(/</g, "&lt;")
        .replace(/>/g, "&gt;")
        .replace(/"/g, "&quot;")
        .replace(/'/g, "&apos;");
}
