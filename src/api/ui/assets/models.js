// The models view: the memory budget as a bar, and every model with its state and the buttons to change it.

import {api, modelPath} from "./api.js";
import {$, ago, bytes, colourOf, confirmAction, h, ms} from "./dom.js";
import {models, onModels, refreshModels, refreshSoon} from "./store.js";

/** When each model started loading, as this page saw it (the server reports no load progress yet). */
const loadingSince = new Map();
/** Buttons waiting for their call, so a re-render does not enable them again. */
const busyActions = new Set();

function stateOf(m) {
  if (m.state === "loaded" && m.inFlight > 0) return "busy";
  return m.state;
}

function stateCell(m) {
  const state = stateOf(m);
  let label = state;
  if (state === "busy") label = `busy · ${m.inFlight}${m.queued ? ` + ${m.queued} queued` : ""}`;
  if (state === "loading" && loadingSince.has(m.name)) label = `loading · ${ms(Date.now() - loadingSince.get(m.name))}`;
  return h("td", {}, h("span", {class: "badge", "data-state": state}, label),
    (state === "failed" || state === "invalid") && m.reason ? h("span", {class: "sub"}, m.reason) : null);
}

async function act(name, action, run) {
  const key = `${action}:${name}`;
  busyActions.add(key);
  render();
  $("#models-error").textContent = "";
  try {
    await run();
  } catch (err) {
    $("#models-error").textContent = `${action} ${name}: ${err.message}`;
  } finally {
    busyActions.delete(key);
    await refreshModels();
  }
}

function load(m) {
  return act(m.name, "load", () => api(`/runtime/load/${modelPath(m.name)}`, {method: "POST"}));
}

async function unload(m) {
  if (m.inFlight > 0) {
    const ok = await confirmAction(`Unload ${m.name}?`,
      `It is serving ${m.inFlight} request${m.inFlight === 1 ? "" : "s"}${m.queued ? ` with ${m.queued} more queued` : ""}. ` +
      "They finish first; new requests are refused until the model is unloaded.", "Unload");
    if (!ok) return;
  }
  return act(m.name, "unload", () => api(`/runtime/unload/${modelPath(m.name)}`, {method: "POST"}));
}

function togglePin(m) {
  return act(m.name, "pin", () => api(`/runtime/${m.pinned ? "unpin" : "pin"}/${modelPath(m.name)}`, {method: "POST"}));
}

function actions(m) {
  if (m.upstream || m.state === "invalid") return h("td");
  const state = stateOf(m);
  const resident = state === "loaded" || state === "busy" || state === "loading";
  const waiting = busyActions.has(`load:${m.name}`) || busyActions.has(`unload:${m.name}`);
  return h("td", {class: "num"}, resident
    ? h("button", {type: "button", class: "small", disabled: waiting || state === "loading", "data-action": "unload", onclick: () => unload(m)}, "Unload")
    : h("button", {type: "button", class: "small primary", disabled: waiting || state === "unloading", "data-action": "load", onclick: () => load(m)}, waiting ? "Loading…" : "Load"));
}

function pinCell(m) {
  if (m.upstream || m.state === "invalid") return h("td", {}, "—");
  return h("td", {}, h("button", {
    type: "button", class: "small quiet", "data-action": "pin", "aria-pressed": String(m.pinned), disabled: busyActions.has(`pin:${m.name}`),
    title: m.pinned ? "Pinned: never evicted to make room. Click to unpin." : "Not pinned: may be evicted when memory is short. Click to pin.",
    onclick: () => togglePin(m)
  }, m.pinned ? "pinned" : "pin"));
}

function memoryCell(m) {
  if (!m.budget && !m.rss) return h("td", {class: "num"}, "—");
  return h("td", {class: "num", title: `counts ${bytes(m.budget)} against the budget; measured peak ${bytes(m.rss)}`},
    bytes(m.rss || m.budget), m.rss && m.budget ? h("span", {class: "sub"}, `budget ${bytes(m.budget)}`) : null);
}

function row(m) {
  return h("tr", {"data-model": m.name, "data-state": stateOf(m)},
    h("td", {}, h("strong", {}, m.name),
      m.aliases.length ? h("span", {class: "sub"}, `aliases: ${m.aliases.join(", ")}`) : null,
      m.path ? h("span", {class: "sub mono"}, m.path) : null),
    h("td", {}, m.source),
    h("td", {class: "num"}, m.size ? bytes(m.size) : "—"),
    h("td", {}, m.quant ?? "—"),
    h("td", {class: "num"}, m.contextSize ? m.contextSize.toLocaleString() : "—"),
    stateCell(m),
    pinCell(m),
    h("td", {}, ago(m.lastUsed)),
    memoryCell(m),
    actions(m));
}

function renderMemory() {
  const mem = models.memory;
  const bar = $("#memory-bar");
  const legend = $("#memory-legend");
  bar.replaceChildren();
  legend.replaceChildren();
  if (!mem) return;
  const budget = mem.threshold_bytes;
  // without a budget (ram_threshold_mb 0) the bar is the machine's memory
  const scale = budget > 0 ? Math.max(budget, mem.used_bytes) : mem.system_total_bytes;
  for (const m of models.list.filter((x) => x.budget > 0)) {
    const seg = h("div", {class: "seg", title: `${m.name}: ${bytes(m.budget)}`, "data-model": m.name});
    seg.style.width = `${(100 * m.budget) / scale}%`;
    seg.style.background = colourOf(m.name);
    bar.append(seg);
    const sw = h("span", {class: "sw"});
    sw.style.background = colourOf(m.name);
    legend.append(h("span", {}, sw, `${m.name} ${bytes(m.budget)}${m.rss ? ` (measured ${bytes(m.rss)})` : ""}`));
  }
  if (legend.childElementCount === 0) legend.append(h("span", {class: "muted"}, "No model is resident."));
  $("#memory-text").textContent = budget > 0
    ? `${bytes(mem.used_bytes)} of the ${bytes(budget)} budget (ram_threshold_mb) in use`
    : `${bytes(mem.used_bytes)} in use; no budget set (ram_threshold_mb 0)`;
  const gpu = models.resident.filter((r) => r.size_vram > 0);
  $("#memory-machine").textContent = `Machine: ${bytes(mem.system_available_bytes)} available of ${bytes(mem.system_total_bytes)}` +
    ` · keeps ${bytes(mem.reserve_bytes)} free (memory_reserve_mb) · server process ${bytes(mem.server_rss_bytes)}` +
    ` · GPU: ${gpu.length ? gpu.map((r) => `${r.name} ${bytes(r.size_vram)}`).join(", ") : "no model offloaded"}`;
}

function render() {
  const tbody = $("#models-table tbody");
  if (models.error) $("#models-error").textContent = `could not read the models: ${models.error.message}`;
  const rows = models.list.map(row);
  if (rows.length === 0) rows.push(h("tr", {}, h("td", {colspan: 10, class: "muted"}, "No models installed. Put GGUF files in the models folder, or download one.")));
  tbody.replaceChildren(...rows);
  renderMemory();
}

/** A model event from the live stream: the row changes at once, the numbers follow with the next refresh. */
export function onModelEvent(e) {
  if (e.type === "phase") {
    if (e.to === "loading") loadingSince.set(e.model, Date.now());
    else loadingSince.delete(e.model);
    const m = models.list.find((x) => x.name === e.model);
    if (m && m.state !== e.state) {
      m.state = e.state;
      render();
    }
  }
  refreshSoon();
}

let ticker = null;

export function init() {
  onModels(render);
  $("#rescan").addEventListener("click", () => act("models folder", "rescan", () => api("/runtime/rescan", {method: "POST"})));
}

export function show() {
  void refreshModels();
  let ticks = 0;
  ticker = setInterval(() => {
    ticks++;
    // memory measurements and "last used" move without events; a load's clock moves every second
    if (ticks % 15 === 0) refreshSoon();
    else if (loadingSince.size > 0) render();
  }, 1000);
}

export function hide() {
  clearInterval(ticker);
}
