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
//! The payload's fields are [`crate::hitl::request`]'s. The request is parked as a pending
//! decision of its workflow, with the same idempotency (task_id), retries and dead letters as
//! agent tasks.
//! Approving it emits the completion (`hitl_approved`) and the rest like any decision.

use super::context::QueueContext;
use super::effects::{self, Effect};
use super::outcome::Outcome;
use crate::hitl::request::ApprovalRequest;
use overseer_agents::task::Task;
use overseer_agents::workflow::WorkflowConfig;
use serde_json::Value;
use std::time::Duration;

/// The `agent` of queues the HITL intake consumes.
pub const INTAKE_AGENT: &str = "hitl_intake";

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
    let payload: Value = serde_json::from_str(task.payload.get()).map_err(|e| invalid(e.to_string()))?;
    let request = ApprovalRequest::parse(payload).map_err(invalid)?;
    let kind = task.kind.clone().unwrap_or_else(|| "approval.request".into());
    let data = request.data(serde_json::to_value(task).unwrap_or_default(), &kind);
    let (source, confidence, reasons) = (request.source, request.confidence, request.reasons);
    let ctx = QueueContext { agent: source, ..ctx.clone() };
    Ok(effects::park_request(&ctx, task, workflow_id, workflow, confidence, reasons, data, history))
}
