// What several views share: the models (installed, live status, resident on the GPU), refreshed on demand and
// coalesced, so a burst of model events costs one round of calls.

import {api} from "./api.js";

const listeners = new Set();

export const models = {
  /** Merged rows: one per installed or upstream model. */
  list: [],
  /** /runtime/status's memory and queue sections. */
  memory: null,
  queue: null,
  /** /api/ps: resident models with their GPU share. */
  resident: [],
  error: null,
  loadedAt: 0
};

/** Names a chat can be sent to: installed, valid, not embedding-only (the server refuses those with a clear 400). */
export function chatModels() {
  return models.list.filter((m) => m.state !== "invalid").map((m) => m.name);
}

export function onModels(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

const SOURCES = {models_dir: "models folder", ollama: "Ollama", lmstudio: "LM Studio", huggingface: "HF cache"};

function merge(installed, status) {
  const live = new Map(status.models.map((s) => [s.name, s]));
  return installed.models.map((m) => {
    const s = live.get(m.name);
    const upstream = m.status === "upstream";
    return {
      name: m.name,
      upstream: upstream ? m.upstream : null,
      source: upstream ? `upstream ${m.upstream}` : SOURCES[m.source] ?? m.source ?? "models folder",
      size: m.size || null,
      quant: m.details?.quantization_level && m.details.quantization_level !== "unknown" ? m.details.quantization_level : null,
      family: m.details?.family ?? null,
      parameters: m.details?.parameter_size ?? null,
      aliases: m.aliases ?? [],
      path: m.path ?? null,
      state: m.status === "invalid" ? "invalid" : upstream ? "upstream" : s?.state ?? "unloaded",
      reason: s?.reason ?? m.reason ?? null,
      pinned: Boolean(s?.pinned ?? m.pinned),
      keepLoaded: Boolean(s?.keep_loaded ?? m.keep_loaded),
      inFlight: s?.in_flight ?? 0,
      queued: s?.queued ?? 0,
      lastUsed: s?.last_used ?? null,
      contextSize: s?.context_size || null,
      rss: s?.measured_rss_bytes || 0,
      budget: s?.budget_bytes || 0,
      expiresAt: s?.expires_at ?? null
    };
  });
}

let pending = null;
let again = false;

/** Fetches everything once; calls made while one is running are folded into one more round. */
export function refreshModels() {
  if (pending) {
    again = true;
    return pending;
  }
  pending = (async () => {
    try {
      const [installed, status, ps] = await Promise.all([
        api("/models/installed"), api("/runtime/status"), api("/api/ps").catch(() => ({models: []}))
      ]);
      models.list = merge(installed, status);
      models.memory = status.memory;
      models.queue = status.queue;
      models.resident = ps.models ?? [];
      models.error = null;
      models.loadedAt = Date.now();
    } catch (err) {
      models.error = err;
    } finally {
      pending = null;
    }
    for (const fn of listeners) fn(models);
    if (again) {
      again = false;
      await refreshModels();
    }
  })();
  return pending;
}

let timer = null;

/** A refresh soon: model events come in bursts (loading, loaded, busy, loaded). */
export function refreshSoon(delay = 120) {
  if (timer) return;
  timer = setTimeout(() => {
    timer = null;
    void refreshModels();
  }, delay);
}
