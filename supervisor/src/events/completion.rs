//! `ai.completions`, the contract's one event per executed task, built in one place for both
//! ways a task executes: autonomously (the pipeline) and after a person's approval (the
//! outbox). CONTRACT.md: `queue`, `agent`, `workflow`, `confidence` (0..1), `execution_mode`
//! (`autonomous` | `monitored` | `hitl_approved`) and `result`, besides the envelope.

use serde::Serialize;
use serde_json::Value;

/// The envelope every event carries.
#[derive(Debug, Clone, Serialize)]
pub struct Envelope {
    pub event_id: String,
    pub event_type: &'static str,
    pub occurred_at: String,
    pub task_id: String,
}

impl Envelope {
    pub fn new(event_type: &'static str, task_id: &str) -> Self {
        Self {
            event_id: uuid::Uuid::new_v4().to_string(),
            event_type,
            occurred_at: super::event::now(),
            task_id: task_id.to_string(),
        }
    }
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

#[derive(Debug, Clone, Serialize)]
pub struct Completion {
    #[serde(flatten)]
    pub envelope: Envelope,
    pub queue: String,
    pub agent: String,
    pub workflow: String,
    pub confidence: f64,
    pub confidence_parts: Value,
    pub execution_mode: &'static str,
    /// Monitored mode: whether this one is sampled for after-the-fact review.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_sample: Option<bool>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    pub llm_provider: Value,
    pub result: Value,
}

impl Completion {
    /// As the JSON the sink publishes.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_completion_has_the_contract_fields() {
        let c = Completion {
            envelope: Envelope::new("ai.completion", "t-1"),
            queue: "auto_orders".into(),
            agent: "order".into(),
            workflow: "order_processing".into(),
            confidence: 0.9,
            confidence_parts: json!({}),
            execution_mode: "autonomous",
            review_sample: Some(false),
            approval: None,
            llm_provider: json!("offline"),
            result: json!({"actions": []}),
        };
        let v = c.to_value();
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
        assert!(v.get("decision_id").is_none());
    }
}
