// The logs view: the provider's log stream, filtered on the server by level and model, redacted there too.

import {sse} from "./api.js";
import {$, clock, h} from "./dom.js";
import {models, onModels} from "./store.js";

const NAMES = {10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal"};
const KEEP = 1000;
const HIDDEN_FIELDS = new Set(["level", "time", "msg", "pid", "hostname", "name", "v"]);
let ctl = null;
let retry = null;

function fieldText(v) {
  return typeof v === "string" ? (/[\s"]/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v);
}

function line(entry) {
  const level = NAMES[entry.level] ?? String(entry.level);
  const fields = Object.entries(entry).filter(([k]) => !HIDDEN_FIELDS.has(k)).map(([k, v]) => `${k}=${fieldText(v)}`).join(" ");
  return h("div", {"data-level": level},
    h("span", {class: "muted"}, clock(typeof entry.time === "number" ? new Date(entry.time).toISOString() : undefined)), " ",
    h("span", {class: "lv"}, level), " ", entry.msg ?? "", fields ? h("span", {class: "fields"}, " ", fields) : null);
}

function append(entry) {
  const box = $("#log-lines");
  const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
  box.append(line(entry));
  while (box.childElementCount > KEEP) box.firstElementChild.remove();
  if (atBottom) box.scrollTop = box.scrollHeight;
}

function connect() {
  disconnect();
  const params = new URLSearchParams({level: $("#log-level").value});
  const model = $("#log-model").value;
  if (model) params.set("model", model);
  $("#log-lines").replaceChildren();
  $("#log-note").textContent = "";
  ctl = new AbortController();
  const mine = ctl;
  // a server without log lines says so once; looking again would not change that
  let noLines = false;
  sse(`/ui/api/logs?${params}`, {
    signal: mine.signal,
    onEvent: (name, data) => {
      if (name === "line" && data && typeof data === "object") append(data);
      else if (name === "unavailable") {
        noLines = true;
        $("#log-note").textContent = data.reason;
      }
    }
  }).then(() => !noLines, (err) => {
    // a newer filter replaced this stream
    if (mine.signal.aborted) return false;
    $("#log-note").textContent = `log stream: ${err.message}`;
    // a refused filter or key stays refused; anything else may be a restart
    return !(err.status >= 400 && err.status < 500);
  }).then((again) => {
    if (again && !mine.signal.aborted) retry = setTimeout(connect, 3000);
  });
}

function disconnect() {
  clearTimeout(retry);
  ctl?.abort();
  ctl = null;
}

function fillModels() {
  const select = $("#log-model");
  const current = select.value;
  const names = models.list.filter((m) => !m.upstream).map((m) => m.name);
  select.replaceChildren(h("option", {value: ""}, "every model"), ...names.map((n) => h("option", {value: n}, n)));
  if (names.includes(current)) select.value = current;
}

export function init() {
  onModels(fillModels);
  $("#log-level").addEventListener("change", connect);
  $("#log-model").addEventListener("change", connect);
  $("#log-clear").addEventListener("click", () => $("#log-lines").replaceChildren());
}

export function show() {
  fillModels();
  connect();
}

export function hide() {
  disconnect();
}
