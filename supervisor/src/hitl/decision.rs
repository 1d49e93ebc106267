//! A pending decision as stored and as shown to an approver (the earlier system's field names:
//! decision_id, workflow_id, confidence, status, created_at, expires_at, decision_data).

use overseer_agents::confidence::Confidence;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingDecision {
    pub decision_id: String,
    pub task_id: String,
    pub workflow_id: String,
    pub queue: String,
    pub agent: String,
    /// pending, approved, rejected, expired, escalated.
    pub status: String,
    pub confidence: f64,
    pub confidence_parts: Confidence,
    /// Why a person must decide.
    pub reasons: Vec<String>,
    pub created_at: String,
    pub expires_at: String,
    /// `expires_at` in Unix milliseconds (the pending index's score).
    pub expires_at_ms: u64,
    /// SHA-256 of `decision_data.proposal` as shown: an approval binds to exactly this.
    pub payload_hash: String,
    /// The task envelope, the agent's proposal and the model used.
    pub decision_data: serde_json::Value,
    /// When and by whom it left `pending`, with the approver's feedback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feedback: Option<String>,
    /// An approver's edited proposal: what executes instead of `decision_data.proposal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited: Option<serde_json::Value>,
    /// Who approved so far (M-of-N workflows), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<String>,
    /// Effects of the decision already durable (the outbox does not repeat them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub effects_done: Vec<String>,
    /// Notifications delivered about it, in the order they got through.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notified: Vec<Notified>,
    /// Who may decide, as the workflow said when the decision was parked: a later change of
    /// the workflow's configuration cannot loosen it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver_rules: Option<ApproverRules>,
}

/// A notification about a decision that its target accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notified {
    /// `hitl.pending` or `hitl.escalated`.
    pub event: String,
    /// `webhook` or `telegram`.
    pub via: String,
    pub at: String,
}

/// Who may decide a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApproverRules {
    /// Distinct verified approvers needed (M of M-of-N).
    pub required_approvals: u32,
    /// Subjects and `group:<name>` entries allowed to decide (empty: any approver).
    pub approvers: Vec<String>,
}

impl ApproverRules {
    pub fn of(workflow: &overseer_agents::workflow::WorkflowConfig) -> Self {
        Self { required_approvals: workflow.required_approvals.max(1), approvers: workflow.approvers.clone() }
    }
}

/// `dec_YYYYMMDD_HHMMSS_xxxxxx`, as the earlier system formatted them.
pub fn new_decision_id(now: SystemTime) -> String {
    stamped_id("dec", now, 6)
}

/// `<prefix>_YYYYMMDD_HHMMSS_<random hex digits>` (UTC), the earlier system's id format for
/// decisions (6 digits) and onboarding sessions (8).
pub fn stamped_id(prefix: &str, now: SystemTime, random: usize) -> String {
    let stamp = humantime::format_rfc3339_seconds(now).to_string();
    let digits: String = stamp.chars().filter(char::is_ascii_digit).collect();
    let (date, time) = digits.split_at(digits.len().min(8));
    let hex = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}_{date}_{time}_{}", &hex[..random.min(hex.len())])
}

pub fn hash_proposal(proposal: &serde_json::Value) -> String {
    let bytes = serde_json::to_vec(proposal).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    hex::encode(digest)
}

pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl PendingDecision {
    /// A new pending decision, expiring after `ttl`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        task_id: &str,
        workflow_id: &str,
        queue: &str,
        agent: &str,
        confidence: Confidence,
        reasons: Vec<String>,
        decision_data: serde_json::Value,
        ttl: Duration,
    ) -> Self {
        let now = SystemTime::now();
        let expires = now + ttl;
        let payload_hash = hash_proposal(&decision_data["proposal"]);
        Self {
            decision_id: new_decision_id(now),
            task_id: task_id.into(),
            workflow_id: workflow_id.into(),
            queue: queue.into(),
            agent: agent.into(),
            status: "pending".into(),
            confidence: confidence.combined,
            confidence_parts: confidence,
            reasons,
            created_at: humantime::format_rfc3339_millis(now).to_string(),
            expires_at: humantime::format_rfc3339_millis(expires).to_string(),
            expires_at_ms: unix_ms(expires),
            payload_hash,
            decision_data,
            decided_at: None,
            decided_by: None,
            decided_from: None,
            feedback: None,
            edited: None,
            approvals: Vec::new(),
            effects_done: Vec::new(),
            notified: Vec::new(),
            approver_rules: None,
        }
    }

    /// This decision with its workflow's approver rules snapshotted.
    pub fn with_rules(mut self, workflow: &overseer_agents::workflow::WorkflowConfig) -> Self {
        self.approver_rules = Some(ApproverRules::of(workflow));
        self
    }
}

impl PendingDecision {
    /// The same decision under a fresh id (when its id was taken).
    pub fn renamed(&self) -> Self {
        Self { decision_id: new_decision_id(SystemTime::now()), ..self.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_ids_look_like_the_earlier_systems() {
        let id = new_decision_id(UNIX_EPOCH + Duration::from_secs(1_760_445_296));
        assert!(id.starts_with("dec_20251014_123456_"), "{id}");
        assert_eq!(id.len(), "dec_20251014_123456_a1b2c3".len());
    }

    #[test]
    fn the_hash_changes_with_the_proposal() {
        let a = hash_proposal(&serde_json::json!({"actions": [{"action": "refund", "amount": 10}]}));
        let b = hash_proposal(&serde_json::json!({"actions": [{"action": "refund", "amount": 11}]}));
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
    }
}
