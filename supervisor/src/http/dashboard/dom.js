// Building the page. Every value from the API goes in as text (a text node or textContent),
// never as HTML: decisions carry model output and other systems' data.

/** An element: `el("button", {class: "x", onclick: f, "aria-label": "y"}, "text", child)`. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value == null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** A message in the status area (read out by screen readers). */
export function toast(text, ok = true) {
  const area = $("#toast");
  const item = el("div", { class: ok ? "toast ok" : "toast err", role: ok ? "status" : "alert" }, text);
  area.append(item);
  setTimeout(() => item.remove(), ok ? 4000 : 8000);
}

export const percent = (x) => (x == null || Number.isNaN(x) ? "–" : `${Math.round(x * 100)} %`);
export const fixed = (x, digits = 2) => (typeof x === "number" ? x.toFixed(digits) : "–");

/** A duration in seconds, short: 42 s, 7 min, 3 h 5 min, 2 d. */
export function duration(seconds) {
  if (seconds == null || Number.isNaN(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) {
    const minutes = Math.round(s / 60);
    return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  }
  return `${Math.round(s / 86400)} d`;
}

/** Time left until an RFC 3339 instant, or "expired". */
export function timeLeft(expires) {
  const s = (Date.parse(expires) - Date.now()) / 1000;
  return Number.isNaN(s) ? "–" : s <= 0 ? "expired" : duration(s);
}

/** A local date and time for an RFC 3339 instant. */
export function when(instant) {
  const t = Date.parse(instant);
  return Number.isNaN(t) ? "–" : new Date(t).toLocaleString();
}

/** Why a person decides, by kind: the policy, low confidence or a possible prompt injection. */
export function reasonKind(reason) {
  const text = String(reason);
  if (text.startsWith("possible_prompt_injection")) return { kind: "injection", label: "Possible prompt injection" };
  if (text.startsWith("confidence")) return { kind: "confidence", label: "Low confidence" };
  return { kind: "policy", label: "Policy rule" };
}

/** What would execute, one entry per action: its name and its amounts, targets and note. */
export function actionParts(proposal) {
  const actions = Array.isArray(proposal?.actions) ? proposal.actions : [];
  return actions.map((a) => {
    const facts = [];
    for (const [key, value] of Object.entries(a || {})) {
      if (key === "action" || key === "note" || value == null || typeof value === "object") continue;
      facts.push([key.replaceAll("_", " "), typeof value === "number" ? value.toLocaleString() : String(value)]);
    }
    return { action: String(a?.action ?? "?"), facts, note: a?.note ? String(a.note) : null };
  });
}

/** A definition list of an object's scalar fields (nested objects as indented JSON). */
export function facts(object) {
  const list = el("dl", { class: "facts" });
  for (const [key, value] of Object.entries(object || {})) {
    list.append(el("dt", {}, key.replaceAll("_", " ")));
    list.append(value !== null && typeof value === "object"
      ? el("dd", {}, el("pre", {}, JSON.stringify(value, null, 2)))
      : el("dd", {}, String(value)));
  }
  return list;
}

/** A date input's `YYYY-MM-DD` as the RFC 3339 instant of that local day's start (or end). */
export function localDay(date, end = false) {
  const [y, m, d] = String(date).split("-").map(Number);
  if (!y || !m || !d) return null;
  const start = new Date(y, m - 1, d);
  return (end ? new Date(new Date(y, m - 1, d + 1).getTime() - 1) : start).toISOString();
}

/**
 * CSV text of rows (arrays of values), RFC 4180 quoting. A cell that a spreadsheet would run
 * as a formula (starting with = + - @, tab or carriage return) gets a leading apostrophe.
 */
export function csv(rows) {
  const cell = (value) => {
    let text = value == null ? "" : String(value);
    if (/^[=+\-@\t\r\n]/.test(text)) text = "'" + text;
    // Quoted also for `;` and tab: spreadsheets in many locales split cells on those.
    return /[",;\t\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return rows.map((row) => row.map(cell).join(",")).join("\r\n") + "\r\n";
}

/** Offers `text` as a file download. */
export function download(name, text, type = "text/csv") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = el("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
