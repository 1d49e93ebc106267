// The inbox (pending decisions, soonest deadline first) and the escalated view, with batch
// approval. The live feed reloads them; the time left ticks every second.

import { get, query, call, may, allPages } from "./api.js";
import { el, $, $$, toast, timeLeft } from "./dom.js";
import { card } from "./decision.js";

const state = { pending: [], escalated: [], loading: null, again: false, last: 0 };
/** Fewest milliseconds between two loads (a busy feed changes every 400 ms). */
const SPACING = 1000;

/**
 * Reloads both lists. One load runs at a time; a reload asked for while one runs starts
 * another when it ends (the running one may have read the lists before the change).
 */
export function reload() {
  if (state.loading) {
    state.again = true;
    return state.loading;
  }
  const wait = Math.max(0, state.last + SPACING - Date.now());
  state.loading = new Promise((resolve) => setTimeout(resolve, wait)).then(load).finally(() => {
    state.last = Date.now();
    state.loading = null;
    if (state.again) {
      state.again = false;
      reload();
    }
  });
  return state.loading;
}

async function load() {
  const workflow = $("#inbox-workflow").value;
  try {
    const [pending, escalated] = await Promise.all([
      get("/api/hitl/pending" + query({ workflow, limit: 200 })),
      allPages("/api/brain/hitl/decisions/history", { status: "escalated" }, 500),
    ]);
    state.pending = pending.decisions;
    state.escalated = escalated.filter((d) => d.status === "escalated");
  } catch (e) {
    toast(`Inbox: ${e.message}`, false);
    return;
  }
  render("#inbox-list", state.pending, "Nothing waits for a person.");
  render("#escalated-list", state.escalated, "No escalated decisions.");
  $("#count-inbox").textContent = state.pending.length || "";
  $("#count-escalated").textContent = state.escalated.length || "";
  selection();
}

const hooks = { changed: () => reload(), selection: () => selection() };

/** Which control of a card has the focus: the card itself, or one of its parts. */
function focusOf(list) {
  const active = document.activeElement;
  const owner = active?.closest?.(".card");
  if (!owner || !list.contains(owner)) return null;
  const part = active === owner ? null : active.dataset.act ? `[data-act=${active.dataset.act}]` : active.classList.contains("feedback") ? ".feedback" : active.classList.contains("select") ? ".select" : null;
  return { id: owner.dataset.id, part };
}

function render(where, decisions, empty) {
  const list = $(where);
  // What a person had under way survives the re-render: selections, typed feedback, focus.
  const focus = focusOf(list);
  const kept = new Map($$(".card", list).map((c) => [c.dataset.id, { picked: $(".select", c)?.checked, feedback: $(".feedback", c)?.value }]));
  list.replaceChildren(...decisions.map((d) => card(d, hooks)));
  for (const c of $$(".card", list)) {
    const was = kept.get(c.dataset.id);
    if (was?.picked && $(".select", c)) $(".select", c).checked = true;
    if (was?.feedback && $(".feedback", c)) $(".feedback", c).value = was.feedback;
    if (focus?.id === c.dataset.id) (focus.part ? $(focus.part, c) : c)?.focus();
  }
  if (!decisions.length) list.append(el("p", { class: "empty" }, empty));
}

/** The ids of the selected cards of the inbox. */
function selected() {
  return $$("#inbox-list .card").filter((c) => $(".select", c)?.checked).map((c) => c.decision);
}

function selection() {
  const picked = selected();
  $("#batch").hidden = !may("approver") || picked.length === 0;
  $("#batch-count").textContent = `${picked.length} selected`;
}

/** Approves the selected decisions in one batch; shows each one's result. */
async function approveSelected() {
  const picked = selected();
  if (!picked.length) return;
  const decisions = picked.map((d) => ({ decision_id: d.decision_id, action: "approve", payload_hash: d.payload_hash }));
  const out = $("#batch-results");
  try {
    const answer = await call("POST", "/api/hitl/decision", { decisions });
    out.replaceChildren(el("p", {}, `${answer.succeeded} of ${answer.count} approved`),
      el("ul", {}, answer.results.map((r) => el("li", { class: r.ok ? "ok" : "err" },
        `${r.decision_id}: ${r.ok ? r.result.status : `${r.status_code} ${r.error?.detail || ""}`}`))));
    out.hidden = false;
  } catch (e) {
    toast(`Batch: ${e.message}`, false);
  }
  reload();
}

/** Forgets what the page showed (on sign-out). */
export function clear() {
  state.pending = [];
  state.escalated = [];
  $("#inbox-list").replaceChildren();
  $("#escalated-list").replaceChildren();
  $("#batch-results").replaceChildren();
  $("#batch-results").hidden = true;
  $("#count-inbox").textContent = "";
  $("#count-escalated").textContent = "";
  selection();
}

export function setup() {
  $("#batch-approve").addEventListener("click", approveSelected);
  $("#batch-clear").addEventListener("click", () => {
    for (const box of $$("#inbox-list .select")) box.checked = false;
    $("#batch-results").hidden = true;
    selection();
  });
  $("#inbox-workflow").addEventListener("change", reload);
  // The time left of every card, each second.
  setInterval(() => {
    for (const node of $$("[data-expires]")) node.textContent = timeLeft(node.dataset.expires);
  }, 1000);
}

/** Fills a workflow filter with the configured workflows. */
export function workflowChoices(select, ids) {
  const current = select.value;
  select.replaceChildren(el("option", { value: "" }, "all"), ...ids.map((id) => el("option", { value: id }, id)));
  select.value = ids.includes(current) ? current : "";
}
