// Small DOM and formatting helpers. Text always goes in as text (never as HTML): names and log lines come from
// files and clients, not from us.

/** h("td", {class: "num"}, "12") — attributes, then children (strings become text nodes; null is skipped). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) if (c != null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

const UNITS = ["B", "KB", "MB", "GB", "TB"];

export function bytes(n) {
  if (n == null || !Number.isFinite(n)) return "—";
  let v = n;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${UNITS[i]}`;
}

export function ms(n) {
  if (n == null || !Number.isFinite(n)) return "—";
  if (n < 1000) return `${Math.round(n)} ms`;
  if (n < 60_000) return `${(n / 1000).toFixed(n < 10_000 ? 2 : 1)} s`;
  return `${Math.floor(n / 60_000)} m ${Math.round((n % 60_000) / 1000)} s`;
}

export function seconds(s) {
  return s == null || !Number.isFinite(s) ? "—" : ms(s * 1000);
}

/** "12 s ago", "3 min ago", or the date for anything older than a day. */
export function ago(iso) {
  if (!iso) return "—";
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return "—";
  const d = Math.max(0, Date.now() - t) / 1000;
  if (d < 5) return "just now";
  if (d < 60) return `${Math.round(d)} s ago`;
  if (d < 3600) return `${Math.round(d / 60)} min ago`;
  if (d < 86400) return `${Math.round(d / 3600)} h ago`;
  return new Date(t).toLocaleDateString();
}

export function clock(iso) {
  const t = iso ? new Date(iso) : new Date();
  return t.toLocaleTimeString([], {hour12: false});
}

/** A stable colour per model name, so a model keeps its colour in the memory bar. */
export function colourOf(name) {
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return `hsl(${hash % 360} 55% 50%)`;
}

/** Copies text; falls back to a selection where the Clipboard API is not allowed (plain http beyond localhost). */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = h("textarea", {readonly: true, style: null}, text);
    area.className = "offscreen";
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

/** The page's own confirmation dialog (a native confirm() would block the page's live updates). */
export function confirmAction(title, text, okLabel = "OK") {
  const dialog = $("#confirm-dialog");
  $("#confirm-title").textContent = title;
  $("#confirm-text").textContent = text;
  $("#confirm-ok").textContent = okLabel;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), {once: true});
  });
}
