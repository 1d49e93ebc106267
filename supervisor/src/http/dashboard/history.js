// The history: decided decisions, newest first, filtered by workflow, date range, outcome,
// approver, confidence and text; a decision's detail and timeline; CSV export of what the
// filters select (every page, up to 5,000 decisions).

import { get, query, allPages } from "./api.js";
import { el, $, toast, fixed, when, csv, download, localDay } from "./dom.js";
import { open } from "./decision.js";

const PATH = "/api/brain/hitl/decisions/history";
let cursor = null;
let generation = 0;

/** The filters as the API's query parameters. */
function filters() {
  const form = new FormData($("#history-filters"));
  const params = {};
  for (const [k, v] of form.entries()) if (String(v).trim() !== "") params[k] = String(v).trim();
  // The date fields are this browser's local days, like the times shown.
  if (params.from) params.from = localDay(params.from);
  if (params.to) params.to = localDay(params.to, true);
  return params;
}

function row(d) {
  const tr = el("tr", { tabindex: 0, class: "clickable", "data-id": d.decision_id },
    el("td", {}, when(d.decided_at)),
    el("td", {}, el("button", { type: "button", class: "link", onclick: () => open(d, {}) }, d.decision_id)),
    el("td", {}, d.workflow_id),
    el("td", {}, el("span", { class: `outcome ${d.status}` }, d.status), d.edited ? " (edited)" : ""),
    el("td", {}, fixed(d.confidence)),
    el("td", {}, d.decided_by || "–"),
    el("td", { class: "feedback-cell" }, d.feedback || ""));
  tr.addEventListener("keydown", (ev) => { if (ev.key === "Enter" && ev.target === tr) open(d, {}); });
  return tr;
}

/** Loads the first page (`more`: the next one, appended). */
export async function reload(more = false) {
  const body = $("#history-table tbody");
  const mine = ++generation;
  try {
    const page = await get(PATH + query({ ...filters(), limit: 100, cursor: more ? cursor : null }));
    if (mine !== generation) return; // a later reload's answer counts
    if (!more) body.replaceChildren();
    body.append(...page.decisions.map(row));
    cursor = page.next_cursor;
    $("#history-more").hidden = !cursor;
    const shown = body.children.length;
    $("#history-count").textContent = shown
      ? `${shown} decision${shown === 1 ? "" : "s"} shown${cursor ? " (more below)" : ""}`
      : cursor ? "No match among the decisions read so far: load more to search further back." : "No decision matches.";
  } catch (e) {
    toast(`History: ${e.message}`, false);
  }
}

const COLUMNS = ["decision_id", "task_id", "workflow_id", "agent", "status", "confidence", "created_at", "decided_at", "decided_by", "edited", "feedback", "actions", "model_summary"];

async function exportCsv() {
  try {
    const decisions = await allPages(PATH, filters());
    const rows = [COLUMNS, ...decisions.map((d) => {
      const proposal = d.edited || d.decision_data?.proposal || {};
      const actions = (Array.isArray(proposal.actions) ? proposal.actions : []).map((a) => a?.action).join(" ");
      return [d.decision_id, d.task_id, d.workflow_id, d.agent, d.status, d.confidence, d.created_at, d.decided_at,
        d.decided_by, d.edited ? "yes" : "no", d.feedback, actions, d.decision_data?.proposal?.summary];
    })];
    download(`overseer-decisions-${new Date().toISOString().slice(0, 10)}.csv`, csv(rows));
    toast(`Exported ${decisions.length} decisions`);
  } catch (e) {
    toast(`Export: ${e.message}`, false);
  }
}

export function setup() {
  $("#history-filters").addEventListener("submit", (ev) => { ev.preventDefault(); reload(); });
  $("#history-more").addEventListener("click", () => reload(true));
  $("#history-csv").addEventListener("click", exportCsv);
}
