//! What each effect of a decided decision publishes (the outbox runs them): the approved
//! task's `ai.completions` and domain event, `hitl.decisions`, `hitl.feedback`, the
//! `audit.decision` entry, and the training record for `hitl_training`. The events' shapes
//! are those of [`crate::events::contract`]; this file only fills them from the decision.

use super::PendingDecision;
use crate::events::contract::{
    Actor, Approval, AuditDecision, Completion, DecisionEvent, DomainEvent, Envelope, ExecutionMode,
    FeedbackEvent, Origin, TrainingRecord,
};
use crate::events::event;
use serde_json::Value;

/// What executes: the approver's edit when there is one, else the agent's proposal.
pub(super) fn executed(d: &PendingDecision) -> &Value {
    d.edited.as_ref().unwrap_or(&d.decision_data["proposal"])
}

fn origin(d: &PendingDecision) -> Origin {
    Origin { queue: d.queue.clone(), agent: d.agent.clone(), workflow: d.workflow_id.clone() }
}

pub(super) fn completion(d: &PendingDecision) -> Completion {
    Completion::new(
        &d.task_id,
        origin(d),
        d.confidence_parts,
        ExecutionMode::HitlApproved,
        d.decision_data["llm_provider"].clone(),
        executed(d).clone(),
    )
    .approved(Approval {
        decision_id: d.decision_id.clone(),
        approved_by: d.decided_by.clone(),
        approvals: d.approvals.clone(),
        edited: d.edited.is_some(),
        payload_hash: d.payload_hash.clone(),
        executed_hash: crate::hitl::decision::hash_proposal(executed(d)),
    })
}

pub(super) fn domain_event(d: &PendingDecision) -> DomainEvent {
    let kind = d.decision_data["kind"].as_str().unwrap_or("approved");
    let short = kind.rsplit('.').next().unwrap_or("approved");
    let proposal = executed(d);
    DomainEvent {
        envelope: Envelope::new(format!("{}.{short}", d.agent), &d.task_id),
        agent: d.agent.clone(),
        kind: kind.to_string(),
        actions: proposal["actions"].clone(),
        summary: proposal["summary"].clone(),
        decision_id: Some(d.decision_id.clone()),
    }
}

pub(super) fn decision_event(d: &PendingDecision) -> DecisionEvent {
    DecisionEvent {
        envelope: Envelope::new("hitl.decision", &d.task_id),
        decision_id: d.decision_id.clone(),
        workflow: d.workflow_id.clone(),
        status: d.status.clone(),
        decided_by: d.decided_by.clone(),
        decided_at: d.decided_at.clone(),
        approvals: d.approvals.clone(),
        feedback: d.feedback.clone(),
        edited: d.edited.is_some(),
        confidence: d.confidence,
    }
}

/// Who decided what from where, on `audit.trail`.
pub(super) fn audit_entry(d: &PendingDecision) -> AuditDecision {
    AuditDecision {
        envelope: Envelope::new("audit.decision", &d.task_id),
        decision_id: d.decision_id.clone(),
        workflow: d.workflow_id.clone(),
        action: d.status.clone(),
        by: Actor { user: d.decided_by.clone(), from: d.decided_from.clone() },
        at: d.decided_at.clone(),
        edited: d.edited.is_some(),
        approvals: d.approvals.clone(),
    }
}

pub(super) fn feedback_event(d: &PendingDecision) -> FeedbackEvent {
    FeedbackEvent {
        envelope: Envelope::new("hitl.feedback", &d.task_id),
        decision_id: d.decision_id.clone(),
        workflow: d.workflow_id.clone(),
        agent: d.agent.clone(),
        status: d.status.clone(),
        feedback: d.feedback.clone(),
        decided_by: d.decided_by.clone(),
        confidence: d.confidence,
    }
}

/// The training record: the edit is a JSON Patch from the model's proposal.
pub(super) fn training_record(d: &PendingDecision) -> TrainingRecord {
    let proposal = &d.decision_data["proposal"];
    let diff = d.edited.as_ref().map(|edited| json_patch::diff(proposal, edited));
    TrainingRecord {
        decision_id: d.decision_id.clone(),
        task_id: d.task_id.clone(),
        workflow: d.workflow_id.clone(),
        agent: d.agent.clone(),
        input: d.decision_data["task"].clone(),
        model_output: proposal.clone(),
        model: d.decision_data["llm_model"].clone(),
        confidence: d.confidence,
        human_decision: d.status.clone(),
        decided_by: d.decided_by.clone(),
        decided_at: d.decided_at.clone(),
        edited: d.edited.clone(),
        edit_diff: diff.map(|p| serde_json::to_value(p).unwrap_or_default()),
        feedback: d.feedback.clone(),
        recorded_at: event::now(),
    }
}
