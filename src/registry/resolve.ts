import type {ModelEntry} from "./types.js";
import {isQuantToken, nameTokens, normalizeName} from "./names.js";

export type Resolution =
    | {kind: "local"; model: ModelEntry; rule: ResolutionRule}
    | {kind: "upstream"; upstream: string; name: string; rule: "upstream"}
    | {kind: "not_found"; name: string}
    | {kind: "ambiguous"; name: string; candidates: string[]};

export type ResolutionRule = "exact" | "alias" | "ollama" | "normalized" | "fuzzy";

export interface ResolveContext {
    models: readonly ModelEntry[];
    /** Exact model names offered by each upstream (upstream id → names). */
    upstreamNames?: ReadonlyMap<string, ReadonlySet<string>>;
    /** Minimum token-overlap score (0..1) for the last rule. */
    fuzzyThreshold?: number;
}

/** Longer names are not model names; they are refused before any work is done. */
const MAX_NAME_LENGTH = 512;

/** Error text listing candidates, so the user can pick one. */
export function ambiguityMessage(name: string, candidates: string[]): string {
    return `model '${name}' is ambiguous: it matches ${candidates.map((c) => `'${c}'`).join(", ")}; use one of these names`;
}

function tokenScore(a: string[], b: string[]): number {
    const sa = new Set(a);
    const sb = new Set(b);
    let common = 0;
    for (const t of sa) if (sb.has(t)) common++;
    return common / new Set([...sa, ...sb]).size;
}

function unique<T>(items: T[]): T[] {
    return [...new Set(items)];
}

/**
 * Resolves a requested model name against the index. Names are only compared, never used as paths,
 * so a hostile name matches nothing. Rules, first match wins: exact, alias, exact upstream name,
 * Ollama-style `name:tag`, separator/case/quantization-insensitive, then best token overlap.
 */
export function resolveModelName(requested: string, ctx: ResolveContext): Resolution {
    const name = typeof requested === "string" ? requested.trim() : "";
    if (name === "" || name.length > MAX_NAME_LENGTH || name.includes("\0")) return {kind: "not_found", name: String(requested).slice(0, 200)};
    const servable = ctx.models.filter((m) => m.status !== "invalid");

    // 1. exact (an invalid model answers its own name, so the caller can say why it cannot be served)
    const exact = ctx.models.find((m) => m.name === name);
    if (exact) return {kind: "local", model: exact, rule: "exact"};

    // 2. alias (config aliases)
    const aliased = servable.filter((m) => m.aliases.includes(name));
    if (aliased.length === 1) return {kind: "local", model: aliased[0]!, rule: "alias"};
    if (aliased.length > 1) return {kind: "ambiguous", name, candidates: aliased.map((m) => m.name)};

    // 3. an exact name on an upstream beats any fuzzy local match
    for (const [upstream, names] of ctx.upstreamNames ?? []) {
        if (names.has(name)) return {kind: "upstream", upstream, name, rule: "upstream"};
        if (!name.includes(":") && names.has(`${name}:latest`)) return {kind: "upstream", upstream, name: `${name}:latest`, rule: "upstream"};
    }

    // 4. Ollama-style names
    const lower = name.toLowerCase();
    const colon = lower.lastIndexOf(":");
    const hasTag = colon > 0 && !lower.slice(colon + 1).includes("/");
    const rawBase = hasTag ? lower.slice(0, colon) : lower;
    const tag = hasTag ? lower.slice(colon + 1) : "latest";
    // `hf.co/org/Repo-GGUF:Q4_K_M` and `user/model:tag`: the last path segment carries the name
    const baseForms = unique([rawBase, rawBase.split("/").at(-1)!, rawBase.split("/").at(-1)!.replace(/[-_.]gguf$/, "")]);
    const ollamaMatches: ModelEntry[] = [];
    for (const base of baseForms) {
        if (tag === "latest") {
            ollamaMatches.push(...servable.filter((m) => m.name.toLowerCase() === base));
        } else if (isQuantToken(tag)) {
            ollamaMatches.push(...servable.filter((m) => m.base_name.toLowerCase() === base && m.quant_tag === tag));
            if (ollamaMatches.length === 0)
                ollamaMatches.push(...servable.filter((m) => normalizeName(m.base_name) === normalizeName(base) && m.quant_tag === tag));
        } else {
            // `qwen2.5:1.5b` → `qwen2.5-1.5b-instruct`: the tag continues the name
            ollamaMatches.push(...servable.filter((m) => m.name.toLowerCase().startsWith(`${base}-${tag}`) && !m.name.includes(":")));
        }
        if (ollamaMatches.length > 0) break;
    }
    const ollamaUnique = unique(ollamaMatches);
    if (ollamaUnique.length === 1) return {kind: "local", model: ollamaUnique[0]!, rule: "ollama"};
    if (ollamaUnique.length > 1) return {kind: "ambiguous", name, candidates: ollamaUnique.map((m) => m.name).sort()};

    // 5. case-, separator- and quantization-suffix-insensitive
    const wantedQuant = hasTag && isQuantToken(tag) ? tag : null;
    const norm = normalizeName(baseForms.at(-1)!);
    if (norm !== "") {
        let normMatches = servable.filter((m) => normalizeName(m.base_name) === norm || normalizeName(m.name) === norm);
        if (wantedQuant) normMatches = normMatches.filter((m) => m.quant_tag === wantedQuant);
        else if (normMatches.length > 1) {
            // the bare-named default of a base wins over its `:quant` siblings
            const bare = normMatches.filter((m) => !m.name.includes(":"));
            if (bare.length === 1) normMatches = bare;
        }
        if (normMatches.length === 1) return {kind: "local", model: normMatches[0]!, rule: "normalized"};
        if (normMatches.length > 1) return {kind: "ambiguous", name, candidates: normMatches.map((m) => m.name).sort()};
    }

    // 6. best token overlap above a threshold; a tie is ambiguous
    const wantedTokens = nameTokens(baseForms.at(-1)!).filter((t) => t !== "gguf" && t !== "latest");
    if (wantedTokens.length === 0) return {kind: "not_found", name};
    // every requested token present in a model's name ("qwen2.5" in "qwen2.5-1.5b-instruct"): one is a match, several are ambiguous
    const containing = servable.filter((m) => (!m.name.includes(":") || wantedQuant) && wantedTokens.every((t) => nameTokens(m.base_name).includes(t)));
    if (containing.length === 1) return {kind: "local", model: containing[0]!, rule: "fuzzy"};
    if (containing.length > 1) return {kind: "ambiguous", name, candidates: containing.map((m) => m.name).sort()};
    const threshold = ctx.fuzzyThreshold ?? 0.5;
    let best = 0;
    let bestModels: ModelEntry[] = [];
    for (const m of servable) {
        if (m.name.includes(":") && !wantedQuant) continue;
        const score = tokenScore(wantedTokens, nameTokens(m.base_name));
        if (score > best + 1e-9) {
            best = score;
            bestModels = [m];
        } else if (Math.abs(score - best) <= 1e-9 && score > 0) bestModels.push(m);
    }
    if (best >= threshold && bestModels.length === 1) return {kind: "local", model: bestModels[0]!, rule: "fuzzy"};
    if (best >= threshold && bestModels.length > 1) return {kind: "ambiguous", name, candidates: bestModels.map((m) => m.name).sort()};
    return {kind: "not_found", name};
}
