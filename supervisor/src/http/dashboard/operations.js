// Operations (admins): this replica's queues (backlog, in flight, rates, outcomes) with pause,
// resume and scale, and the live actor tree.

import { get, call } from "./api.js";
import { el, $, toast, fixed } from "./dom.js";

async function act(queue, method, path, what) {
  try {
    await call(method, `/api/supervisor/queues/${encodeURIComponent(queue)}/${path}`);
    toast(`${queue}: ${what}`);
  } catch (e) {
    toast(`${queue}: ${e.message}`, false);
  }
  reload(true);
}

function queueRow(q) {
  const counts = q.activity?.counts || {};
  const backlog = q.backlog ? `${q.backlog.ready ?? "?"} ready${q.backlog.unacked != null ? ` · ${q.backlog.unacked} unacked` : ""}` : "–";
  const scale = el("input", { type: "number", min: 1, max: 1024, value: q.concurrency, class: "narrow", "aria-label": `concurrency of ${q.queue}` });
  const pause = q.paused
    ? el("button", { type: "button", onclick: () => act(q.queue, "POST", "resume", "resumed") }, "Resume")
    : el("button", { type: "button", onclick: () => act(q.queue, "POST", "pause", "paused") }, "Pause");
  return el("tr", { "data-queue": q.queue },
    el("th", { scope: "row" }, q.queue),
    el("td", {}, el("span", { class: `state ${q.state}` }, q.state), q.last_error ? el("div", { class: "err small" }, q.last_error) : null),
    el("td", {}, backlog),
    // In flight: every task not yet settled; deciding: those holding a slot (until routed).
    el("td", {}, `${q.in_flight} · ${q.busy ?? 0} deciding (${Math.round((q.utilization || 0) * 100)} %)`),
    el("td", {}, String(q.concurrency), q.pinned ? " (pinned)" : ""),
    el("td", {}, fixed(q.per_second_1m, 1)),
    el("td", {}, String(counts.executed ?? 0)),
    el("td", {}, String(counts.hitl ?? 0)),
    el("td", {}, String(counts.dead_lettered ?? 0)),
    el("td", { class: "row-actions" }, pause, scale,
      el("button", { type: "button", onclick: () => act(q.queue, "PUT", `concurrency?value=${scale.value}`, `concurrency ${scale.value}`) }, "Scale")));
}

function treeNode(node) {
  const label = el("span", {}, el("strong", {}, node.actor || node.id || "?"), " ",
    el("span", { class: `state ${node.state}` }, node.state || ""), node.restarts ? ` · ${node.restarts} restarts` : "");
  const children = node.children || [];
  return el("li", {}, label, children.length ? el("ul", {}, children.map(treeNode)) : null);
}

/** Reloads the view; the periodic refresh (`force` unset) waits while a row control has focus. */
export async function reload(force = false) {
  // Someone typing a concurrency or about to press a button: the refresh waits.
  if (force !== true && document.activeElement?.closest?.("#operations-queues tbody")) return;
  try {
    const tree = await get("/api/supervisor/tree");
    $("#operations-queues tbody").replaceChildren(...tree.queues.map(queueRow));
    $("#operations-tree").replaceChildren(el("ul", {}, treeNode(tree.root || {})));
    const r = tree.replica || {};
    $("#operations-replica").textContent = `replica ${r.id || "?"} on ${r.host || "?"} (pid ${r.pid || "?"})`;
  } catch (e) {
    toast(`Operations: ${e.message}`, false);
  }
}
