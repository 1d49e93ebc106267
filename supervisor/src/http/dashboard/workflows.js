// Workflows (admins): the HITL switch, the threshold slider, the autonomy level, the approver
// rules, each workflow's figures, and who changed what (the audit trail).

import { get, call } from "./api.js";
import { el, $, toast, percent, duration, when, fixed } from "./dom.js";

const LEVELS = ["supervised", "assisted", "monitored", "autonomous", "adaptive"];
let onChange = () => {};

async function change(id, method, path, what) {
  const control = document.activeElement?.id;
  try {
    await call(method, `/api/brain/hitl/workflows/${encodeURIComponent(id)}/${path}`);
    toast(`${id}: ${what}`);
  } catch (e) {
    toast(`${id}: ${e.message}`, false);
  }
  await reload();
  // The cards are rebuilt: the control that was in use keeps the focus.
  if (control) document.getElementById(control)?.focus();
  onChange();
}

function workflowCard(w, m = {}, changes) {
  const id = w.workflow_id;
  const slug = id.replace(/[^a-z0-9_-]/gi, "-");
  const toggle = el("input", { type: "checkbox", id: `hitl-${slug}`, checked: w.hitl_enabled, role: "switch" });
  toggle.addEventListener("change", () => change(id, "POST", `toggle?enabled=${toggle.checked}`, `people ${toggle.checked ? "decide" : "no longer decide"}`));
  const shown = el("output", { for: `threshold-${slug}` }, fixed(w.confidence_threshold));
  const slider = el("input", { type: "range", id: `threshold-${slug}`, min: 0, max: 1, step: 0.01, value: w.confidence_threshold, class: "threshold" });
  slider.addEventListener("input", () => { shown.textContent = fixed(Number(slider.value)); });
  // Arrow keys change the value a step at a time: one request once the slider rests.
  let resting = null;
  slider.addEventListener("change", () => {
    clearTimeout(resting);
    resting = setTimeout(() => change(id, "PUT", `confidence?threshold=${slider.value}`, `threshold ${slider.value}`), 600);
  });
  const level = el("select", { id: `autonomy-${slug}` }, LEVELS.map((l) => el("option", { value: l, selected: l === w.autonomy_level }, l)));
  level.addEventListener("change", () => change(id, "PUT", `autonomy?level=${level.value}`, `autonomy ${level.value}`));
  const decided = m.decided || {};
  const approvers = (w.approvers || []).length ? w.approvers.join(", ") : "any approver";
  return el("article", { class: "card workflow", "data-id": id, "aria-labelledby": `wf-${slug}` },
    el("header", {}, el("h3", { id: `wf-${slug}` }, id), el("span", { class: "muted" }, w.description || w.service || "")),
    el("div", { class: "controls" },
      el("label", { for: `hitl-${slug}`, class: "switch" }, toggle, " People decide (HITL)"),
      el("label", { for: `threshold-${slug}` }, "Confidence threshold ", shown), slider,
      el("label", { for: `autonomy-${slug}` }, "Autonomy level"), level),
    el("dl", { class: "facts" },
      el("dt", {}, "Approvers"), el("dd", {}, `${w.required_approvals || 1} of ${approvers}`),
      el("dt", {}, "Pending deadline"), el("dd", {}, `${duration(w.pending_ttl_seconds)}, then ${w.expiry_policy || "–"}`),
      el("dt", {}, "Pending"), el("dd", {}, String(m.pending ?? 0)),
      el("dt", {}, "Decided"), el("dd", {}, Object.entries(decided).map(([k, v]) => `${k} ${v}`).join(" · ") || "none yet"),
      el("dt", {}, "Approval rate"), el("dd", {}, percent(m.approval_rate)),
      el("dt", {}, "Time to decision"), el("dd", {}, `p50 ${duration(m.time_to_decision_seconds?.p50)} · p95 ${duration(m.time_to_decision_seconds?.p95)}`)),
    el("h4", {}, "Changes"),
    changes.length
      ? el("ol", { class: "changes" }, changes.map((c) => el("li", {},
        el("time", { datetime: c.at }, when(c.at)), " ", el("strong", {}, c.by?.user || "?"),
        c.by?.from ? ` (${c.by.from})` : "", ` ${c.field}: ${JSON.stringify(c.before)} → ${JSON.stringify(c.after)}`,
        c.reason ? ` — ${c.reason}` : "")))
      : el("p", { class: "muted" }, "No change since it was configured."));
}

export async function reload() {
  try {
    const [workflows, metrics, audit] = await Promise.all([
      get("/api/brain/hitl/workflows"), get("/api/hitl/metrics"), get("/api/hitl/audit?limit=500")]);
    const list = $("#workflows-list");
    list.replaceChildren(...workflows.details.map((w) => workflowCard(w, metrics.workflows?.[w.workflow_id],
      audit.entries.filter((e) => e.workflow_id === w.workflow_id).slice(0, 5))));
  } catch (e) {
    toast(`Workflows: ${e.message}`, false);
  }
}

export function setup(changed) {
  onChange = changed;
}
