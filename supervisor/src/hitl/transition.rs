//! Deciding a pending decision: one atomic state change, pending → approved | rejected |
//! expired | escalated. Two approvers racing get one success and one `AlreadyDecided`; a
//! decision past its deadline cannot be approved (`Expired`); an approval made on a payload
//! other than the one stored (its hash) is refused (`Stale`). Where a workflow needs M
//! approvals, each distinct approver is counted once and the decision stays pending until
//! the M-th; one rejection rejects it. An escalated decision (expired into `hitl_exceptions`)
//! stays decidable by a person: approved or rejected past its deadline, once its escalation's
//! own effects are done (`Busy` until then).

use serde::{Deserialize, Serialize};

/// A decision's states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Approved,
    Rejected,
    Expired,
    Escalated,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Expired => "expired",
            Self::Escalated => "escalated",
        }
    }
}

/// One state change asked for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    pub to: Status,
    /// Who decided (a user, or `overseer` for the sweeper).
    pub by: String,
    /// Where the decider called from (the client address), for the audit trail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback: Option<String>,
    /// The payload hash the approver saw; checked against the stored one when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seen_hash: Option<String>,
    /// An edited proposal that is what executes (approvals only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edited: Option<serde_json::Value>,
    /// Now, RFC 3339, as recorded.
    pub at: String,
    /// Now, Unix milliseconds, compared with the deadline.
    pub now_ms: u64,
    /// Distinct approvals the workflow needs before an approval takes effect (1 = this one).
    pub required_approvals: u32,
    /// The decision's workflow, when the caller has read it already (saves the store a read).
    #[serde(skip)]
    pub workflow: Option<String>,
}

/// Why a state change was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransitionError {
    #[error("no decision `{0}`")]
    NotFound(String),
    #[error("decision already {0}")]
    AlreadyDecided(String),
    #[error("decision expired at {0}")]
    Expired(String),
    #[error("the payload changed since it was shown")]
    Stale,
    #[error("`{0}` already approved this decision; it needs approvals from other people")]
    AlreadyApprovedBy(String),
    #[error("the decision's escalation is still being processed; try again in a few seconds")]
    Busy,
    #[error("the decision is not due to expire until {0}")]
    NotDue(String),
    #[error(transparent)]
    Store(#[from] super::StoreError),
}

impl TransitionError {
    /// The HTTP status CONTRACT.md gives each refusal.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::NotFound(_) => 404,
            Self::AlreadyDecided(_)
            | Self::Stale
            | Self::AlreadyApprovedBy(_)
            | Self::Busy
            | Self::NotDue(_) => 409,
            Self::Expired(_) => 410,
            Self::Store(_) => 503,
        }
    }
}

/// The rule, applied to a stored decision (the in-memory store uses it directly; the Redis
/// store runs the same rule in Lua). Returns the decision as changed.
pub fn apply(decision: &mut super::PendingDecision, t: &Transition) -> Result<(), TransitionError> {
    // A person may still decide what expired into an escalation.
    let escalated =
        decision.status == Status::Escalated.as_str() && matches!(t.to, Status::Approved | Status::Rejected);
    if decision.status != Status::Pending.as_str() && !escalated {
        return Err(TransitionError::AlreadyDecided(decision.status.clone()));
    }
    let expiring = matches!(t.to, Status::Expired | Status::Escalated);
    if !expiring && !escalated && t.now_ms >= decision.expires_at_ms {
        return Err(TransitionError::Expired(decision.expires_at.clone()));
    }
    if t.seen_hash.as_ref().is_some_and(|h| *h != decision.payload_hash) {
        return Err(TransitionError::Stale);
    }
    if t.to == Status::Approved && t.required_approvals > 1 {
        if decision.approvals.contains(&t.by) {
            return Err(TransitionError::AlreadyApprovedBy(t.by.clone()));
        }
        decision.approvals.push(t.by.clone());
        if (decision.approvals.len() as u32) < t.required_approvals {
            return Ok(());
        }
    }
    if escalated {
        // The escalation's effects are done; the person's decision has effects of its own.
        decision.effects_done.clear();
    }
    decision.status = t.to.as_str().to_string();
    decision.decided_at = Some(t.at.clone());
    decision.decided_by = Some(t.by.clone());
    decision.decided_from = t.from.clone();
    decision.feedback = t.feedback.clone();
    decision.edited = t.edited.clone();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hitl::PendingDecision;
    use overseer_agents::confidence::Confidence;
    use std::time::Duration;

    fn decision() -> PendingDecision {
        let data = serde_json::json!({"proposal": {"actions": []}});
        let c = Confidence::combine(1.0, 1.0, None);
        PendingDecision::new("t", "w", "q", "a", c, vec![], data, Duration::from_secs(60))
    }

    fn t(to: Status, now_ms: u64, seen_hash: Option<&str>) -> Transition {
        Transition {
            to,
            by: "ada".into(),
            from: None,
            feedback: None,
            seen_hash: seen_hash.map(str::to_string),
            edited: None,
            at: "now".into(),
            now_ms,
            required_approvals: 1,
            workflow: None,
        }
    }

    #[test]
    fn pending_changes_once_and_only_within_its_deadline_and_on_its_payload() {
        let mut d = decision();
        let before = d.expires_at_ms - 1;
        assert_eq!(
            apply(&mut d.clone(), &t(Status::Approved, before, Some("x"))),
            Err(TransitionError::Stale)
        );
        assert!(matches!(
            apply(&mut d.clone(), &t(Status::Approved, d.expires_at_ms, None)),
            Err(TransitionError::Expired(_))
        ));
        assert_eq!(apply(&mut d.clone(), &t(Status::Escalated, d.expires_at_ms + 5, None)), Ok(()));
        let hash = d.payload_hash.clone();
        assert_eq!(apply(&mut d, &t(Status::Rejected, before, Some(&hash))), Ok(()));
        assert_eq!(d.status, "rejected");
        assert_eq!(d.decided_by.as_deref(), Some("ada"));
        assert_eq!(
            apply(&mut d, &t(Status::Approved, before, None)),
            Err(TransitionError::AlreadyDecided("rejected".into()))
        );
    }

    #[test]
    fn an_escalated_decision_is_still_decided_by_a_person_once() {
        let mut d = decision();
        let (deadline, late) = (d.expires_at_ms, d.expires_at_ms + 60_000);
        assert_eq!(
            apply(&mut d, &Transition { by: "overseer".into(), ..t(Status::Escalated, deadline, None) }),
            Ok(())
        );
        d.effects_done = vec!["exception".into(), "decision".into()];
        assert!(matches!(
            apply(&mut d.clone(), &t(Status::Expired, late, None)),
            Err(TransitionError::AlreadyDecided(_))
        ));
        assert_eq!(apply(&mut d, &t(Status::Approved, late, None)), Ok(()));
        assert_eq!((d.status.as_str(), d.effects_done.len()), ("approved", 0));
        assert!(matches!(
            apply(&mut d, &t(Status::Rejected, late, None)),
            Err(TransitionError::AlreadyDecided(_))
        ));
    }

    #[test]
    fn m_of_n_counts_each_approver_once_and_executes_at_the_mth() {
        let mut d = decision();
        let before = d.expires_at_ms - 1;
        let by = |who: &str| Transition {
            by: who.into(),
            required_approvals: 2,
            ..t(Status::Approved, before, None)
        };
        assert_eq!(apply(&mut d, &by("ada")), Ok(()));
        assert_eq!(d.status, "pending");
        assert_eq!(apply(&mut d, &by("ada")), Err(TransitionError::AlreadyApprovedBy("ada".into())));
        assert_eq!(apply(&mut d, &by("bob")), Ok(()));
        assert_eq!(d.status, "approved");
        assert_eq!(d.approvals, vec!["ada".to_string(), "bob".to_string()]);
    }
}
