//! The events of CONTRACT.md, one serde struct each, defined here only. Every event carries
//! the [`Envelope`] (`event_id`, `event_type`, `occurred_at` and the id it is about, the
//! `task_id` for everything a task caused); the Kafka key is that id. Builders live beside
//! the data they read (the pipeline, the outbox, onboarding, the audit log), but what an event
//! holds, and how `ai.completions` is put together, is decided here.
//!
//! | topic | struct | `event_type` |
//! |---|---|---|
//! | ai.completions | [`Completion`] | `ai.completion` |
//! | ai.decisions | [`RoutingRecord`] | `ai.decision` |
//! | ai.errors | [`ErrorEvent`] | `ai.error` |
//! | hitl.requests | [`HitlRequest`] | `hitl.request` |
//! | hitl.decisions | [`DecisionEvent`] | `hitl.decision` |
//! | hitl.feedback | [`FeedbackEvent`] | `hitl.feedback` |
//! | audit.trail | [`AuditDecision`], [`AuditAccess`], [`WorkflowChanged`] | `audit.decision`, `audit.access`, `audit.workflow_changed` |
//! | an agent's domain topic | [`DomainEvent`] | `<agent>.<kind>` |
//! | domain.leads | [`LeadQualified`] | `lead.qualified` |
//!
//! The training record for the `hitl_training` queue is [`TrainingRecord`].

use overseer_agents::confidence::Confidence;
pub use overseer_agents::routing::ExecutionMode;
use serde::Serialize;
use serde_json::Value;

/// Anything published: serialises to the JSON object the sink writes.
pub trait Event: Serialize {
    fn to_value(&self) -> Value {
        // These structs hold only strings, numbers and JSON values: serialising cannot fail.
        serde_json::to_value(self).unwrap_or_default()
    }

    /// The event's JSON, serialized straight from the struct (what sinks publish).
    fn to_bytes(&self) -> Vec<u8> {
        // Most events are well under 1 KiB: one allocation instead of a growing buffer.
        let mut out = Vec::with_capacity(1024);
        match serde_json::to_writer(&mut out, self) {
            Ok(()) => out,
            Err(_) => Vec::new(),
        }
    }
}

/// What an event is about (the id field beside the envelope's).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum About {
    Task {
        task_id: String,
    },
    Workflow {
        workflow_id: String,
    },
    /// The event's own body names its id (audit records carry their `audit_id`).
    Itself {},
}

/// The fields every event has.
#[derive(Debug, Clone, Serialize)]
pub struct Envelope {
    pub event_id: String,
    pub event_type: String,
    pub occurred_at: String,
    #[serde(flatten)]
    pub about: About,
}

impl Envelope {
    /// About a task.
    pub fn new(event_type: impl Into<String>, task_id: &str) -> Self {
        Self::about(event_type, About::Task { task_id: task_id.to_string() })
    }

    pub fn about(event_type: impl Into<String>, about: About) -> Self {
        Self {
            event_id: uuid::Uuid::new_v4().to_string(),
            event_type: event_type.into(),
            occurred_at: super::event::now(),
            about,
        }
    }
}

/// Where a task ran: its queue, agent and workflow.
#[derive(Debug, Clone, Serialize)]
pub struct Origin {
    pub queue: String,
    pub agent: String,
    pub workflow: String,
}

/// Who approved an executed decision, and what exactly executed.
#[derive(Debug, Clone, Serialize)]
pub struct Approval {
    pub decision_id: String,
    pub approved_by: Option<String>,
    pub approvals: Vec<String>,
    pub edited: bool,
    /// The proposal shown to the approver.
    pub payload_hash: String,
    /// The hash of `result`, what executes (differs from `payload_hash` when edited).
    pub executed_hash: String,
}

/// `ai.completions`: one per executed task, whichever way it came to execute. `result` is the
/// executed proposal: JSON as stored (a person's decision), or the agent's own, serialized
/// straight from it.
#[derive(Debug, Clone, Serialize)]
pub struct Completion<R = Value> {
    #[serde(flatten)]
    pub envelope: Envelope,
    #[serde(flatten)]
    pub origin: Origin,
    pub confidence: f64,
    pub confidence_parts: Confidence,
    pub execution_mode: ExecutionMode,
    /// Monitored mode: whether this one is sampled for after-the-fact review.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_sample: Option<bool>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    pub llm_provider: Value,
    pub result: R,
}

impl<R> Completion<R> {
    /// The one way a completion is made: `result` executes in `mode` at `confidence`.
    pub fn new(
        task_id: &str,
        origin: Origin,
        confidence: Confidence,
        mode: ExecutionMode,
        llm_provider: Value,
        result: R,
    ) -> Self {
        Self {
            envelope: Envelope::new("ai.completion", task_id),
            origin,
            confidence: confidence.combined,
            confidence_parts: confidence,
            execution_mode: mode,
            review_sample: None,
            approval: None,
            llm_provider,
            result,
        }
    }

    /// Autonomous and monitored completions say whether they were sampled for review.
    pub fn sampled(mut self, review: bool) -> Self {
        self.review_sample = Some(review);
        self
    }

    /// An approved decision's completion names its decision, approvers and hashes.
    pub fn approved(mut self, approval: Approval) -> Self {
        self.approval = Some(approval);
        self
    }
}

/// `ai.decisions`: how a task was routed (`execute` or `hitl`) and why.
#[derive(Debug, Clone, Serialize)]
pub struct RoutingRecord {
    #[serde(flatten)]
    pub envelope: Envelope,
    #[serde(flatten)]
    pub origin: Origin,
    pub route: &'static str,
    pub reasons: Vec<String>,
    pub confidence: Confidence,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm_provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm_calls: Option<u32>,
}

/// `ai.errors`: a task that was dead-lettered.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorEvent {
    #[serde(flatten)]
    pub envelope: Envelope,
    pub queue: String,
    pub reason: String,
    pub detail: String,
    pub attempts: u32,
}

impl ErrorEvent {
    pub fn new(task_id: &str, queue: &str, reason: &str, detail: &str, attempts: u32) -> Self {
        Self {
            envelope: Envelope::new("ai.error", task_id),
            queue: queue.into(),
            reason: reason.into(),
            detail: detail.into(),
            attempts,
        }
    }
}

/// The agent's domain event (`<agent>.<kind>` on its domain topic): what it did.
#[derive(Debug, Clone, Serialize)]
pub struct DomainEvent<A = Value> {
    #[serde(flatten)]
    pub envelope: Envelope,
    pub agent: String,
    pub kind: String,
    pub actions: A,
    pub summary: Value,
    /// Set when a person approved it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_id: Option<String>,
}

/// `hitl.requests`: a decision was parked for a person.
#[derive(Debug, Clone, Serialize)]
pub struct HitlRequest {
    #[serde(flatten)]
    pub envelope: Envelope,
    pub decision_id: String,
    #[serde(flatten)]
    pub origin: Origin,
    pub confidence: f64,
    pub reasons: Vec<String>,
    pub expires_at: String,
}

/// `hitl.decisions`: a decision reached its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionEvent {
    #[serde(flatten)]
    pub envelope: Envelope,
    pub decision_id: String,
    pub workflow: String,
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub approvals: Vec<String>,
    pub feedback: Option<String>,
    pub edited: bool,
    pub confidence: f64,
}

/// `hitl.feedback`: what a person said about an agent's proposal.
#[derive(Debug, Clone, Serialize)]
pub struct FeedbackEvent {
    #[serde(flatten)]
    pub envelope: Envelope,
    pub decision_id: String,
    pub workflow: String,
    pub agent: String,
    pub status: String,
    pub feedback: Option<String>,
    pub decided_by: Option<String>,
    pub confidence: f64,
}

/// Who decided or changed something, and from where.
#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// `audit.decision` on `audit.trail`: who decided what from where.
#[derive(Debug, Clone, Serialize)]
pub struct AuditDecision {
    #[serde(flatten)]
    pub envelope: Envelope,
    pub decision_id: String,
    pub workflow: String,
    pub action: String,
    pub by: Actor,
    pub at: Option<String>,
    pub edited: bool,
    pub approvals: Vec<String>,
}

/// `audit.access` on `audit.trail`: one audited HTTP request (the record as the audit log
/// stores it) and the log stream it is in.
#[derive(Debug, Clone, Serialize)]
pub struct AuditAccess<R: Serialize> {
    #[serde(flatten)]
    pub envelope: Envelope,
    #[serde(flatten)]
    pub record: R,
    pub stream: &'static str,
}

/// `audit.workflow_changed` on `audit.trail`: a workflow setting changed (by a person or the
/// adaptive level).
#[derive(Debug, Clone, Serialize)]
pub struct WorkflowChanged {
    #[serde(flatten)]
    pub envelope: Envelope,
    pub audit_id: String,
    pub by: Actor,
    pub field: String,
    pub before: Value,
    pub after: Value,
    pub reason: Option<String>,
}

/// `lead.qualified` on domain.leads: an onboarding lead that executed.
#[derive(Debug, Clone, Serialize)]
pub struct LeadQualified<P: Serialize> {
    #[serde(flatten)]
    pub envelope: Envelope,
    pub confidence: f64,
    pub company_name: Option<String>,
    pub plan: P,
}

/// The record on `hitl_training` downstream training jobs learn from: input, model output,
/// the human decision, the edit as a JSON Patch (RFC 6902) from the model's proposal.
#[derive(Debug, Clone, Serialize)]
pub struct TrainingRecord {
    pub decision_id: String,
    pub task_id: String,
    pub workflow: String,
    pub agent: String,
    pub input: Value,
    pub model_output: Value,
    pub model: Value,
    pub confidence: f64,
    pub human_decision: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub edited: Option<Value>,
    pub edit_diff: Option<Value>,
    pub feedback: Option<String>,
    pub recorded_at: String,
}

impl<R: Serialize> Event for Completion<R> {}
impl Event for RoutingRecord {}
impl Event for ErrorEvent {}
impl<A: Serialize> Event for DomainEvent<A> {}
impl Event for HitlRequest {}
impl Event for DecisionEvent {}
impl Event for FeedbackEvent {}
impl Event for AuditDecision {}
impl<R: Serialize> Event for AuditAccess<R> {}
impl Event for WorkflowChanged {}
impl<P: Serialize> Event for LeadQualified<P> {}
impl Event for TrainingRecord {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parts() -> Confidence {
        Confidence { completeness: 0.9, model: 0.9, logprob: None, combined: 0.9 }
    }

    fn origin() -> Origin {
        Origin { queue: "auto_orders".into(), agent: "order".into(), workflow: "order_processing".into() }
    }

    #[test]
    fn a_completion_has_the_contract_fields() {
        let v =
            Completion::new("t-1", origin(), parts(), ExecutionMode::Autonomous, json!("offline"), json!({}))
                .sampled(false)
                .to_value();
        for field in [
            "event_id",
            "event_type",
            "occurred_at",
            "task_id",
            "queue",
            "agent",
            "workflow",
            "confidence",
            "execution_mode",
            "result",
        ] {
            assert!(v.get(field).is_some(), "{field}: {v}");
        }
        assert_eq!(v["execution_mode"], "autonomous");
        assert_eq!(v["confidence"], 0.9);
        assert_eq!(v["review_sample"], false);
        assert!(v.get("decision_id").is_none());
    }

    #[test]
    fn an_approved_completion_names_its_decision_and_hashes() {
        let approval = Approval {
            decision_id: "d-1".into(),
            approved_by: Some("ada".into()),
            approvals: vec!["ada".into()],
            edited: true,
            payload_hash: "aa".into(),
            executed_hash: "bb".into(),
        };
        let v = Completion::new("t-1", origin(), parts(), ExecutionMode::HitlApproved, json!("x"), json!({}))
            .approved(approval)
            .to_value();
        assert_eq!(v["execution_mode"], "hitl_approved");
        assert_eq!(v["decision_id"], "d-1");
        assert_eq!(v["executed_hash"], "bb");
        assert!(v.get("review_sample").is_none());
    }

    #[test]
    fn each_envelope_names_what_it_is_about_once() {
        let task = ErrorEvent::new("t-1", "q", "malformed", "bad", 1).to_value();
        assert_eq!(task["task_id"], "t-1");
        assert_eq!(task["event_type"], "ai.error");
        let workflow = WorkflowChanged {
            envelope: Envelope::about("audit.workflow_changed", About::Workflow { workflow_id: "w".into() }),
            audit_id: "1-0".into(),
            by: Actor { user: Some("ada".into()), from: None },
            field: "enabled".into(),
            before: json!(true),
            after: json!(false),
            reason: None,
        }
        .to_value();
        assert_eq!(workflow["workflow_id"], "w");
        assert!(workflow.get("task_id").is_none());
        let access = AuditAccess {
            envelope: Envelope::about("audit.access", About::Itself {}),
            record: json!({"audit_id": "2-0", "action": "GET /x"}),
            stream: "denied",
        };
        let text = serde_json::to_string(&access).expect("JSON");
        assert_eq!(text.matches("audit_id").count(), 1, "{text}");
        assert!(text.contains("\"stream\":\"denied\""));
    }
}
