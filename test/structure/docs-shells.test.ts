/**
 * Windows users are first-class readers: a shell example that only works in a POSIX shell (an `export`, a `$(...)`,
 * a single-quoted JSON body, a `\` line continuation, or an `npm run X -- options` whose `--` PowerShell removes)
 * must come with its PowerShell twin next to it. Sections about Linux or macOS (systemd, launchd) are POSIX by
 * nature, and performance.md documents benchmarks run on Linux.
 */
import fs from "node:fs";
import path from "node:path";
import {describe, expect, it} from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const POSIX_SECTION = /\b(linux|macos|systemd|launchd)\b/i;
const EXEMPT_FILES = new Set(["documentation/performance.md"]);

/** What cmd.exe or PowerShell reads differently, one reason per pattern. */
const POSIX_ONLY: Array<[RegExp, string]> = [
    [/^\s*export\s+\w+=/, "export"],
    [/\$\(/, "$(...)"],
    [/^\s*[A-Z_]+=\S/, "a VAR=value prefix"],
    [/'\{/, "single-quoted JSON"],
    [/\\\s*$/, "a \\ line continuation"],
    [/\bnpm run [\w-]+ -- /, "npm run X -- (PowerShell drops a bare --)"]
];

interface Block {
    line: number;
    endLine: number;
    lang: string;
    body: string[];
    heading: string;
}

function docFiles(): string[] {
    const out = ["README.md"];
    const walk = (dir: string) => {
        for (const e of fs.readdirSync(path.join(ROOT, dir), {withFileTypes: true})) {
            const rel = path.posix.join(dir, e.name);
            if (e.isDirectory()) walk(rel);
            else if (e.name.endsWith(".md")) out.push(rel);
        }
    };
    walk("documentation");
    return out;
}

export function codeBlocks(text: string): Block[] {
    const lines = text.split(/\r?\n/);
    const blocks: Block[] = [];
    // the headings above the line, outermost first: "### Uninstall" under "## Linux (systemd)" is a Linux section
    const headings: string[] = [];
    for (let i = 0; i < lines.length; i++) {
        const h = /^(#{1,6})\s+(.*)$/.exec(lines[i]);
        if (h) {
            headings.length = h[1].length - 1;
            headings[h[1].length - 1] = h[2];
        }
        const heading = headings.filter((x) => x != null).join(" > ");
        const fence = /^```(\w*)/.exec(lines[i]);
        if (!fence) continue;
        let j = i + 1;
        while (j < lines.length && !lines[j].startsWith("```")) j++;
        blocks.push({line: i + 1, endLine: j + 1, lang: fence[1], body: lines.slice(i + 1, j), heading});
        i = j;
    }
    return blocks;
}

/** `file:line: reason` for every POSIX-only shell block without a PowerShell block beside it. */
export function missingTwins(file: string, text: string): string[] {
    const blocks = codeBlocks(text);
    const isPowerShell = (b: Block | undefined) => b != null && ["powershell", "pwsh", "ps1"].includes(b.lang);
    const problems: string[] = [];
    blocks.forEach((b, k) => {
        if (!["sh", "bash", "shell"].includes(b.lang) || POSIX_SECTION.test(b.heading)) return;
        const reasons = POSIX_ONLY.filter(([re]) => b.body.some((l) => re.test(l))).map(([, why]) => why);
        if (reasons.length === 0) return;
        const next = blocks[k + 1];
        const prev = blocks[k - 1];
        const twin = (isPowerShell(next) && next.line - b.endLine <= 8) || (isPowerShell(prev) && b.line - prev.endLine <= 8);
        if (!twin) problems.push(`${file}:${b.line}: ${reasons.join(", ")}`);
    });
    return problems;
}

describe("documentation shell examples", () => {
    it("finds a POSIX-only block without a twin, and accepts one with it (the rule can fail)", () => {
        const lone = "# Use\n\n```sh\nexport KEY=1\n```\n";
        expect(missingTwins("x.md", lone)).toEqual(["x.md:3: export"]);
        const twinned = lone + "\n```powershell\n$env:KEY = 1\n```\n";
        expect(missingTwins("x.md", twinned)).toEqual([]);
        expect(missingTwins("x.md", "## Linux (systemd)\n\n### Uninstall\n\n```sh\nexport KEY=1\n```\n")).toEqual([]);
        expect(missingTwins("x.md", "```sh\nnpm run setup -- --resume\n```\n")).toEqual(["x.md:1: npm run X -- (PowerShell drops a bare --)"]);
        expect(missingTwins("x.md", "```sh\nnpm start\n```\n")).toEqual([]);
    });

    it("every POSIX-only example outside Linux and macOS sections has a PowerShell twin", () => {
        const problems = docFiles()
            .filter((f) => !EXEMPT_FILES.has(f))
            .flatMap((f) => missingTwins(f, fs.readFileSync(path.join(ROOT, f), "utf8")));
        expect(problems).toEqual([]);
    });
});
