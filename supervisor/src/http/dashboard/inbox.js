// The inbox (pending decisions, soonest deadline first) and the escalated view, with batch
// approval. The live feed reloads them; the time left ticks every second.

import { get, query, call, may } from "./api.js";
import { el, $, $$, toast, timeLeft } from "./dom.js";
import { card } from "./decision.js";

const state = { pending: [], escalated: [], loading: null, again: false };

/**
 * Reloads both lists. One load runs at a time; a reload asked for while one runs starts
 * another when it ends (the running one may have read the lists before the change).
 */
export function reload() {
  if (state.loading) {
    state.again = true;
    return state.loading;
  }
  state.loading = load().finally(() => {
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
      get("/api/brain/hitl/decisions/history" + query({ status: "escalated", limit: 200 })),
    ]);
    state.pending = pending.decisions;
    state.escalated = escalated.decisions.filter((d) => d.status === "escalated");
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

function render(where, decisions, empty) {
  const list = $(where);
  const focused = document.activeElement?.closest?.(".card")?.dataset.id;
  const picked = new Set($$(".card", list).filter((c) => $(".select", c)?.checked).map((c) => c.dataset.id));
  list.replaceChildren(...decisions.map((d) => card(d, hooks)));
  for (const c of $$(".card", list)) {
    if (picked.has(c.dataset.id) && $(".select", c)) $(".select", c).checked = true;
    if (c.dataset.id === focused) c.focus();
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
