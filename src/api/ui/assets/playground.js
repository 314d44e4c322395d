// The playground: a streaming chat with any model over /v1/chat/completions, with the timings a user checks first.

import {sse} from "./api.js";
import {$, h, ms} from "./dom.js";
import {chatModels, onModels} from "./store.js";

let history = [];
let running = null;

function bubble(role, text = "") {
  const el = h("div", {class: `msg ${role}`, "data-role": role}, text);
  $("#play-log").append(el);
  $("#play-log").scrollTop = $("#play-log").scrollHeight;
  return el;
}

function timings(t) {
  const parts = [`served by ${t.model ?? "?"}`];
  if (t.firstToken != null) parts.push(`first token ${ms(t.firstToken - t.start)}`);
  if (t.usage) {
    parts.push(`${t.usage.prompt_tokens} prompt tokens`, `${t.usage.completion_tokens} generated`);
    const span = t.end - (t.firstToken ?? t.start);
    if (t.usage.completion_tokens > 1 && span > 0) parts.push(`${((t.usage.completion_tokens - 1) / (span / 1000)).toFixed(1)} tokens/s`);
  }
  if (t.finish) parts.push(`finish: ${t.finish}`);
  parts.push(`total ${ms(t.end - t.start)}`);
  return parts.join(" · ");
}

async function send(text) {
  const model = $("#play-model").value;
  if (!model || running) return;
  $("#play-error").textContent = "";
  delete $("#play-timings").dataset.done;
  history.push({role: "user", content: text});
  bubble("user", text);
  const out = bubble("assistant");
  const t = {start: performance.now(), firstToken: null, end: 0, usage: null, finish: null, model: null};
  let answer = "";
  running = new AbortController();
  $("#play-send").hidden = true;
  $("#play-stop").hidden = false;
  $("#play-timings").textContent = "waiting for the first token… (a model that is not loaded loads first)";
  try {
    await sse("/v1/chat/completions", {
      method: "POST",
      signal: running.signal,
      body: {
        model, messages: history, stream: true, stream_options: {include_usage: true},
        max_tokens: Number($("#play-max").value) || 256, temperature: Number($("#play-temp").value)
      },
      onOpen: (res) => {
        t.model = res.headers.get("x-zombiecoder-model");
      },
      onEvent: (_name, chunk) => {
        if (!chunk || typeof chunk !== "object") return;
        if (chunk.error) throw new Error(chunk.error.message ?? "the stream failed");
        if (chunk.usage) t.usage = chunk.usage;
        for (const c of chunk.choices ?? []) {
          const piece = c.delta?.content ?? "";
          if (piece) {
            t.firstToken ??= performance.now();
            answer += piece;
            out.textContent = answer;
          }
          if (c.finish_reason) t.finish = c.finish_reason;
        }
        $("#play-log").scrollTop = $("#play-log").scrollHeight;
      }
    });
    history.push({role: "assistant", content: answer});
  } catch (err) {
    if (running.signal.aborted) {
      history.push({role: "assistant", content: answer});
      t.finish = "stopped";
    } else {
      $("#play-error").textContent = err.message;
      history.pop();
      if (!answer) out.remove();
    }
  } finally {
    t.end = performance.now();
    $("#play-timings").textContent = timings(t);
    $("#play-timings").dataset.done = "true";
    running = null;
    $("#play-send").hidden = false;
    $("#play-stop").hidden = true;
  }
}

function fillModels() {
  const select = $("#play-model");
  const current = select.value;
  const names = chatModels();
  select.replaceChildren(...names.map((n) => h("option", {value: n}, n)));
  if (names.includes(current)) select.value = current;
}

export function init() {
  onModels(fillModels);
  const input = $("#play-input");
  $("#play-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    void send(text);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      $("#play-form").requestSubmit();
    }
  });
  $("#play-stop").addEventListener("click", () => running?.abort());
  $("#play-reset").addEventListener("click", () => {
    running?.abort();
    history = [];
    $("#play-log").replaceChildren();
    $("#play-timings").textContent = "";
    delete $("#play-timings").dataset.done;
  });
}

export function show() {
  fillModels();
}
