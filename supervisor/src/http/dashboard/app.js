// The dashboard: sign-in, the views (one per hash: #inbox, #escalated, #history, #analytics,
// #workflows, #operations), the live feed with browser notifications, keyboard shortcuts.

import { session, may, get, signIn, signOut, whoAmI, onSignedOut } from "./api.js";
import { $, $$, toast } from "./dom.js";
import * as inbox from "./inbox.js";
import * as history from "./history.js";
import * as analytics from "./analytics.js";
import * as workflows from "./workflows.js";
import * as operations from "./operations.js";
import { open, quick } from "./decision.js";

const VIEWS = {
  inbox: { reload: inbox.reload },
  escalated: { reload: inbox.reload },
  history: { reload: () => history.reload() },
  analytics: { reload: analytics.reload },
  workflows: { reload: workflows.reload, role: "admin" },
  operations: { reload: operations.reload, role: "admin", every: 3000 },
};
let current = null;
let poll = null;

function route() {
  if (!session.me) return;
  let name = location.hash.slice(1) || "inbox";
  if (!VIEWS[name] || (VIEWS[name].role && !may(VIEWS[name].role))) name = "inbox";
  current = name;
  for (const section of $$(".view")) section.hidden = section.id !== `view-${name}`;
  for (const link of $$("#nav a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  clearInterval(poll);
  VIEWS[name].reload();
  if (VIEWS[name].every) poll = setInterval(VIEWS[name].reload, VIEWS[name].every);
}

async function loadWorkflowChoices() {
  try {
    const list = await get("/api/brain/hitl/workflows");
    inbox.workflowChoices($("#inbox-workflow"), list.workflows);
    inbox.workflowChoices($("#history-filters select[name=workflow]"), list.workflows);
  } catch (e) {
    toast(`Workflows: ${e.message}`, false);
  }
}

function signedIn() {
  const me = session.me;
  $("#login").hidden = true;
  $("#nav").hidden = false;
  $("#logout").hidden = false;
  $("#who").textContent = `${me.subject} (${me.role})`;
  for (const link of $$("#nav a[data-role]")) link.hidden = !may(link.dataset.role);
  $("#notify").hidden = !("Notification" in window) || Notification.permission !== "default";
  loadWorkflowChoices();
  live.start();
  route();
}

function signedOut() {
  live.stop();
  clearInterval(poll);
  // Nothing of the last person's session stays on the page.
  for (const dialog of $$("dialog[open]")) dialog.close();
  inbox.clear();
  $("#history-table tbody").replaceChildren();
  $("#analytics-charts").replaceChildren();
  $("#workflows-list").replaceChildren();
  $("#operations-queues tbody").replaceChildren();
  $("#operations-tree").replaceChildren();
  $("#login").hidden = false;
  $("#nav").hidden = true;
  $("#logout").hidden = true;
  $("#notify").hidden = true;
  $("#who").textContent = "";
  for (const section of $$(".view")) section.hidden = true;
  $("#token").focus();
}

// The live feed: `hello` on every (re)connect reloads the inbox (the catch-up after a gap);
// `change` names what came and went. The browser reconnects by itself.
const live = {
  source: null,
  start() {
    this.stop();
    const source = new EventSource("/api/hitl/stream");
    this.source = source;
    const status = $("#live");
    source.addEventListener("open", () => { status.textContent = "live"; status.className = "live on"; });
    source.addEventListener("error", () => {
      status.textContent = "reconnecting…";
      status.className = "live off";
      // A refused reconnect (a proxy's 502, an expired session) closes the source for good:
      // check the session (a 401 signs out), then start again.
      if (source.readyState === EventSource.CLOSED) {
        setTimeout(() => whoAmI().then(() => { if (this.source === source) this.start(); }, () => {}), 3000);
      }
    });
    source.addEventListener("hello", () => inbox.reload());
    source.addEventListener("change", (ev) => {
      let change = {};
      try { change = JSON.parse(ev.data); } catch { /* a malformed event only reloads */ }
      inbox.reload();
      const filter = $("#inbox-workflow").value;
      // The ids say nothing of the workflow: with a filter set, the count is of all workflows.
      if (change.added?.length && !filter) notify(change.added.length);
    });
  },
  stop() {
    this.source?.close();
    this.source = null;
  },
};

function notify(count) {
  if (!("Notification" in window) || Notification.permission !== "granted" || !document.hidden) return;
  const n = new Notification("overseer", { body: `${count} new decision${count === 1 ? " waits" : "s wait"} for a person`, tag: "overseer-pending" });
  n.onclick = () => { window.focus(); location.hash = "#inbox"; n.close(); };
}

// Keyboard: j/k move, o/Enter open, a approve, r reject, x select, g+letter views, ? help.
const GO = { i: "inbox", e: "escalated", h: "history", n: "analytics", w: "workflows", p: "operations" };
let pendingG = false;
function cards() {
  return $$(`#view-${current} .card[data-id]`);
}
function onKey(ev) {
  if (!session.me || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const typing = ev.target.closest?.("input, textarea, select, [contenteditable]");
  if (typing || $("#detail").open || $("#help").open) return;
  if (pendingG) {
    pendingG = false;
    if (GO[ev.key]) { location.hash = `#${GO[ev.key]}`; ev.preventDefault(); }
    return;
  }
  const list = cards();
  const at = list.indexOf(document.activeElement?.closest?.(".card"));
  const focused = at >= 0 ? list[at] : null;
  const hooks = { changed: () => inbox.reload() };
  switch (ev.key) {
    case "j": case "k": {
      if (!list.length) return;
      const next = at < 0 ? 0 : Math.min(list.length - 1, Math.max(0, at + (ev.key === "j" ? 1 : -1)));
      list[next].focus();
      list[next].scrollIntoView({ block: "nearest" });
      break;
    }
    case "o": case "Enter":
      // Enter on a card's button presses the button.
      if (!focused || (ev.key === "Enter" && ev.target !== focused)) return;
      open(focused.decision, hooks);
      break;
    case "a":
      if (!focused || !may("approver")) return;
      quick(focused.decision, "approve", $(".feedback", focused)?.value || "", hooks);
      break;
    case "r":
      if (!focused || !may("approver")) return;
      quick(focused.decision, "reject", $(".feedback", focused)?.value || "", hooks);
      break;
    case "x": {
      const box = focused && $(".select", focused);
      if (!box) return;
      box.checked = !box.checked;
      box.dispatchEvent(new Event("change"));
      break;
    }
    case "g": pendingG = true; setTimeout(() => { pendingG = false; }, 1500); break;
    case "?": $("#help").showModal(); break;
    default: return;
  }
  ev.preventDefault();
}

function setup() {
  inbox.setup();
  history.setup();
  analytics.setup();
  workflows.setup(() => inbox.reload());
  onSignedOut(signedOut);
  window.addEventListener("hashchange", route);
  document.addEventListener("keydown", onKey);
  $("#help-open").addEventListener("click", () => $("#help").showModal());
  $("#logout").addEventListener("click", () => signOut());
  $("#notify").addEventListener("click", async () => {
    await Notification.requestPermission();
    $("#notify").hidden = Notification.permission !== "default";
  });
  $("#login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const token = $("#token").value.trim();
    $("#token").value = "";
    try {
      await signIn(token);
      $("#login-error").textContent = "";
      signedIn();
    } catch (e) {
      $("#login-error").textContent = `Sign-in failed: ${e.message}`;
    }
  });
}

setup();
whoAmI().then(signedIn, signedOut);
