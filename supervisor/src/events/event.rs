//! The events of CONTRACT.md. Each is a JSON object with at least `event_id`, `event_type`,
//! `occurred_at` and the `task_id` (or `decision_id`) it concerns; the Kafka key is the task_id.

use serde_json::{json, Value};

/// Topic names the runtime writes to (created by `overseer setup`).
pub mod topic {
    pub const COMPLETIONS: &str = "ai.completions";
    pub const DECISIONS: &str = "ai.decisions";
    pub const ERRORS: &str = "ai.errors";
    pub const HITL_REQUESTS: &str = "hitl.requests";
    pub const HITL_DECISIONS: &str = "hitl.decisions";
    pub const HITL_FEEDBACK: &str = "hitl.feedback";
    pub const AUDIT: &str = "audit.trail";
}

/// Now, as RFC 3339 with milliseconds.
pub fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// The fields every event has, about a task.
pub fn envelope(event_type: &str, task_id: &str) -> serde_json::Map<String, Value> {
    envelope_about(event_type, "task_id", task_id)
}

/// The fields every event has, about something else than a task (`subject` names its id
/// field, e.g. `workflow_id`).
pub fn envelope_about(event_type: &str, subject: &str, id: &str) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    map.insert("event_id".into(), uuid::Uuid::new_v4().to_string().into());
    map.insert("event_type".into(), event_type.into());
    map.insert("occurred_at".into(), now().into());
    map.insert(subject.into(), id.into());
    map
}

/// Adds fields to an envelope.
pub fn with(mut base: serde_json::Map<String, Value>, fields: Value) -> Value {
    if let Value::Object(extra) = fields {
        base.extend(extra);
    }
    Value::Object(base)
}

/// `ai.errors`: a task that was dead-lettered or failed.
pub fn error(task_id: &str, queue: &str, reason: &str, detail: &str, attempts: u32) -> Value {
    with(
        envelope("ai.error", task_id),
        json!({"queue": queue, "reason": reason, "detail": detail, "attempts": attempts}),
    )
}
