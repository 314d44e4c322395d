// Every call the dashboard makes goes through here: the public API, with the key the user gave (if any).

const KEY_STORAGE = "zombiecoder.apiKey";

export function storedKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) ?? "";
  } catch {
    return "";
  }
}

export function storeKey(key) {
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
}

/** Raised for any answer that is not a success; `status` 401 means the key is missing or wrong. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const authListeners = new Set();

/** Called when a call is refused for its key, so the page can ask for it again. */
export function onAuthRequired(fn) {
  authListeners.add(fn);
}

function headers(extra = {}) {
  const h = {...extra};
  const key = storedKey();
  if (key) h["x-api-key"] = key;
  return h;
}

/** The message of any of the server's error shapes (Ollama's, OpenAI's, Anthropic's, the downloads'). */
function errorMessage(body, status) {
  if (body && typeof body === "object") {
    const e = body.error;
    if (typeof e === "string") return e;
    if (e && typeof e.message === "string") return e.message;
  }
  return typeof body === "string" && body ? body : `HTTP ${status}`;
}

async function failure(res) {
  const text = await res.text().catch(() => "");
  let body = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: the text is the message
  }
  const err = new ApiError(res.status, errorMessage(body, res.status));
  if (res.status === 401) for (const fn of authListeners) fn(err);
  return err;
}

/** A JSON call; `body` is sent as JSON. Resolves with the parsed answer. */
export async function api(path, {method = "GET", body, signal} = {}) {
  const init = {method, headers: headers(body === undefined ? {} : {"content-type": "application/json"}), signal};
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await fetch(path, init);
  if (!res.ok) throw await failure(res);
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

/**
 * Reads a server-sent event stream (fetch, not EventSource, which cannot send the key). Calls `onEvent(name, data)`
 * for each event, with `data` parsed when it is JSON; resolves when the stream ends. `onOpen(response)` runs once the
 * headers are in.
 */
export async function sse(path, {method = "GET", body, signal, onEvent, onOpen} = {}) {
  const init = {method, headers: headers({accept: "text/event-stream", ...(body === undefined ? {} : {"content-type": "application/json"})}), signal};
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await fetch(path, init);
  if (!res.ok) throw await failure(res);
  onOpen?.(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length === 0) continue;
      const text = data.join("\n");
      let parsed = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // a plain-text payload, such as OpenAI's [DONE]
      }
      onEvent(event, parsed);
    }
  }
}

/** A path segment for a model name (names may hold `/` and `:`, which the routes take as they are). */
export function modelPath(name) {
  return name.split("/").map(encodeURIComponent).join("/");
}
