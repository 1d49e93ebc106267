// One decision: its card in the inbox and its detail (payload, proposal, editor, timeline).

import { call, decide, may } from "./api.js";
import { el, $, toast, fixed, timeLeft, when, reasonKind, actionParts, facts } from "./dom.js";

/** The proposal that would execute: the approver's edit, or the model's. */
const proposalOf = (d) => d.decision_data?.proposal || {};

function confidence(d) {
  const p = d.confidence_parts || {};
  const parts = [`model ${fixed(p.model)}`, `completeness ${fixed(p.completeness)}`];
  if (p.logprob != null) parts.push(`token probability ${fixed(p.logprob)}`);
  return el("div", { class: "confidence" },
    el("meter", { min: 0, max: 1, low: 0.5, high: 0.8, optimum: 1, value: d.confidence, "aria-label": "confidence" }),
    el("strong", {}, fixed(d.confidence)),
    el("span", { class: "muted" }, parts.join(" · ")));
}

function reasons(d) {
  const list = el("ul", { class: "reasons", "aria-label": "why a person decides" });
  for (const r of d.reasons || []) {
    const { kind, label } = reasonKind(r);
    list.append(el("li", { class: `reason ${kind}` }, el("strong", {}, label), " ", String(r)));
  }
  if (!list.children.length) list.append(el("li", { class: "reason policy" }, "The workflow asks a person"));
  return list;
}

function actions(proposal) {
  const parts = actionParts(proposal);
  if (!parts.length) return el("p", { class: "muted" }, "No actions proposed.");
  return el("ul", { class: "actions", "aria-label": "proposed actions" }, parts.map((a) =>
    el("li", {}, el("strong", {}, a.action),
      a.facts.map(([k, v]) => el("span", { class: "fact" }, el("span", { class: "muted" }, k), " ", v)),
      a.note ? el("span", { class: "note" }, a.note) : null)));
}

function summary(proposal) {
  if (!proposal.summary) return null;
  return el("figure", { class: "model" },
    el("figcaption", {}, "The model's summary (written by the model, not checked)"),
    el("blockquote", {}, String(proposal.summary)));
}

/** The card of a decision in a list; `hooks.changed()` after it was decided. */
export function card(d, hooks) {
  const kind = d.decision_data?.task?.kind;
  const proposal = proposalOf(d);
  const feedback = el("input", { type: "text", class: "feedback", placeholder: "Feedback for the agent's team", "aria-label": `feedback on ${d.decision_id}` });
  const node = el("article", { class: "card", tabindex: 0, "data-id": d.decision_id, "aria-label": `Decision ${d.decision_id}, ${d.workflow_id}, confidence ${fixed(d.confidence)}` },
    el("header", {},
      el("h3", {}, d.workflow_id),
      el("span", { class: "muted" }, [d.agent, kind].filter(Boolean).join(" · ")),
      el("span", { class: "grow" }),
      el("span", { class: "left", "data-expires": d.expires_at, title: `deadline ${when(d.expires_at)}` }, timeLeft(d.expires_at))),
    confidence(d), reasons(d), actions(proposal), summary(proposal),
    el("p", { class: "id muted" }, d.decision_id, " · task ", d.task_id));
  if (d.status === "escalated") node.classList.add("escalated");
  const footer = el("footer", {});
  if (may("approver")) {
    const select = el("input", { type: "checkbox", class: "select", "aria-label": `select ${d.decision_id} for batch approval` });
    select.addEventListener("change", () => hooks.selection?.());
    footer.append(el("label", { class: "pick" }, select, "select"), feedback,
      el("button", { type: "button", class: "primary", "data-act": "approve", onclick: () => quick(d, "approve", feedback.value, hooks) }, "Approve"),
      el("button", { type: "button", "data-act": "edit", onclick: () => open(d, hooks, { edit: true }) }, "Edit & approve"),
      el("button", { type: "button", class: "danger", "data-act": "reject", onclick: () => quick(d, "reject", feedback.value, hooks) }, "Reject"));
  }
  footer.append(el("button", { type: "button", class: "quiet", "data-act": "open", onclick: () => open(d, hooks) }, "Details"));
  node.append(footer);
  node.decision = d;
  return node;
}

export async function quick(d, verdict, feedback, hooks) {
  if (verdict === "reject" && !feedback.trim()) {
    // A rejection says what was wrong: ask for it in the detail.
    open(d, hooks, { reject: true });
    return;
  }
  await send(d, verdict, feedback, undefined, hooks);
}

async function send(d, verdict, feedback, edited, hooks) {
  try {
    const answer = await decide(d, verdict, feedback, edited);
    toast(`${d.decision_id}: ${answer.status}${answer.edited ? " (edited)" : ""}`);
    hooks.changed?.();
    return true;
  } catch (e) {
    toast(`${d.decision_id}: ${e.message}`, false);
    return false;
  }
}

/** The timeline of a decision, from what the store keeps of it. */
function timeline(d) {
  const effectNames = {
    completion: "completion published on ai.completions",
    domain: "the agent's domain event published",
    decision: "decision event on hitl.decisions",
    feedback: "feedback on hitl.feedback",
    training: "training example on hitl_training",
    adaptive: "adaptive threshold updated",
    audit: "audit record on audit.trail",
    exception: "sent to hitl_exceptions",
  };
  const steps = [[d.created_at, "Parked", `came to a person: ${(d.reasons || []).join("; ") || "the workflow asks one"}; announced on hitl.requests`]];
  for (const n of d.notified || []) steps.push([n.at, "Notified", `${n.event} by ${n.via}`]);
  for (const who of d.approvals || []) steps.push([null, "Approval", `by ${who}`]);
  if (d.decided_at) {
    const by = d.decided_by ? ` by ${d.decided_by}` : "";
    const from = d.decided_from ? ` from ${d.decided_from}` : "";
    const edit = d.edited ? " with an edited proposal" : "";
    steps.push([d.decided_at, d.status[0].toUpperCase() + d.status.slice(1), `${by}${from}${edit}${d.feedback ? ` — “${d.feedback}”` : ""}`.trim()]);
    const done = d.effects_done || [];
    for (const e of done) steps.push([null, "Executed", effectNames[e] || e]);
    if (!done.length) steps.push([null, "Effects", "all durable (the outbox has finished), or still running"]);
  } else {
    steps.push([d.expires_at, "Deadline", `then ${d.status === "escalated" ? "already escalated" : "the workflow's expiry policy applies"}`]);
  }
  return el("ol", { class: "timeline" }, steps.map(([at, what, text]) =>
    el("li", {}, el("time", { datetime: at || "" }, at ? when(at) : ""), el("strong", {}, what), " ", text)));
}

let opening = 0;

/** The detail dialog of `d`; `edit` opens the editor at once. */
export async function open(summaryOf, hooks, { edit = false, reject = false } = {}) {
  const mine = ++opening;
  let d = summaryOf;
  try {
    d = await call("GET", `/api/brain/hitl/decisions/${encodeURIComponent(summaryOf.decision_id)}`);
  } catch (e) {
    toast(e.message, false);
  }
  // A later click won: its decision is the one the dialog shows.
  if (mine !== opening) return;
  const dialog = $("#detail");
  const body = $("#detail-body");
  const proposal = proposalOf(d);
  const decidable = may("approver") && (d.status === "pending_approval" || d.status === "escalated");
  body.replaceChildren(
    el("h2", { id: "detail-title", tabindex: -1 }, `${d.workflow_id} · ${d.decision_id}`),
    el("p", { class: "muted" }, `${d.agent} agent · task ${d.task_id} · ${d.status} · deadline ${when(d.expires_at)}`),
    confidence(d), reasons(d),
    el("h3", {}, "Proposed actions"), actions(d.edited || proposal),
    d.edited ? el("p", { class: "muted" }, "An approver edited this proposal; the edit is what executed.") : null,
    summary(proposal),
    el("h3", {}, "Timeline"), timeline(d),
    el("details", { open: true }, el("summary", {}, "The task's payload"), facts(d.decision_data?.task?.payload)),
    proposal.details ? el("details", {}, el("summary", {}, "The proposal's details"), facts(proposal.details)) : null);
  if (decidable) body.append(decisionForm(d, hooks, dialog, { edit, reject }));
  if (!dialog.open) dialog.showModal();
  const first = reject ? $("#detail-feedback") : edit ? $("#detail-editor") : $("#detail-title");
  first?.focus();
}

/** Feedback, the editor and the verdict buttons of the detail dialog. */
function decisionForm(d, hooks, dialog, { edit, reject }) {
  const proposal = proposalOf(d);
  const feedback = el("textarea", { id: "detail-feedback", rows: 2, placeholder: "What the agent's team should know" });
  const editable = { summary: proposal.summary, model_confidence: proposal.model_confidence, actions: proposal.actions, details: proposal.details };
  const editor = el("textarea", { id: "detail-editor", rows: 12, spellcheck: "false", autocomplete: "off", class: "code" });
  const original = JSON.stringify(editable, null, 2);
  editor.value = original;
  const verdict = el("p", { id: "edit-check", class: "muted", role: "status" }, "Unchanged: approving sends the proposal as shown.");
  const approveEdited = el("button", { type: "button", class: "primary", disabled: true, id: "approve-edited" }, "Approve with edit");
  let checked = null; // the editor text that last passed the check
  let timer = null;
  const check = async () => {
    const text = editor.value;
    let value;
    try {
      value = JSON.parse(text);
    } catch (e) {
      verdict.textContent = `Not JSON: ${e.message}`;
      verdict.className = "err";
      return;
    }
    if (JSON.stringify(value) === JSON.stringify(JSON.parse(original))) {
      verdict.textContent = "Unchanged: approving sends the proposal as shown.";
      verdict.className = "muted";
      return;
    }
    try {
      await call("POST", `/api/brain/hitl/decisions/${encodeURIComponent(d.decision_id)}/check-edit`, { edited: value });
      if (editor.value !== text) return;
      checked = text;
      verdict.textContent = "✓ Fits the agent's schema and the action policy.";
      verdict.className = "ok";
      approveEdited.disabled = false;
    } catch (e) {
      if (editor.value !== text) return;
      verdict.textContent = e.body?.detail || e.message;
      verdict.className = "err";
    }
  };
  editor.addEventListener("input", () => {
    approveEdited.disabled = true;
    checked = null;
    verdict.textContent = "Checking…";
    verdict.className = "muted";
    clearTimeout(timer);
    timer = setTimeout(check, 350);
  });
  const done = () => { dialog.close(); hooks.changed?.(); };
  approveEdited.addEventListener("click", async () => {
    if (checked !== editor.value) return;
    if (await send(d, "approve", feedback.value, JSON.parse(editor.value), hooks)) done();
  });
  const approve = el("button", { type: "button", class: "primary", id: "detail-approve", onclick: async () => {
    if (await send(d, "approve", feedback.value, undefined, hooks)) done();
  } }, "Approve as shown");
  const rejectButton = el("button", { type: "button", class: "danger", id: "detail-reject", onclick: async () => {
    if (!feedback.value.trim()) { toast("A rejection needs feedback.", false); feedback.focus(); return; }
    if (await send(d, "reject", feedback.value, undefined, hooks)) done();
  } }, "Reject");
  return el("section", { class: "decide", "aria-label": "decide" },
    el("label", { for: "detail-feedback" }, "Feedback"), feedback,
    el("details", { open: edit, id: "edit-section" }, el("summary", {}, "Edit the proposal before approving"),
      el("label", { for: "detail-editor" }, "Proposal (JSON: summary, model_confidence, actions, details)"), editor, verdict),
    el("div", { class: "buttons" }, approve, approveEdited, rejectButton));
}
