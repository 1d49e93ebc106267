//! What each effect of a decided decision publishes (the outbox runs them): the approved
//! task's `ai.completions` and domain event, `hitl.decisions`, `hitl.feedback`, the
//! `audit.decision` entry, and the training record for `hitl_training`.

use super::PendingDecision;
use crate::events::completion::{Approval, Completion, Envelope};
use crate::events::event;
use serde_json::{json, Value};

/// What executes: the approver's edit when there is one, else the agent's proposal.
pub(super) fn executed(d: &PendingDecision) -> &Value {
    d.edited.as_ref().unwrap_or(&d.decision_data["proposal"])
}

pub(super) fn completion(d: &PendingDecision) -> Value {
    Completion {
        envelope: Envelope::new("ai.completion", &d.task_id),
        queue: d.queue.clone(),
        agent: d.agent.clone(),
        workflow: d.workflow_id.clone(),
        confidence: d.confidence,
        confidence_parts: serde_json::to_value(d.confidence_parts).unwrap_or_default(),
        execution_mode: "hitl_approved",
        review_sample: None,
        approval: Some(Approval {
            decision_id: d.decision_id.clone(),
            approved_by: d.decided_by.clone(),
            approvals: d.approvals.clone(),
            edited: d.edited.is_some(),
            payload_hash: d.payload_hash.clone(),
            executed_hash: crate::hitl::decision::hash_proposal(executed(d)),
        }),
        llm_provider: d.decision_data["llm_provider"].clone(),
        result: executed(d).clone(),
    }
    .to_value()
}

pub(super) fn domain_event(d: &PendingDecision) -> Value {
    let kind = d.decision_data["kind"].as_str().unwrap_or("approved");
    let short = kind.rsplit('.').next().unwrap_or("approved");
    let proposal = executed(d);
    event::with(
        event::envelope(&format!("{}.{short}", d.agent), &d.task_id),
        json!({"agent": d.agent, "kind": kind, "actions": proposal["actions"], "summary": proposal["summary"], "decision_id": d.decision_id}),
    )
}

pub(super) fn decision_event(d: &PendingDecision) -> Value {
    event::with(
        event::envelope("hitl.decision", &d.task_id),
        json!({
            "decision_id": d.decision_id,
            "workflow": d.workflow_id,
            "status": d.status,
            "decided_by": d.decided_by,
            "decided_at": d.decided_at,
            "approvals": d.approvals,
            "feedback": d.feedback,
            "edited": d.edited.is_some(),
            "confidence": d.confidence,
        }),
    )
}

/// Who decided what from where, on `audit.trail`.
pub(super) fn audit_entry(d: &PendingDecision) -> Value {
    event::with(
        event::envelope("audit.decision", &d.task_id),
        json!({
            "decision_id": d.decision_id,
            "workflow": d.workflow_id,
            "action": d.status,
            "by": {"user": d.decided_by, "from": d.decided_from},
            "at": d.decided_at,
            "edited": d.edited.is_some(),
            "approvals": d.approvals,
        }),
    )
}

pub(super) fn feedback_event(d: &PendingDecision) -> Value {
    event::with(
        event::envelope("hitl.feedback", &d.task_id),
        json!({
            "decision_id": d.decision_id,
            "workflow": d.workflow_id,
            "agent": d.agent,
            "status": d.status,
            "feedback": d.feedback,
            "decided_by": d.decided_by,
            "confidence": d.confidence,
        }),
    )
}

/// The record downstream training jobs learn from: input, model output, the human decision,
/// the edit as a JSON Patch (RFC 6902) from the model's proposal, and the feedback.
pub(super) fn training_record(d: &PendingDecision) -> Value {
    let proposal = &d.decision_data["proposal"];
    let diff = d.edited.as_ref().map(|edited| json_patch::diff(proposal, edited));
    json!({
        "decision_id": d.decision_id,
        "task_id": d.task_id,
        "workflow": d.workflow_id,
        "agent": d.agent,
        "input": d.decision_data["task"],
        "model_output": proposal,
        "model": d.decision_data["llm_model"],
        "confidence": d.confidence,
        "human_decision": d.status,
        "decided_by": d.decided_by,
        "decided_at": d.decided_at,
        "edited": d.edited,
        "edit_diff": diff,
        "feedback": d.feedback,
        "recorded_at": event::now(),
    })
}
