// The dashboard's entry: asks for the key when the server wants one, keeps the live stream open, switches views.
// Plain modules, no framework and no build step: the page is small, loads at once, and there is nothing to compile.

import {api, onAuthRequired, sse, storedKey, storeKey} from "./api.js";
import {$} from "./dom.js";
import * as activity from "./activity.js";
import * as downloads from "./downloads.js";
import * as editors from "./snippets.js";
import * as logs from "./logs.js";
import * as modelsView from "./models.js";
import * as playground from "./playground.js";
import {refreshModels, refreshSoon} from "./store.js";

const views = {models: modelsView, activity, downloads, logs, playground, editors};
let current = null;
let started = false;

function route() {
  let name = location.hash.slice(1);
  if (!Object.hasOwn(views, name)) name = "models";
  if (name === current) return;
  if (current) views[current].hide?.();
  current = name;
  for (const section of document.querySelectorAll("[data-view]")) section.hidden = section.dataset.view !== name;
  for (const link of document.querySelectorAll("[data-view-link]")) {
    if (link.dataset.viewLink === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  views[name].show?.();
}

function setConnection(state, text) {
  const el = $("#conn");
  el.dataset.state = state;
  el.textContent = text;
}

/** The live stream: activity and model events. Reconnects with a growing pause when the server goes away. */
async function liveStream() {
  let pause = 1000;
  for (;;) {
    try {
      await sse("/ui/api/events", {
        onOpen: () => {
          pause = 1000;
          setConnection("live", "live");
          refreshSoon(0);
        },
        onEvent: (name, data) => {
          if (name === "hello") activity.reset(data.activity ?? []);
          else if (name === "request") activity.add(data);
          else if (name === "model") modelsView.onModelEvent(data);
        }
      });
    } catch (err) {
      if (err.status === 401) return;
    }
    setConnection("offline", "offline, reconnecting…");
    await new Promise((r) => setTimeout(r, pause));
    pause = Math.min(pause * 2, 10_000);
  }
}

function start() {
  if (started) return;
  started = true;
  $("#forget-key").hidden = !storedKey();
  for (const view of Object.values(views)) view.init?.();
  window.addEventListener("hashchange", route);
  route();
  void refreshModels();
  void liveStream();
}

function askForKey(message) {
  const dialog = $("#key-dialog");
  setConnection("offline", "key needed");
  $("#key-error").textContent = message;
  if (!dialog.open) dialog.showModal();
  $("#key-input").focus();
}

/** Tries the server with the stored key (or none: a server may not want one). */
async function connect() {
  try {
    await api("/runtime/status");
    start();
  } catch (err) {
    if (err.status === 401) askForKey(storedKey() ? "The stored key was refused; enter the current one." : "");
    else setConnection("offline", `cannot reach the server: ${err.message}`);
  }
}

function init() {
  const dialog = $("#key-dialog");
  // nothing works without the key: Escape does not close the dialog
  dialog.addEventListener("cancel", (e) => e.preventDefault());
  $("#key-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const key = $("#key-input").value.trim();
    if (!key) return;
    storeKey(key);
    try {
      await api("/runtime/status");
    } catch (err) {
      if (err.status === 401) {
        storeKey("");
        $("#key-error").textContent = "That key was refused. Check auth.api_key in the provider config (or the file auth.api_key_file names).";
        return;
      }
    }
    $("#key-input").value = "";
    dialog.close();
    if (started) location.reload();
    else start();
  });
  $("#forget-key").addEventListener("click", () => {
    storeKey("");
    location.reload();
  });
  onAuthRequired(() => askForKey(storedKey() ? "The server refused the key; enter the current one." : ""));
  void connect();
}

init();
