/**
 * Each installed model, one after another: it loads, answers a short chat (with its speed from the answer's own
 * counts), stays resident for the next request (load_duration about 0, /runtime/status "loaded"), and is unloaded
 * again so that the next model has the memory. Which models: every usable one, each file content once; generated
 * test models only when the user has no real model (they prove nothing about the user's models); models that do not
 * fit ram_threshold_mb are reported, not loaded (the provider would refuse them the same way).
 */
import type {ProviderConfig} from "../../config/load.js";
import type {ModelEntry} from "../../registry/types.js";
import {estimatedBytes, fitsBudget, isGeneratedTestModel} from "../best-model.js";
import {routeName, type CheckServer} from "../steps/provider-check.js";
import type {CheckCollector} from "./collector.js";
import {errorText, obj} from "./types.js";

/** "About 0": a resident model spends no time loading for the next request. */
export const RESIDENT_LOAD_MS = 50;
const CHAT_TOKENS = 8;
const LOAD_TIMEOUT_MS = 600_000;
const MIB = 1024 * 1024;

export interface ModelPick {
    /** Models to load, smallest first. */
    check: ModelEntry[];
    skipped: Array<{model: ModelEntry; why: string}>;
}

/** Which models the suite loads, and why the others are left out. */
export function modelsToCheck(models: readonly ModelEntry[], config: Pick<ProviderConfig, "models" | "context_size" | "parallel" | "ram_threshold_mb">): ModelPick {
    const usable = models.filter((m) => m.status !== "invalid");
    const hasReal = usable.some((m) => !isGeneratedTestModel(m));
    const skipped: ModelPick["skipped"] = [];
    for (const m of models.filter((x) => x.status === "invalid")) skipped.push({model: m, why: `not a usable GGUF: ${m.reason ?? "invalid"}`});
    const byFingerprint = new Map<string, ModelEntry>();
    const check: ModelEntry[] = [];
    for (const m of [...usable].sort((a, b) => a.size_bytes - b.size_bytes || (a.name < b.name ? -1 : 1))) {
        const same = byFingerprint.get(m.fingerprint);
        if (same) skipped.push({model: m, why: `the same file content as ${same.name}, which is checked`});
        else if (hasReal && isGeneratedTestModel(m)) skipped.push({model: m, why: "a generated test model (real models are installed; those are checked)"});
        else if (!fitsBudget(m, config))
            skipped.push({model: m, why: `needs about ${Math.ceil(estimatedBytes(m, config) / MIB)} MB, more than ram_threshold_mb (${config.ram_threshold_mb} MB): the provider refuses to load it`});
        else {
            byFingerprint.set(m.fingerprint, m);
            check.push(m);
        }
    }
    return {check, skipped};
}

function perSecond(count: unknown, durationNs: unknown): number | null {
    const n = Number(count);
    const ns = Number(durationNs);
    return n > 0 && ns > 0 ? Math.round((n / (ns / 1e9)) * 10) / 10 : null;
}

/** Loads the model (unless it is resident already), then chats once and checks it stayed resident. */
export async function checkModelLoadAndChat(server: CheckServer, m: ModelEntry, run: CheckCollector): Promise<boolean> {
    const name = m.name;
    const head = (what: string, title: string) => ({id: `model:${name}:${what}`, group: "model" as const, title: `${name}: ${title}`, model: name});
    const load = await run.run(head("load", "loads"), async () => {
        const r = await server.request("POST", `/runtime/load/${routeName(name)}`, undefined, LOAD_TIMEOUT_MS);
        const b = obj(r.body);
        if (r.status !== 200 || b.status !== "loaded") return {ok: false, status: r.status, ms: r.ms, detail: errorText(r.body)};
        const loadMs = Number(b.load_ms ?? 0);
        return {ok: true, status: r.status, ms: r.ms, load_ms: loadMs, detail: loadMs < RESIDENT_LOAD_MS ? "already resident" : `loaded in ${loadMs} ms (context ${String(b.context_size ?? "?")})`};
    });
    if (!load.ok) return false;
    if (m.metadata?.is_embedding) {
        await run.run(head("embed", "answers /api/embed"), async () => {
            const r = await server.request("POST", "/api/embed", {model: name, input: ["Hello"]}, LOAD_TIMEOUT_MS);
            const vectors = obj(r.body).embeddings;
            const dims = Array.isArray(vectors) && Array.isArray(vectors[0]) ? (vectors[0] as unknown[]).length : 0;
            return {ok: r.status === 200 && dims > 0, status: r.status, ms: r.ms, detail: r.status === 200 ? `one vector of ${dims} dimensions` : errorText(r.body)};
        });
        return true;
    }
    await run.run(head("chat", `answers a short chat (${CHAT_TOKENS} tokens at most)`), async () => {
        const r = await server.request("POST", "/api/chat", {model: name, messages: [{role: "user", content: "Say hello."}], stream: false, options: {num_predict: CHAT_TOKENS}}, LOAD_TIMEOUT_MS);
        const b = obj(r.body);
        const ok = r.status === 200 && b.done === true && typeof obj(b.message).content === "string" && Number(b.eval_count) > 0;
        if (!ok) return {ok: false, status: r.status, ms: r.ms, detail: r.status === 200 ? `unexpected answer: ${JSON.stringify(b).slice(0, 200)}` : errorText(r.body)};
        const tps = perSecond(b.eval_count, b.eval_duration);
        const pps = perSecond(b.prompt_eval_count, b.prompt_eval_duration);
        return {
            ok, status: r.status, ms: r.ms, tokens_per_second: tps, prompt_tokens_per_second: pps,
            detail: `${String(b.eval_count)} token(s) at ${tps ?? "?"} tokens/s (prompt: ${String(b.prompt_eval_count ?? "?")} token(s) at ${pps ?? "?"} tokens/s)`
        };
    });
    await run.run(head("resident", "stays loaded for the next request"), async () => {
        const r = await server.request("POST", "/api/generate", {model: name, prompt: "Hi", stream: false, options: {num_predict: 1}}, LOAD_TIMEOUT_MS);
        if (r.status !== 200) return {ok: false, status: r.status, ms: r.ms, detail: errorText(r.body)};
        const loadMs = Number(obj(r.body).load_duration ?? NaN) / 1e6;
        const st = await server.request("GET", "/runtime/status");
        const state = (Array.isArray(obj(st.body).models) ? obj(st.body).models as unknown[] : []).map(obj).find((x) => x.name === name)?.state;
        const ok = loadMs < RESIDENT_LOAD_MS && state === "loaded";
        return {ok, status: r.status, ms: r.ms, load_ms: Math.round(loadMs * 1000) / 1000, detail: `second request's load_duration ${Math.round(loadMs * 1000) / 1000} ms (want < ${RESIDENT_LOAD_MS}), /runtime/status says ${String(state ?? "nothing")}`};
    });
    return true;
}

/** Frees the model's memory for the next one; a failure here is reported with the model's checks. */
export async function unloadModel(server: CheckServer, m: ModelEntry, run: CheckCollector): Promise<void> {
    const r = await server.request("POST", `/runtime/unload/${routeName(m.name)}`);
    if (r.status !== 200) await run.run({id: `model:${m.name}:unload`, group: "model", title: `${m.name}: unloads`, model: m.name}, async () => ({ok: false, status: r.status, ms: r.ms, detail: errorText(r.body)}));
}
