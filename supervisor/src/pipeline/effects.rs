//! The side effects of a routed result: what to publish or park (built without I/O), and
//! applying them. `apply` runs on a task of its own, so a consumer aborted mid-way (a restart,
//! the end of the grace period) never separates durable effects from the ledger record.

use super::context::QueueContext;
use super::outcome::{Done, Outcome};
use crate::events::contract::{
    Completion, DomainEvent, Envelope, Event, ExecutionMode, Origin, RoutingRecord,
};
use crate::events::event::topic;
use crate::events::{EventSink, SinkError};
use crate::hitl::Parking;
use crate::hitl::PendingDecision;
use crate::ledger::{Ledger, OUTCOME_RETENTION};
use overseer_agents::agent::runner::AgentResult;
use overseer_agents::confidence::Confidence;
use overseer_agents::task::Task;
use overseer_agents::workflow::WorkflowConfig;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// What a result does once committed.
pub(super) enum Effect {
    /// Publish these (topic, event JSON) pairs.
    Execute { mode: ExecutionMode, events: Vec<(String, Vec<u8>)> },
    /// Park the decision (store + hitl.requests), then publish the routing record (its JSON).
    Park { pending: Box<PendingDecision>, retention: Duration, record: Vec<u8> },
}

fn origin(ctx: &QueueContext, workflow_id: &str) -> Origin {
    Origin { queue: ctx.queue.clone(), agent: ctx.agent.clone(), workflow: workflow_id.to_string() }
}

/// The `ai.decisions` routing record.
fn decision_record(
    ctx: &QueueContext,
    task: &Task,
    workflow_id: &str,
    result: &AgentResult,
    route: &'static str,
    reasons: &[String],
) -> Vec<u8> {
    RoutingRecord {
        envelope: Envelope::new("ai.decision", &task.task_id),
        origin: origin(ctx, workflow_id),
        route,
        reasons: reasons.to_vec(),
        confidence: result.confidence,
        llm_provider: Some(result.usage.provider.to_string()),
        llm_calls: Some(result.usage.calls),
    }
    .to_bytes()
}

/// `ai.completions`, the agent's domain event and the routing record.
pub(super) fn execute(
    ctx: &QueueContext,
    task: &Task,
    workflow_id: &str,
    domain_topic: &str,
    result: &AgentResult,
    mode: ExecutionMode,
    review: bool,
) -> Effect {
    let completion = Completion::new(
        &task.task_id,
        origin(ctx, workflow_id),
        result.confidence,
        mode,
        result.usage.provider.into(),
        &result.proposal,
    )
    .sampled(review)
    .to_bytes();
    let kind = result.assessment.kind.rsplit('.').next().unwrap_or("done");
    let domain = DomainEvent {
        envelope: Envelope::new(format!("{}.{kind}", ctx.agent), &task.task_id),
        agent: ctx.agent.clone(),
        kind: result.assessment.kind.clone(),
        actions: &result.proposal.actions,
        summary: result.proposal.summary.clone().into(),
        decision_id: None,
    }
    .to_bytes();
    let record = decision_record(ctx, task, workflow_id, result, "execute", &[]);
    Effect::Execute {
        mode,
        events: vec![
            (topic::COMPLETIONS.to_string(), completion),
            (domain_topic.to_string(), domain),
            (topic::DECISIONS.to_string(), record),
        ],
    }
}

/// A pending decision for a person, and the routing record.
pub(super) fn park(
    ctx: &QueueContext,
    task: &Task,
    workflow_id: &str,
    workflow: &WorkflowConfig,
    result: &AgentResult,
    reasons: Vec<String>,
    history: Duration,
) -> Effect {
    let data = json!({
        "task": task,
        "kind": result.assessment.kind,
        "proposal": result.proposal,
        "missing": result.assessment.missing,
        "llm_provider": result.usage.provider,
        "llm_model": result.usage.model,
    });
    let record = decision_record(ctx, task, workflow_id, result, "hitl", &reasons);
    park_with(ctx, task, workflow_id, workflow, result.confidence, reasons, data, record, history)
}

/// A pending decision for a request that did not come from an agent (the HITL intake), and
/// its routing record.
#[allow(clippy::too_many_arguments)]
pub(super) fn park_request(
    ctx: &QueueContext,
    task: &Task,
    workflow_id: &str,
    workflow: &WorkflowConfig,
    confidence: Confidence,
    reasons: Vec<String>,
    data: Value,
    history: Duration,
) -> Effect {
    let record = RoutingRecord {
        envelope: Envelope::new("ai.decision", &task.task_id),
        origin: origin(ctx, workflow_id),
        route: "hitl",
        reasons: reasons.clone(),
        confidence,
        llm_provider: None,
        llm_calls: None,
    }
    .to_bytes();
    park_with(ctx, task, workflow_id, workflow, confidence, reasons, data, record, history)
}

#[allow(clippy::too_many_arguments)]
fn park_with(
    ctx: &QueueContext,
    task: &Task,
    workflow_id: &str,
    workflow: &WorkflowConfig,
    confidence: Confidence,
    reasons: Vec<String>,
    data: Value,
    record: Vec<u8>,
    history: Duration,
) -> Effect {
    let pending = PendingDecision::new(
        &task.task_id,
        workflow_id,
        &ctx.queue,
        &ctx.agent,
        confidence,
        reasons,
        data,
        workflow.pending_ttl,
    )
    .with_rules(workflow);
    Effect::Park { pending: Box::new(pending), retention: workflow.pending_ttl + history, record }
}

fn sink_outcome(e: SinkError) -> Outcome {
    match e {
        SinkError::Unavailable(reason) => Outcome::Requeue { reason },
        SinkError::Refused(reason) => Outcome::DeadLetter { code: "event_refused", reason },
    }
}

/// What applying needs; cloned into the effect's own task.
#[derive(Clone)]
pub(super) struct Effects {
    pub(super) sink: Arc<dyn EventSink>,
    pub(super) hitl: Arc<dyn Parking>,
    pub(super) ledger: Arc<dyn Ledger>,
}

impl Effects {
    /// On a task of its own, so that no abort of the caller can separate these steps: commits
    /// the claim (compare-and-set on `token`), applies `effect`, and records the outcome once
    /// it is durable. A commit that fails means a redelivery took the task over; it produces
    /// the effects, this delivery none.
    pub(super) async fn commit_and_apply(
        &self,
        task_id: &str,
        token: String,
        lease: Duration,
        effect: Effect,
    ) -> Outcome {
        let (this, task_id) = (self.clone(), task_id.to_string());
        tokio::spawn(async move {
            match this.ledger.commit(&task_id, &token, lease).await {
                Ok(true) => this.apply_here(&task_id, effect).await,
                Ok(false) => Outcome::Duplicate { outcome: "taken over".into() },
                Err(e) => Outcome::Requeue { reason: e.to_string() },
            }
        })
        .await
        .unwrap_or_else(|e| Outcome::Requeue { reason: format!("effect task failed: {e}") })
    }

    async fn apply_here(&self, task_id: &str, effect: Effect) -> Outcome {
        let (outcome, label) = match effect {
            Effect::Execute { mode, events } => {
                // The task's events in one hand-over; batched on the wire by the producer.
                if let Err(e) = self.sink.publish_all(task_id, events).await {
                    return sink_outcome(e);
                }
                (Outcome::Done(Done::Executed { mode: mode.as_str() }), "executed")
            }
            Effect::Park { pending, retention, record } => {
                let parked = match self.hitl.park(*pending, retention).await {
                    Ok(parked) => parked,
                    Err(e) => return Outcome::Requeue { reason: e.to_string() },
                };
                if let Err(e) = self.sink.publish(topic::DECISIONS, task_id, &record).await {
                    return sink_outcome(e);
                }
                (Outcome::Done(Done::Parked { decision_id: parked.decision_id().to_string() }), "parked")
            }
        };
        // Durable now: record it before the ack, so a redelivery is recognised.
        if let Err(e) = self.ledger.record(task_id, label, OUTCOME_RETENTION).await {
            tracing::warn!(task_id, error = %e, "outcome not recorded; a redelivery after its commit lease would repeat it");
        }
        outcome
    }
}
