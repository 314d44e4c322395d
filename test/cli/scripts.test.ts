/**
 * Every npm script must run the same under the shells npm uses: sh on Linux and macOS, cmd.exe on Windows (npm's
 * default script-shell there; PowerShell only when a user configures it).
 *
 * The rule, and why:
 * - A script is one or more commands joined by `&&`, each starting with `node`, `tsx`, `tsc`, `vitest` or
 *   `npm run <script>`. Those are programs npm puts on PATH on every OS; anything more involved goes in a small
 *   .mjs/.ts file that the script runs with node.
 * - `&&` is allowed: sh and cmd.exe both run the right side only when the left side succeeded. Windows PowerShell
 *   5.1 lacks it, but npm never runs scripts with PowerShell unless told to, and PowerShell 7 has it.
 * - Not allowed, because at least one of the shells reads it differently:
 *   - single quotes: cmd.exe passes them through as part of the argument;
 *   - `VAR=value cmd` prefixes: cmd.exe has no such syntax;
 *   - `$VAR`, `${VAR}`, `%VAR%`: each shell expands only its own form;
 *   - `;`, `|`, `||`, a lone `&`, `<`, `>`, backticks, `$(…)`: separators, pipes, redirections and substitutions differ
 *     (a lone `&` runs in the background in sh and sequentially in cmd.exe; `;` is no separator in cmd.exe; `||`
 *     agrees in both but is never needed by a script that only runs one tool);
 *   - unquoted globs (`*`, `?`): sh expands them, cmd.exe passes them on (tools that take patterns get them quoted);
 *   - backslashes: an escape in sh, a path separator in cmd.exe (node accepts `/` everywhere);
 *   - POSIX tools (`rm`, `cp`, `mv`, `mkdir`, `cat`, `echo`…): not on Windows.
 */
import fs from "node:fs";
import path from "node:path";
import {describe, expect, it} from "vitest";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const ALLOWED_PROGRAMS = new Set(["node", "tsx", "tsc", "vitest"]);
const POSIX_TOOLS = new Set(["rm", "cp", "mv", "mkdir", "cat", "echo", "ls", "touch", "chmod", "sed", "grep", "test", "export", "cd", "true", "false", "sh", "bash", "env"]);

/** What is wrong with one npm script for cmd.exe or sh, or an empty list when it is portable. */
function scriptProblems(script: string): string[] {
    const problems: string[] = [];
    if (script.includes("'")) problems.push("single quotes (cmd.exe keeps them as part of the argument)");
    if (/\$\{?[A-Za-z_]|%[A-Za-z_]+%/.test(script)) problems.push("an environment variable reference (each shell expands only its own form)");
    if (/\$\(|`/.test(script)) problems.push("command substitution");
    if (script.includes("\\")) problems.push("a backslash (an escape in sh, a path separator in cmd.exe)");
    if (/\|\|/.test(script)) problems.push("`||`");
    if (/(^|[^&])&([^&]|$)/.test(script)) problems.push("a lone `&` (background in sh, a separator in cmd.exe)");
    if (/[;|<>]/.test(script.replace(/\|\|/g, ""))) problems.push("a separator, pipe or redirection (`;`, `|`, `<`, `>`)");
    // globs outside double quotes
    if (/[*?]/.test(script.replace(/"[^"]*"/g, ""))) problems.push("an unquoted glob (sh expands it, cmd.exe does not)");
    for (const command of script.split("&&").map((c) => c.trim())) {
        const words = command.split(/\s+/).filter((w) => w !== "");
        const first = words[0] ?? "";
        if (first === "") problems.push("an empty command around `&&`");
        else if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(first)) problems.push(`an environment prefix (${first}): cmd.exe has no such syntax`);
        else if (POSIX_TOOLS.has(first)) problems.push(`the POSIX tool ${first}, which Windows lacks`);
        else if (first === "npm") {
            if (words[1] !== "run" || words[2] === undefined) problems.push(`"${command}": only \`npm run <script>\` may call npm`);
        } else if (!ALLOWED_PROGRAMS.has(first)) problems.push(`"${first}" is not one of node, tsx, tsc, vitest or npm run`);
    }
    return [...new Set(problems)];
}

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as {scripts: Record<string, string>; bin?: Record<string, string>};

describe("npm scripts run under sh and cmd.exe alike", () => {
    it.each(Object.entries(pkg.scripts))("%s: %s", (_name, script) => {
        expect(scriptProblems(script)).toEqual([]);
    });

    it("every file a script runs with node, and every bin, is in the checkout (sources) or made by the build (dist/)", () => {
        const files = [...Object.values(pkg.scripts).flatMap((s) => s.split("&&").map((c) => c.trim().split(/\s+/)))
            .filter((w) => w[0] === "node" || w[0] === "tsx").map((w) => w.slice(1).find((a) => !a.startsWith("-"))!), ...Object.values(pkg.bin ?? {})];
        for (const f of files) {
            const source = f.startsWith("dist/") ? f.replace(/^dist\//, "src/").replace(/\.js$/, ".ts") : f;
            expect(fs.existsSync(path.join(ROOT, source)), `${f} (from ${source})`).toBe(true);
        }
    });
});

describe("the rule catches what would break", () => {
    it.each([
        ["rm -rf dist && tsc", /POSIX tool rm/],
        ["NODE_ENV=production node dist/cli/start.js", /environment prefix/],
        ["node -e 'console.log(1)'", /single quotes/],
        ["node dist/cli/start.js --home $HOME", /environment variable/],
        ["node dist/cli/start.js --home %USERPROFILE%", /environment variable/],
        ["tsc; vitest run", /separator/],
        ["vitest run > out.txt", /redirection/],
        ["node a.js & node b.js", /lone `&`/],
        ["node a.js || node b.js", /`\|\|`/],
        ["vitest run test/*.test.ts", /unquoted glob/],
        ["node scripts\\build.mjs", /backslash/],
        ["npx vitest", /not one of/],
        ["npm test", /only `npm run <script>`/]
    ])("%s", (script, problem) => {
        expect(scriptProblems(script).join("; ")).toMatch(problem);
    });

    it("and lets portable scripts through", () => {
        for (const ok of ["node dist/cli/start.js", "npm run typecheck && vitest run", "tsc --noEmit -p tsconfig.json", "vitest run \"test/**/*.test.ts\""])
            expect(scriptProblems(ok), ok).toEqual([]);
    });
});
