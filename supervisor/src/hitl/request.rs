//! Approval requests from other systems: a proposal to approve, as the `hitl_approval` queue's
//! payload and the gateway's `POST /telegram/approval-request` body carry it:
//!
//! ```json
//! {"summary": "Refund 120 EUR to order 778", "source": "billing",
//!  "actions": [{"action": "refund", "amount": 120.0}], "details": {...},
//!  "confidence": 0.4, "reasons": ["manual refund"]}
//! ```
//!
//! `summary` is required; `actions` (as agents propose them), `details` (any JSON), `confidence`
//! (0..1, default 0), `reasons` and `source` (shown as the decision's agent; `external` by
//! default) are optional; other keys are refused. No model is called.

use overseer_agents::confidence::Confidence;
use overseer_agents::proposal::ProposedAction;
use serde::Deserialize;
use serde_json::{json, Value};

/// The request's fields, as sent.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Body {
    /// Not empty.
    #[schemars(pattern(r"\S"))]
    summary: String,
    #[serde(default)]
    actions: Vec<ProposedAction>,
    #[serde(default)]
    details: Value,
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 1.0))]
    confidence: f64,
    #[serde(default)]
    reasons: Vec<String>,
    #[serde(default)]
    source: Option<String>,
}

/// A checked approval request, ready to be parked.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRequest {
    /// Who asks (the decision's agent).
    pub source: String,
    pub confidence: Confidence,
    /// Why it comes to a person (`approval requested by <source>` when the request names none).
    pub reasons: Vec<String>,
    /// The proposal as decisions store it: summary, model_confidence, actions, details.
    pub proposal: Value,
}

impl ApprovalRequest {
    /// Checks `payload`; the error says what does not fit.
    pub fn parse(payload: Value) -> Result<Self, String> {
        let body: Body = serde_json::from_value(payload)
            .map_err(|e| format!("payload is not an approval request: {e}"))?;
        if body.summary.trim().is_empty() {
            return Err("summary is empty".into());
        }
        if !(0.0..=1.0).contains(&body.confidence) {
            return Err(format!("confidence {} is outside 0..1", body.confidence));
        }
        let source = body.source.filter(|s| !s.trim().is_empty()).unwrap_or_else(|| "external".into());
        let c = body.confidence;
        let mut reasons = body.reasons;
        if reasons.is_empty() {
            reasons.push(format!("approval requested by {source}"));
        }
        Ok(Self {
            proposal: json!({"summary": body.summary, "model_confidence": c, "actions": body.actions, "details": body.details}),
            confidence: Confidence { completeness: c, model: c, logprob: None, combined: c },
            source,
            reasons,
        })
    }

    /// The decision data: the task envelope it came in, and the proposal.
    pub fn data(&self, task: Value, kind: &str) -> Value {
        json!({
            "task": task,
            "kind": kind,
            "proposal": self.proposal,
            "llm_provider": "external",
            "source": self.source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_needs_a_summary_and_a_confidence_in_range() {
        let ok = ApprovalRequest::parse(
            json!({"summary": "Refund 5", "actions": [{"action": "refund", "amount": 5.0}]}),
        )
        .expect("valid");
        assert_eq!(
            (ok.source.as_str(), ok.reasons.clone()),
            ("external", vec!["approval requested by external".to_string()])
        );
        assert_eq!(ok.proposal["actions"][0]["amount"], 5.0);
        for bad in [
            json!({}),
            json!({"summary": " "}),
            json!({"summary": "x", "confidence": 2}),
            json!({"summary": "x", "extra": 1}),
        ] {
            assert!(ApprovalRequest::parse(bad.clone()).is_err(), "{bad}");
        }
    }
}
