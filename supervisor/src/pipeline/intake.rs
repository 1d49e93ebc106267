//! The HITL intake: approval requests from other systems on the `hitl_approval` queue. Such a
//! message is a task envelope (CONTRACT.md) whose `workflow` is required and whose `payload` is
//! the proposal to approve:
//!
//! ```json
//! {"task_id": "refund-778", "workflow": "payment_processing",
//!  "payload": {"summary": "Refund 120 EUR to order 778", "source": "billing",
//!              "actions": [{"action": "refund", "amount": 120.0}], "details": {...},
//!              "confidence": 0.4, "reasons": ["manual refund"]}}
//! ```
//!
//! `summary` is required; `actions` (as agents propose them), `details` (any JSON), `confidence`
//! (0..1, default 0), `reasons` and `source` (shown as the decision's agent; `external` by
//! default) are optional. No model is called: the request is parked as a pending decision of
//! its workflow, with the same idempotency (task_id), retries and dead letters as agent tasks.
//! Approving it emits the completion (`hitl_approved`) and the rest like any decision.

use super::context::QueueContext;
use super::effects::{self, Effect};
use super::outcome::Outcome;
use overseer_agents::confidence::Confidence;
use overseer_agents::proposal::ProposedAction;
use overseer_agents::task::Task;
use overseer_agents::workflow::WorkflowConfig;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

/// The `agent` of queues the HITL intake consumes.
pub const INTAKE_AGENT: &str = "hitl_intake";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApprovalRequest {
    summary: String,
    #[serde(default)]
    actions: Vec<ProposedAction>,
    #[serde(default)]
    details: Value,
    #[serde(default)]
    confidence: f64,
    #[serde(default)]
    reasons: Vec<String>,
    #[serde(default)]
    source: Option<String>,
}

fn invalid(reason: String) -> Outcome {
    Outcome::DeadLetter { code: "invalid_approval_request", reason }
}

/// The request as a decision to park, or why it cannot be one (permanent: dead-lettered).
pub(super) fn approval_request(
    ctx: &QueueContext,
    task: &Task,
    workflow_id: &str,
    workflow: &WorkflowConfig,
    history: Duration,
) -> Result<Effect, Outcome> {
    let request: ApprovalRequest = serde_json::from_value(Value::Object(task.payload.clone()))
        .map_err(|e| invalid(format!("payload is not an approval request: {e}")))?;
    if request.summary.trim().is_empty() {
        return Err(invalid("summary is empty".into()));
    }
    if !(0.0..=1.0).contains(&request.confidence) {
        return Err(invalid(format!("confidence {} is outside 0..1", request.confidence)));
    }
    let source = request.source.filter(|s| !s.trim().is_empty()).unwrap_or_else(|| "external".into());
    let c = request.confidence;
    let confidence = Confidence { completeness: c, model: c, logprob: None, combined: c };
    let mut reasons = request.reasons;
    if reasons.is_empty() {
        reasons.push(format!("approval requested by {source}"));
    }
    let data = json!({
        "task": task,
        "kind": task.kind.clone().unwrap_or_else(|| "approval.request".into()),
        "proposal": {"summary": request.summary, "model_confidence": c, "actions": request.actions, "details": request.details},
        "llm_provider": "external",
        "source": source,
    });
    let ctx = QueueContext { agent: source, ..ctx.clone() };
    Ok(effects::park_request(&ctx, task, workflow_id, workflow, confidence, reasons, data, history))
}
