import type {ModelEntry} from "./types.js";
import {isQuantToken, normalizeName} from "./names.js";
import {conflict, containsWords, modelFacts, nameWithTag, requestFacts, type NameFacts} from "./name-facts.js";
import {closeNames} from "./suggest.js";

export {missHint} from "./suggest.js";

export type Resolution =
    | {kind: "local"; model: ModelEntry; rule: ResolutionRule}
    | {kind: "upstream"; upstream: string; name: string; rule: "upstream"}
    /** `suggestions`: names the user may have meant (typos, or the same model in another size), best first. */
    | {kind: "not_found"; name: string; suggestions: string[]}
    | {kind: "ambiguous"; name: string; candidates: string[]};

export type ResolutionRule = "exact" | "alias" | "ollama" | "normalized" | "prefix" | "fuzzy";

export interface ResolveContext {
    models: readonly ModelEntry[];
    /** Exact model names offered by each upstream (upstream id → names). */
    upstreamNames?: ReadonlyMap<string, ReadonlySet<string>>;
}

/** Longer names are not model names; they are refused before any work is done. */
const MAX_NAME_LENGTH = 512;
const MAX_SUGGESTIONS = 3;

/** Error text listing candidates, so the user can pick one. */
export function ambiguityMessage(name: string, candidates: string[]): string {
    return `model '${name}' is ambiguous: it matches ${candidates.map((c) => `'${c}'`).join(", ")}; use one of these names`;
}

function byName(a: ModelEntry, b: ModelEntry): number {
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/**
 * Quantization siblings count as one model: the bare-named default of a base (`qwen2.5-1.5b-instruct` beside
 * `qwen2.5-1.5b-instruct:q8_0`), else its `:latest`, stands for the group.
 */
function collapseSiblings(models: ModelEntry[]): ModelEntry[] {
    const groups = new Map<string, ModelEntry[]>();
    for (const m of models) {
        const key = m.base_name.toLowerCase();
        const g = groups.get(key);
        if (g) g.push(m);
        else groups.set(key, [m]);
    }
    const out: ModelEntry[] = [];
    for (const g of groups.values()) {
        const bare = g.filter((m) => !m.name.includes(":"));
        const latest = g.filter((m) => m.name.toLowerCase().endsWith(":latest"));
        out.push(...(bare.length === 1 ? bare : latest.length === 1 ? latest : g));
    }
    return out.sort(byName);
}

/** One candidate resolves; several are ambiguous; none lets the next rule try. */
function decide(name: string, matches: ModelEntry[], rule: ResolutionRule): Resolution | null {
    const picked = collapseSiblings([...new Set(matches)]);
    if (picked.length === 1) return {kind: "local", model: picked[0]!, rule};
    if (picked.length > 1) return {kind: "ambiguous", name, candidates: picked.map((m) => m.name)};
    return null;
}

/**
 * `requested` is the start of `candidate` and ends where one of its words ends: `qwen` of `qwen2.5-…`,
 * `qwen2.5-1.5b` of `qwen2.5-1.5b-instruct`, but not `qwen2` of `qwen2.5` nor `deeps` of `deepseek`.
 */
function isWordPrefix(requested: string, candidate: string): boolean {
    if (requested === "" || !candidate.startsWith(requested)) return false;
    if (candidate.length === requested.length) return true;
    const last = requested.at(-1)!;
    const next = candidate[requested.length]!;
    const after = candidate[requested.length + 1] ?? "";
    if (/[\s\-_/:]/.test(next)) return true;
    // a dot separates words (`instruct.q4`) but not the digits of a number (`2.5`)
    if (next === ".") return !(/\d/.test(last) && /\d/.test(after));
    return /[a-z]/.test(last) && /\d/.test(next);
}

/**
 * Resolves a requested name against the index. Names are only compared, never used as paths, so a hostile name
 * matches nothing. Rules, first match wins: exact, alias, exact upstream name, Ollama-style `name:tag`,
 * separator/case-insensitive, then a prefix ending at a word boundary or every requested word present.
 * Every rule after the alias honours what the request says about the model: a size, quantization or family version
 * it names must be the model's, so a loose name never answers from another size. A miss carries suggestions.
 */
export function resolveModelName(requested: string, ctx: ResolveContext): Resolution {
    const name = typeof requested === "string" ? requested.trim() : "";
    if (name === "" || name.length > MAX_NAME_LENGTH || name.includes("\0"))
        return {kind: "not_found", name: String(requested).slice(0, 200), suggestions: []};
    const servable = ctx.models.filter((m) => m.status !== "invalid");

    // exact (an invalid model answers its own name, so the caller can say why it cannot be served)
    const exact = ctx.models.find((m) => m.name === name);
    if (exact) return {kind: "local", model: exact, rule: "exact"};

    // config aliases: a deliberate name, so it is taken as written
    const aliased = servable.filter((m) => m.aliases.includes(name));
    if (aliased.length === 1) return {kind: "local", model: aliased[0]!, rule: "alias"};
    if (aliased.length > 1) return {kind: "ambiguous", name, candidates: aliased.map((m) => m.name).sort()};

    // an exact name on an upstream beats any loose local match
    for (const [upstream, names] of ctx.upstreamNames ?? []) {
        if (names.has(name)) return {kind: "upstream", upstream, name, rule: "upstream"};
        if (!name.includes(":") && names.has(`${name}:latest`)) return {kind: "upstream", upstream, name: `${name}:latest`, rule: "upstream"};
    }

    const wanted = requestFacts(name);
    const factsCache = new Map<ModelEntry, NameFacts>();
    const factsOf = (m: ModelEntry): NameFacts => {
        let f = factsCache.get(m);
        if (!f) factsCache.set(m, (f = modelFacts(m)));
        return f;
    };
    const fitting = servable.filter((m) => conflict(wanted, factsOf(m)) === null);

    // Ollama-style names
    const lower = name.toLowerCase();
    const colon = lower.lastIndexOf(":");
    const hasTag = colon > 0 && !lower.slice(colon + 1).includes("/");
    const rawBase = hasTag ? lower.slice(0, colon) : lower;
    const tag = hasTag ? lower.slice(colon + 1) : "latest";
    // `hf.co/org/Repo-GGUF:Q4_K_M` and `user/model:tag`: the last path segment carries the name
    const lastSegment = rawBase.split("/").at(-1)!;
    const baseForms = [...new Set([rawBase, lastSegment, lastSegment.replace(/[-_.]gguf$/, "")])];
    for (const base of baseForms) {
        let matches: ModelEntry[];
        if (tag === "latest") matches = fitting.filter((m) => m.name.toLowerCase() === base);
        else if (isQuantToken(tag)) {
            matches = fitting.filter((m) => m.base_name.toLowerCase() === base);
            if (matches.length === 0) matches = fitting.filter((m) => normalizeName(m.base_name) === normalizeName(base));
        } else {
            // `qwen2.5:1.5b` → `qwen2.5-1.5b-instruct`: the tag continues the name
            matches = fitting.filter((m) => !m.name.includes(":") && isWordPrefix(`${base}-${tag}`, m.name.toLowerCase()));
        }
        const r = decide(name, matches, "ollama");
        if (r) return r;
    }

    // case- and separator-insensitive, a trailing quantization aside
    const norm = normalizeName(baseForms.at(-1)!);
    if (norm !== "") {
        const r = decide(name, fitting.filter((m) => normalizeName(m.base_name) === norm || normalizeName(m.name) === norm), "normalized");
        if (r) return r;
    }

    // the start of a name up to a word boundary (`qwen` with one Qwen model installed), or every requested word in
    // it (`deepseek-coder` → `deepseek-coder-6.7b-base`); one rule, so a family with two members is never a silent pick
    const prefix = lower.replace(/[\s\-_.:/]+$/, "");
    const shortPrefix = nameWithTag(prefix);
    const byPrefix = (m: ModelEntry) => {
        const full = m.name.toLowerCase();
        return isWordPrefix(prefix, full) || isWordPrefix(shortPrefix, nameWithTag(full));
    };
    const loose = collapseSiblings(fitting.filter((m) => byPrefix(m) || containsWords(wanted, factsOf(m))));
    if (loose.length === 1) return {kind: "local", model: loose[0]!, rule: byPrefix(loose[0]!) ? "prefix" : "fuzzy"};
    if (loose.length > 1) return {kind: "ambiguous", name, candidates: loose.map((m) => m.name)};

    return {kind: "not_found", name, suggestions: suggestionsFor(name, wanted, servable, factsOf, ctx)};
}

/** Close names first (typos), then models that have the requested words but another size, quantization or version. */
function suggestionsFor(name: string, wanted: NameFacts, servable: ModelEntry[], factsOf: (m: ModelEntry) => NameFacts, ctx: ResolveContext): string[] {
    const known = [...servable.map((m) => m.name), ...servable.flatMap((m) => m.aliases)];
    for (const names of ctx.upstreamNames?.values() ?? []) known.push(...names);
    const close = closeNames(name, known, MAX_SUGGESTIONS);
    let near = servable.filter((m) => containsWords(wanted, factsOf(m)));
    // another quantization is only worth naming when the request asked for one
    if (wanted.quants.size === 0) near = collapseSiblings(near);
    return [...new Set([...close, ...near.sort(byName).map((m) => m.name)])].slice(0, MAX_SUGGESTIONS);
}
