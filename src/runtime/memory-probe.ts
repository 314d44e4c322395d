import os from "node:os";
import {availableMemoryBytes} from "./system-info.js";

/**
 * Every memory reading the manager makes goes through this probe, so tests can replace it and so the
 * platform-specific parts stay in one place (system-info.ts).
 */
export interface MemoryProbe {
    /** Bytes the OS could give to a new model now. */
    systemAvailableBytes(): number;
    systemTotalBytes(): number;
    /** Resident memory of a runner, as measured inside it. */
    runnerRssBytes(measure: () => Promise<number>): Promise<number>;
}

export const systemMemoryProbe: MemoryProbe = {
    systemAvailableBytes: () => availableMemoryBytes(),
    systemTotalBytes: () => os.totalmem(),
    runnerRssBytes: (measure) => measure()
};

const MIB = 1024 * 1024;

export const RUNNER_BASELINE_BYTES = 120 * MIB;

export interface ShapeFacts {
    size_bytes: number;
    block_count: number | null;
    head_count: number | null;
    head_count_kv: number | null;
    embedding_length: number | null;
    vocab_size: number | null;
}

/**
 * Memory a model needs before it is loaded: weights, the f16 KV cache for every sequence, and the compute buffer
 * (batch × vocabulary logits dominate it for small models), plus the runner process itself. Made from registry metadata so the check finishes
 * before any response header is sent.
 */
export function estimateModelBytes(facts: ShapeFacts, contextSize: number, parallel: number): number {
    const layers = facts.block_count ?? 32;
    const embd = facts.embedding_length ?? 4096;
    const heads = facts.head_count ?? 32;
    const kvHeads = facts.head_count_kv ?? heads;
    const kvDim = Math.round((embd / Math.max(1, heads)) * kvHeads);
    const kv = 2 * layers * contextSize * parallel * kvDim * 2;
    const batch = Math.min(512, contextSize);
    const compute = batch * (facts.vocab_size ?? 32000) * 4 + batch * embd * 4 * 8;
    // a runner is a Node process hosting llama.cpp: about 120 MB before any model is loaded
    return facts.size_bytes + kv + compute + RUNNER_BASELINE_BYTES;
}
