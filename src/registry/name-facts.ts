/**
 * What a model name says about the model: its words (family and variant, each with the version written with it),
 * its parameter size and its quantization. Fuzzy name matching compares these facts, so a loose name can pick a
 * model but never one of another size, quantization or family version.
 * Pure string functions: a name is never turned into a path.
 */
import {isQuantToken, splitQuant} from "./names.js";
import type {ModelEntry} from "./types.js";

export interface NameFacts {
    /** Each word with the versions written with it (`qwen2.5` → qwen: {"2.5"}); "" stands for "no version". */
    words: Map<string, Set<string>>;
    /** Canonical parameter sizes (`0.5b`, `500m` → "500m"; `8x7b` → "8x7000m"; `30b-a3b` → "30000m-a3000m"). */
    sizes: Set<string>;
    /** Quantizations, lower case (`q4_k_m`, `f16`). */
    quants: Set<string>;
}

/** Words that say nothing about which model is meant. */
const NOISE_WORDS = new Set(["gguf", "latest"]);

/** `0.5b`, `135m`, `8x7b`, `30b-a3b` (joined before classification), `e4b` (Gemma's effective size). */
const SIZE_RE = /^(?:(\d+)x)?(\d+(?:\.\d+)?)([mb])(?:-a(\d+(?:\.\d+)?)([mb]))?$/;
const EFFECTIVE_SIZE_RE = /^e(\d+(?:\.\d+)?)b$/;
/** The active-parameter half of a mixture-of-experts size (`a3b` in `30b-a3b`). */
const ACTIVE_RE = /^a\d+(?:\.\d+)?[mb]$/;
/** A version on its own: `3.2` in `llama-3.2`, `v0.3`, `4k` in `phi-3-mini-4k`. */
const VERSION_RE = /^v?\d+(?:\.\d+)*[a-z]?$/;
/** A word with its version attached: `qwen2.5`, `llama3`, `gemma3n`, `r1`. */
const WORD_VERSION_RE = /^([a-z]+)(\d+(?:\.\d+)*[a-z]?)$/;
/** The pieces of a quantization written with underscores (`k`, `m`, `xs`, `0`, `moe`), for `Q4_K_M` split on `_`. */
const QUANT_PIECE_RE = /^[a-z0-9]{1,3}$/;

function millions(value: string, unit: string): string {
    const n = Number(value) * (unit === "b" ? 1000 : 1);
    return `${Math.round(n * 1000) / 1000}m`;
}

/** The canonical form of a size token, or null when the token is not a size. */
export function canonicalSize(token: string): string | null {
    const t = token.toLowerCase();
    const m = SIZE_RE.exec(t);
    if (m) {
        const experts = m[1] ? `${Number(m[1])}x` : "";
        const active = m[4] ? `-a${millions(m[4], m[5]!)}` : "";
        return `${experts}${millions(m[2]!, m[3]!)}${active}`;
    }
    const e = EFFECTIVE_SIZE_RE.exec(t);
    return e ? `e${millions(e[1]!, "b")}` : null;
}

function canonicalVersion(v: string): string {
    return v.replace(/^v/, "").replace(/(?:\.0+)+(?=[a-z]?$)/, "");
}

function canonicalQuant(q: string): string {
    const l = q.toLowerCase();
    return l === "fp16" ? "f16" : l === "fp32" ? "f32" : l;
}

/** Tokens of one name: separators split, quantizations kept whole even when written with underscores. */
function tokens(name: string): string[] {
    const out: string[] = [];
    for (const raw of name.toLowerCase().split(/[\s\-/:]+/)) {
        if (raw === "") continue;
        if (isQuantToken(raw)) {
            out.push(raw);
            continue;
        }
        // `instruct.q4_k_m`, `instruct_q8_0`: a quantization glued on with a dot or underscore
        const {base, quant} = splitQuant(raw);
        const pieces = base.split("_").filter((p) => p !== "");
        for (let i = 0; i < pieces.length; i++) {
            let piece = pieces[i]!;
            // `Q4_K_M` written inside an underscore-separated name
            while (/^i?q\d/.test(piece) && i + 1 < pieces.length && QUANT_PIECE_RE.test(pieces[i + 1]!) && isQuantToken(`${piece}_${pieces[i + 1]}`))
                piece = `${piece}_${pieces[++i]}`;
            out.push(piece);
        }
        if (quant) out.push(quant);
    }
    // `30b-a3b` was split on its hyphen: join it back into one size
    const joined: string[] = [];
    for (const t of out) {
        if (ACTIVE_RE.test(t) && joined.length > 0 && SIZE_RE.test(joined.at(-1)!)) joined[joined.length - 1] = `${joined.at(-1)!}-${t}`;
        else joined.push(t);
    }
    return joined;
}

function addWord(facts: NameFacts, word: string, version: string): void {
    let versions = facts.words.get(word);
    if (!versions) facts.words.set(word, (versions = new Set()));
    versions.add(version);
}

/** Adds what `name` says to `facts`. */
function collect(facts: NameFacts, name: string): void {
    let lastWord: string | null = null;
    let lastHasVersion = true;
    for (const t of tokens(name)) {
        if (NOISE_WORDS.has(t)) continue;
        if (isQuantToken(t)) {
            facts.quants.add(canonicalQuant(t));
            continue;
        }
        const size = canonicalSize(t);
        if (size) {
            facts.sizes.add(size);
            continue;
        }
        if (VERSION_RE.test(t) && lastWord != null && !lastHasVersion) {
            // `llama-3.2`: the version belongs to the word before it, as in `llama3.2`
            addWord(facts, lastWord, canonicalVersion(t));
            lastHasVersion = true;
            continue;
        }
        const wv = WORD_VERSION_RE.exec(t);
        if (wv) {
            addWord(facts, wv[1]!, canonicalVersion(wv[2]!));
            lastWord = wv[1]!;
            lastHasVersion = true;
            continue;
        }
        addWord(facts, t, "");
        lastWord = t;
        lastHasVersion = false;
    }
}

function emptyFacts(): NameFacts {
    return {words: new Map(), sizes: new Set(), quants: new Set()};
}

/**
 * The last path segment carries a model's name (`hf.co/org/Repo-GGUF:Q4_K_M`, `user/model:tag`); the tag after
 * the last colon is part of it (`llama3.2:3b`, `model:q8_0`).
 */
export function nameWithTag(name: string): string {
    const colon = name.lastIndexOf(":");
    const hasTag = colon > 0 && !name.slice(colon + 1).includes("/");
    const base = hasTag ? name.slice(0, colon) : name;
    const last = base.split("/").at(-1) ?? base;
    return hasTag ? `${last}:${name.slice(colon + 1)}` : last;
}

/** What a requested name says. */
export function requestFacts(requested: string): NameFacts {
    const facts = emptyFacts();
    collect(facts, nameWithTag(requested));
    return facts;
}

/** What is known about an installed model: its name, its GGUF name, size label and quantization. */
export function modelFacts(model: ModelEntry): NameFacts {
    const facts = emptyFacts();
    collect(facts, nameWithTag(model.name));
    const md = model.metadata;
    // The architecture is left out: Qwen2.5 files declare `qwen2`, which would make `qwen2` match them.
    if (md?.general_name) collect(facts, md.general_name);
    if (md?.parameter_size) {
        const size = canonicalSize(md.parameter_size.replace(/\s+/g, ""));
        if (size) facts.sizes.add(size);
    }
    if (model.quant_tag) facts.quants.add(canonicalQuant(model.quant_tag));
    if (md?.quantization && isQuantToken(md.quantization)) facts.quants.add(canonicalQuant(md.quantization));
    return facts;
}

/** Why a model's facts rule it out for a request, or null when nothing does. */
export type Conflict = "size" | "quantization" | "version";

/**
 * Sizes and quantizations named in the request must be the model's; a word written with a version must carry that
 * version in the model too (`qwen2.5` never matches `qwen3`, `llama3.1` never `llama3.2`).
 */
export function conflict(wanted: NameFacts, model: NameFacts): Conflict | null {
    for (const s of wanted.sizes) if (!model.sizes.has(s)) return "size";
    for (const q of wanted.quants) if (!model.quants.has(q)) return "quantization";
    for (const [word, versions] of wanted.words) {
        for (const v of versions) {
            if (v === "") continue;
            if (!model.words.get(word)?.has(v)) return "version";
        }
    }
    return null;
}

/** Every word of the request appears in the model (versions aside: `conflict` checks those). */
export function containsWords(wanted: NameFacts, model: NameFacts): boolean {
    if (wanted.words.size === 0) return false;
    for (const word of wanted.words.keys()) if (!model.words.has(word)) return false;
    return true;
}
