// The activity view: requests as they finish, from the live stream (the last few hundred are kept server-side).

import {$, clock, h, ms} from "./dom.js";

const KEEP = 300;
let records = [];
let showAll = false;

/** Model work: requests that named a model (chats, completions, embeddings, loads); not the dashboard's own reads. */
function isModelWork(r) {
  return Boolean(r.model);
}

function num(v) {
  return v == null ? "—" : Number(v).toLocaleString();
}

/** Generation speed: tokens over the time after the first one (the whole time when that is not known). */
function tokensPerSecond(r) {
  if (!r.completion_tokens) return "—";
  const span = r.first_token_ms != null ? r.ms - r.first_token_ms : r.ms;
  return span > 0 ? (r.completion_tokens / (span / 1000)).toFixed(1) : "—";
}

function row(r, fresh) {
  const ok = r.status < 400;
  return h("tr", {class: fresh ? "fresh" : null, "data-request": r.id, "data-model": r.model ?? ""},
    h("td", {}, clock(r.time)),
    h("td", {}, r.model ?? "—"),
    h("td", {}, r.family),
    h("td", {class: "mono"}, `${r.method} ${r.route}`, r.error ? h("span", {class: "sub"}, r.error) : null),
    // the latency class, where the scheduler records one in the request facts
    h("td", {}, r.latency_class ?? r.latency ?? "—"),
    h("td", {class: ok ? "status-ok" : "status-bad"}, String(r.status)),
    h("td", {class: "num"}, ms(r.queue_ms)),
    h("td", {class: "num"}, ms(r.load_ms)),
    h("td", {class: "num"}, ms(r.first_token_ms)),
    h("td", {class: "num"}, num(r.prompt_tokens)),
    h("td", {class: "num"}, num(r.cached_tokens)),
    h("td", {class: "num"}, num(r.completion_tokens)),
    h("td", {class: "num"}, tokensPerSecond(r)),
    h("td", {class: "num"}, ms(r.ms)));
}

function visible() {
  return showAll ? records : records.filter(isModelWork);
}

function render() {
  const rows = visible().slice().reverse().map((r) => row(r, false));
  $("#activity-table tbody").replaceChildren(...rows);
  $("#activity-empty").hidden = rows.length > 0;
}

/** The stream's first event: everything the server kept so far. */
export function reset(list) {
  records = list.slice(-KEEP);
  render();
}

export function add(record) {
  records.push(record);
  if (records.length > KEEP) records.splice(0, records.length - KEEP);
  if (!showAll && !isModelWork(record)) return;
  const tbody = $("#activity-table tbody");
  tbody.prepend(row(record, true));
  while (tbody.childElementCount > KEEP) tbody.lastElementChild.remove();
  $("#activity-empty").hidden = true;
}

export function init() {
  $("#activity-all").addEventListener("change", (e) => {
    showAll = e.target.checked;
    render();
  });
}
