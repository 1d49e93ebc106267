//! The settlement of a delivery as a plan: from the task's outcome, which delivery of it this
//! was and the queue's retry policy alone, what happens to the message. No broker here; the
//! settler (settle.rs) carries the plan out, acking only once what the plan makes durable is.

use crate::pipeline::Outcome;
use std::time::Duration;

/// How a queue retries.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    /// The retry tiers, shortest first (`[retry].delays`).
    pub delays: Vec<Duration>,
}

impl RetryPolicy {
    /// The tier for the retry after `attempt`: tier `attempt-1` (capped at the longest), or
    /// the shortest tier not shorter than the server's Retry-After.
    pub fn tier(&self, attempt: u32, after: Option<Duration>) -> Option<Duration> {
        let by_attempt = self
            .delays
            .get((attempt.saturating_sub(1) as usize).min(self.delays.len().saturating_sub(1)))
            .copied()?;
        let wanted = after.unwrap_or_default().max(by_attempt);
        self.delays.iter().copied().find(|d| *d >= wanted).or(self.delays.last().copied())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Settlement {
    /// The outcome is durable (or was already): ack.
    Ack,
    /// The outcome could not be made durable: give the task's claim back, pause, and hand the
    /// message back to its queue untouched.
    Requeue { reason: String },
    /// Through the retry tier of `delay` back to the queue, then ack. `next_attempt` is the
    /// attempt header to set (None: the delivery's own stands, as for a deferral); the claim
    /// is given back when the attempt counts.
    RetryLater { delay: Duration, next_attempt: Option<u32>, last_error: Option<String> },
    /// To the queue's dead-letter queue with the reason, then ack (and an `ai.errors` event).
    DeadLetter { code: String, reason: String, attempts: u32 },
}

impl Settlement {
    /// What the delivery's outcome calls for, `attempt` being which delivery of the task this
    /// was (1 for the first).
    pub fn plan(outcome: Outcome, attempt: u32, policy: &RetryPolicy) -> Self {
        let dead =
            |code: &str, reason: String| Self::DeadLetter { code: code.into(), reason, attempts: attempt };
        match outcome {
            Outcome::Done(_) | Outcome::Duplicate { .. } => Self::Ack,
            Outcome::Requeue { reason } => Self::Requeue { reason },
            // Another delivery of the task runs now: not an attempt of this one's own.
            Outcome::Defer { after } => Self::RetryLater {
                delay: policy.tier(1, Some(after)).unwrap_or(after),
                next_attempt: None,
                last_error: None,
            },
            Outcome::Retry { after, reason, .. } if attempt < policy.max_attempts => {
                match policy.tier(attempt, after) {
                    Some(delay) => {
                        Self::RetryLater { delay, next_attempt: Some(attempt + 1), last_error: Some(reason) }
                    }
                    // No retry tier configured: nothing can bring it back later.
                    None => dead("retries_exhausted", reason),
                }
            }
            Outcome::Retry { reason, .. } => {
                dead("retries_exhausted", format!("gave up after {attempt} attempts: {reason}"))
            }
            Outcome::DeadLetter { code, reason } => dead(code, reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Done;

    fn policy() -> RetryPolicy {
        RetryPolicy { max_attempts: 3, delays: [1, 5, 30].map(Duration::from_secs).to_vec() }
    }

    fn retry(after: Option<u64>) -> Outcome {
        Outcome::Retry {
            after: after.map(Duration::from_secs),
            code: "llm_unavailable",
            reason: "503".into(),
        }
    }

    #[test]
    fn every_outcome_has_its_settlement() {
        let p = policy();
        let executed = Outcome::Done(Done::Executed { mode: "autonomous" });
        assert_eq!(Settlement::plan(executed, 1, &p), Settlement::Ack);
        let parked = Outcome::Done(Done::Parked { decision_id: "d".into() });
        assert_eq!(Settlement::plan(parked, 2, &p), Settlement::Ack);
        assert_eq!(
            Settlement::plan(Outcome::Duplicate { outcome: "executed".into() }, 1, &p),
            Settlement::Ack
        );
        assert_eq!(
            Settlement::plan(Outcome::Requeue { reason: "Kafka away".into() }, 1, &p),
            Settlement::Requeue { reason: "Kafka away".into() }
        );
        assert_eq!(
            Settlement::plan(Outcome::DeadLetter { code: "not_json", reason: "line 1".into() }, 2, &p),
            Settlement::DeadLetter { code: "not_json".into(), reason: "line 1".into(), attempts: 2 }
        );
        assert_eq!(
            Settlement::plan(retry(None), 1, &p),
            Settlement::RetryLater {
                delay: Duration::from_secs(1),
                next_attempt: Some(2),
                last_error: Some("503".into())
            }
        );
    }

    #[test]
    fn retries_climb_the_tiers_honour_retry_after_and_stop_at_the_attempt_limit() {
        let p = policy();
        let delay = |s: Settlement| match s {
            Settlement::RetryLater { delay, .. } => Some(delay.as_secs()),
            _ => None,
        };
        assert_eq!(delay(Settlement::plan(retry(None), 2, &p)), Some(5), "the second attempt's tier");
        assert_eq!(delay(Settlement::plan(retry(Some(3)), 1, &p)), Some(5), "Retry-After 3s: the 5s tier");
        match Settlement::plan(retry(None), 3, &p) {
            Settlement::DeadLetter { code, reason, attempts } => {
                assert_eq!((code.as_str(), attempts), ("retries_exhausted", 3));
                assert!(reason.starts_with("gave up after 3 attempts"), "{reason}");
            }
            other => panic!("the third of three attempts is the last: {other:?}"),
        }
        let untiered = RetryPolicy { max_attempts: 3, delays: vec![] };
        assert!(matches!(Settlement::plan(retry(None), 1, &untiered), Settlement::DeadLetter { .. }));
    }

    #[test]
    fn a_deferral_waits_at_least_its_delay_and_counts_no_attempt() {
        let p = policy();
        let deferred = Settlement::plan(Outcome::Defer { after: Duration::from_secs(2) }, 3, &p);
        assert_eq!(
            deferred,
            Settlement::RetryLater { delay: Duration::from_secs(5), next_attempt: None, last_error: None },
            "not dead-lettered at the attempt limit: a deferral is no attempt"
        );
    }

    #[test]
    fn tiers_follow_the_attempt_and_honour_retry_after() {
        let p = RetryPolicy { max_attempts: 5, delays: [1, 5, 30].map(Duration::from_secs).to_vec() };
        assert_eq!(p.tier(1, None), Some(Duration::from_secs(1)));
        assert_eq!(p.tier(2, None), Some(Duration::from_secs(5)));
        assert_eq!(p.tier(9, None), Some(Duration::from_secs(30)));
        assert_eq!(p.tier(1, Some(Duration::from_secs(3))), Some(Duration::from_secs(5)));
        assert_eq!(p.tier(1, Some(Duration::from_secs(300))), Some(Duration::from_secs(30)));
    }
}
