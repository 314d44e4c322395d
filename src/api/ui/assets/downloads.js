// The downloads view: start one from a reference, watch each running one over its event stream, cancel, resume.

import {api, sse} from "./api.js";
import {$, bytes, h, seconds} from "./dom.js";
import {refreshSoon} from "./store.js";

const ACTIVE = new Set(["queued", "downloading", "verifying"]);
/** Jobs by id, as last heard (the list, then each progress event). */
const jobs = new Map();
/** The event streams open, one per running job. */
const watching = new Map();
let visible = false;
let unavailable = null;

function percent(done, total) {
  return total ? Math.min(100, (100 * done) / total) : 0;
}

function card(job) {
  const active = ACTIVE.has(job.status);
  const bar = h("div");
  bar.style.width = `${percent(job.downloaded_bytes, job.total_bytes)}%`;
  const facts = [
    `${bytes(job.downloaded_bytes)} of ${bytes(job.total_bytes)}`,
    job.total_bytes ? `${percent(job.downloaded_bytes, job.total_bytes).toFixed(0)}%` : null,
    active && job.speed_bps ? `${bytes(job.speed_bps)}/s` : null,
    active && job.eta_seconds != null ? `${seconds(job.eta_seconds)} left` : null,
    job.resumed_from_bytes > 0 ? `resumed from ${bytes(job.resumed_from_bytes)}` : null,
    job.files?.length > 1 ? `${job.files.length} files` : null
  ].filter(Boolean).join(" · ");
  return h("div", {class: "dl", "data-download": job.id, "data-status": job.status},
    h("div", {class: "row between"},
      h("div", {}, h("strong", {class: "mono"}, job.model), " ", h("span", {class: "badge", "data-state": job.status === "completed" ? "loaded" : job.status === "failed" ? "failed" : active ? "loading" : "unloaded"}, job.phase && active && job.phase !== job.status ? `${job.status} · ${job.phase}` : job.status)),
      h("div", {class: "row"},
        active ? h("button", {type: "button", class: "small danger", "data-action": "cancel", onclick: () => cancel(job)}, "Cancel") : null,
        job.status === "failed" || job.status === "cancelled" ? h("button", {type: "button", class: "small", "data-action": "resume", onclick: () => resume(job)}, "Resume") : null)),
    h("div", {class: "progress", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": job.total_bytes ?? 0, "aria-valuenow": job.downloaded_bytes}, bar),
    h("div", {class: "small muted", "data-facts": ""}, facts),
    job.error ? h("div", {class: "small error"}, job.error) : null,
    job.status === "completed" ? h("div", {class: "small muted mono"}, job.target) : null);
}

function render() {
  const list = $("#download-list");
  if (unavailable) {
    list.replaceChildren(h("p", {class: "muted"}, unavailable));
    $("#download-empty").hidden = true;
    return;
  }
  const sorted = [...jobs.values()].sort((a, b) => (b.created_at ?? "").localeCompare(a.created_at ?? ""));
  list.replaceChildren(...sorted.map(card));
  $("#download-empty").hidden = sorted.length > 0;
}

/** A progress event changes the job's numbers; a status change re-reads the whole job. */
function onProgress(id, ev) {
  const job = jobs.get(id);
  if (!job) return;
  const statusChanged = job.status !== ev.status;
  Object.assign(job, {status: ev.status, phase: ev.phase, downloaded_bytes: ev.bytes, total_bytes: ev.total ?? job.total_bytes, speed_bps: ev.speed, eta_seconds: ev.eta, error: ev.error});
  if (visible) render();
  if (statusChanged && !ACTIVE.has(ev.status)) {
    void refresh();
    // a finished download is a new model
    if (ev.status === "completed") refreshSoon();
  }
}

function watch(job) {
  if (watching.has(job.id) || !ACTIVE.has(job.status)) return;
  const ctl = new AbortController();
  watching.set(job.id, ctl);
  sse(`/download/events/${encodeURIComponent(job.id)}`, {signal: ctl.signal, onEvent: (_name, ev) => onProgress(job.id, ev)})
    .catch(() => undefined)
    .finally(() => watching.delete(job.id));
}

export async function refresh() {
  try {
    const {downloads} = await api("/download/list");
    unavailable = null;
    for (const job of downloads) {
      jobs.set(job.id, job);
      watch(job);
    }
  } catch (err) {
    if (err.status === 404) unavailable = "This server has no download routes.";
    else $("#download-error").textContent = `could not read the downloads: ${err.message}`;
  }
  if (visible) render();
}

async function start(ref) {
  $("#download-error").textContent = "";
  try {
    const started = await api("/download/start", {method: "POST", body: {model: ref}});
    jobs.set(started.job.id, started.job);
    watch(started.job);
    render();
    return true;
  } catch (err) {
    $("#download-error").textContent = err.message;
    return false;
  }
}

async function cancel(job) {
  try {
    const after = await api(`/download/cancel/${encodeURIComponent(job.id)}`, {method: "POST"});
    jobs.set(after.id, after);
  } catch (err) {
    $("#download-error").textContent = `cancel: ${err.message}`;
  }
  await refresh();
}

function resume(job) {
  return start(job.model);
}

let ticker = null;

export function init() {
  $("#download-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = $("#download-ref");
    const ref = input.value.trim();
    if (ref && (await start(ref))) input.value = "";
  });
  // downloads started by other clients (the CLI, ollama pull) show up too
  void refresh();
}

export function show() {
  visible = true;
  render();
  void refresh();
  ticker = setInterval(() => void refresh(), 10_000);
}

export function hide() {
  visible = false;
  clearInterval(ticker);
}
