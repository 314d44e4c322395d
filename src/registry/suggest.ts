/**
 * "Did you mean" for model names that match nothing, and the text that tells the user what is installed.
 * A close name is only ever suggested, never served: a typo of one size may well be another size.
 */
import {normalizeName} from "./names.js";
import {commandHint} from "../command-hint.js";

/** Names longer than this are not compared (edit distance is quadratic, and no model name is that long). */
const MAX_COMPARED_LENGTH = 256;
/** Installed models listed in a miss; the rest are counted. */
export const MAX_LISTED = 20;
const MAX_SUGGESTIONS = 3;

/** Optimal-string-alignment distance (swapping two neighbours is one edit); anything above `max` returns `max + 1`. */
export function editDistance(a: string, b: string, max: number): number {
    if (Math.abs(a.length - b.length) > max) return max + 1;
    let prev2: number[] = [];
    let prev: number[] = Array.from({length: b.length + 1}, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        const cur: number[] = [i];
        let rowMin = i;
        for (let j = 1; j <= b.length; j++) {
            const cost = a[i - 1] === b[j - 1] ? 0 : 1;
            let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
            if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2]! + 1);
            cur.push(d);
            rowMin = Math.min(rowMin, d);
        }
        if (rowMin > max) return max + 1;
        prev2 = prev;
        prev = cur;
    }
    return Math.min(prev[b.length]!, max + 1);
}

/** How many edits still count as a typo of a name this long: none for very short names, at most three. */
export function typoBudget(length: number): number {
    if (length <= 3) return 0;
    if (length <= 5) return 1;
    if (length <= 10) return 2;
    return 3;
}

function forms(name: string): string[] {
    const lower = name.toLowerCase().trim();
    return [...new Set([lower, lower.replace(/:latest$/, ""), normalizeName(lower)])].filter((f) => f !== "");
}

/** The distance between two names as the user sees them: case, `:latest` and separators aside. */
function nameDistance(requested: string, candidate: string, budget: number): number {
    let best = budget + 1;
    for (const r of forms(requested)) for (const c of forms(candidate)) best = Math.min(best, editDistance(r, c, budget));
    return best;
}

/** Names within a typo's distance of `requested`, closest first (ties by name). */
export function closeNames(requested: string, names: readonly string[], limit = MAX_SUGGESTIONS): string[] {
    if (typeof requested !== "string" || requested.length > MAX_COMPARED_LENGTH || requested.trim() === "") return [];
    const budget = typoBudget(requested.trim().length);
    const scored: Array<{name: string; d: number}> = [];
    for (const name of new Set(names)) {
        if (name.length > MAX_COMPARED_LENGTH) continue;
        const d = nameDistance(requested, name, budget);
        if (d <= budget) scored.push({name, d});
    }
    scored.sort((a, b) => a.d - b.d || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return scored.slice(0, limit).map((s) => s.name);
}

function quoted(names: readonly string[]): string {
    return names.map((n) => `'${n}'`).join(", ");
}

/**
 * The helpful part of a "model not found" message: a "did you mean" when a name is close, then the installed models
 * (at most MAX_LISTED). `suggestions` (e.g. from a resolution) replaces the edit-distance search when given.
 * Callers put it after Ollama's own text, which clients parse: `model 'NAME' not found; <hint>`.
 */
export function missHint(requested: string, installedNames: readonly string[], suggestions?: readonly string[]): string {
    const installed = [...new Set(installedNames)].sort();
    if (installed.length === 0)
        return "no models are installed: copy a .gguf file into the models folder (models_dir) or download one with "
            + `\`${commandHint("pull", "hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M")}\` (or POST /download/start); it is found on the next request`;
    const close = (suggestions ?? closeNames(requested, installed)).slice(0, MAX_SUGGESTIONS);
    const parts: string[] = [];
    if (close.length > 0) parts.push(`did you mean ${close.map((n) => `'${n}'`).join(" or ")}?`);
    const listed = installed.slice(0, MAX_LISTED);
    const more = installed.length - listed.length;
    parts.push(`installed models: ${quoted(listed)}${more > 0 ? ` and ${more} more (GET /api/tags lists them all)` : ""}`);
    return parts.join(" ");
}
