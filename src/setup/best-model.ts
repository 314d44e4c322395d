/**
 * Which installed model setup names in the editor snippets and the closing lines: the largest chat model that fits
 * the memory budget. Not the newest file (a copy just made is new), not a duplicate (the safety review may offer it
 * for deletion), and not a generated test model (random weights: it answers, but nobody wants it in an editor).
 */
import type {ProviderConfig} from "../config/load.js";
import type {ModelEntry} from "../registry/types.js";
import {estimateModelBytes} from "../runtime/memory-probe.js";

/** `general.name` of the models src/gguf/test-model.ts generates ("ZombieCoder Test llama", "ZombieCoder Test setup check"). */
const GENERATED_NAME = /^ZombieCoder Test\b/;

const MIB = 1024 * 1024;

export function isGeneratedTestModel(m: Pick<ModelEntry, "metadata">): boolean {
    return GENERATED_NAME.test(m.metadata?.general_name ?? "");
}

/** A model that can hold a chat: a usable file, not an embedding model. */
export function isChatModel(m: ModelEntry): boolean {
    return m.status !== "invalid" && m.metadata != null && m.metadata.is_embedding !== true;
}

/** "auto" gives as many sequences as memory allows, at least one: a model fits when it fits with one. */
function sequences(setting: number | "auto"): number {
    return setting === "auto" ? 1 : setting;
}

/** The memory the manager would reserve for the model at its configured context: what ram_threshold_mb is compared with. */
export function estimatedBytes(m: ModelEntry, config: Pick<ProviderConfig, "models" | "context_size" | "parallel">): number {
    const override = config.models[m.name] ?? {};
    const train = m.metadata?.context_length ?? config.context_size;
    const context = override.context_size ?? Math.min(train, config.context_size);
    return estimateModelBytes({
        size_bytes: m.size_bytes, block_count: m.metadata?.block_count ?? null, head_count: m.metadata?.head_count ?? null,
        head_count_kv: m.metadata?.head_count_kv ?? null, embedding_length: m.metadata?.embedding_length ?? null, vocab_size: m.metadata?.vocab_size ?? null
    }, context, sequences(override.parallel ?? config.parallel));
}

export function fitsBudget(m: ModelEntry, config: Pick<ProviderConfig, "models" | "context_size" | "parallel" | "ram_threshold_mb">): boolean {
    return config.ram_threshold_mb <= 0 || estimatedBytes(m, config) <= config.ram_threshold_mb * MIB;
}

export interface BestModelChoice {
    /** The model the snippets name; null when no chat model is installed at all. */
    model: ModelEntry | null;
    /** The choice is a generated test model, because nothing else is installed. */
    generated: boolean;
    /** One line: why this model. */
    why: string;
}

/** Bigger first: parameters when the header says, else the file size; the name breaks ties so the choice is stable. */
function larger(a: ModelEntry, b: ModelEntry): number {
    const pa = a.metadata?.parameter_count ?? 0;
    const pb = b.metadata?.parameter_count ?? 0;
    return pb - pa || b.size_bytes - a.size_bytes || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/**
 * `duplicateCopies`: absolute paths the safety review counts as copies of a file that is kept (they may be deleted).
 * Copies the review did not see are still recognised by their fingerprint: of several identical entries, only the
 * first by name is a candidate.
 */
export function chooseBestModel(models: readonly ModelEntry[], config: Pick<ProviderConfig, "models" | "context_size" | "parallel" | "ram_threshold_mb">,
    duplicateCopies: ReadonlySet<string> = new Set()): BestModelChoice {
    const chat = models.filter((m) => isChatModel(m) && !duplicateCopies.has(m.abs_path));
    const seen = new Set<string>();
    const distinct = [...chat].sort((a, b) => (a.name < b.name ? -1 : 1)).filter((m) => {
        if (seen.has(m.fingerprint)) return false;
        seen.add(m.fingerprint);
        return true;
    });
    const real = distinct.filter((m) => !isGeneratedTestModel(m));
    const pool = real.length > 0 ? real : distinct;
    const generated = real.length === 0;
    const fitting = pool.filter((m) => fitsBudget(m, config)).sort(larger);
    const budget = config.ram_threshold_mb > 0 ? `ram_threshold_mb (${config.ram_threshold_mb} MB)` : "memory (no ram_threshold_mb)";
    if (fitting.length > 0) {
        const m = fitting[0]!;
        return {
            model: m, generated,
            why: generated ? "only generated test models are installed; this is the largest" : `the largest chat model that fits ${budget}`
        };
    }
    if (pool.length === 0) return {model: null, generated: false, why: "no chat model is installed"};
    // Nothing fits: name the smallest, and say so, rather than nothing at all.
    const m = [...pool].sort((a, b) => larger(b, a))[0]!;
    return {model: m, generated, why: `no chat model fits ${budget}; this is the smallest`};
}
