//! Typed outcomes for the transport to act on (ack after the effect, never before).

use std::time::Duration;

/// What was made durable.
#[derive(Debug, Clone, PartialEq)]
pub enum Done {
    /// Completion and events delivered (`execution_mode` as published).
    Executed { mode: &'static str },
    /// A pending decision is stored for a person.
    Parked { decision_id: String },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The outcome is durable: ack.
    Done(Done),
    /// A transient failure (LLM away or rate limited): try the task again after a delay,
    /// through the retry tiers, counting the attempt.
    Retry { after: Option<Duration>, code: &'static str, reason: String },
    /// A permanent failure: dead-letter at once with the reason.
    DeadLetter { code: &'static str, reason: String },
    /// The outcome could not be made durable (event sink or decision store unavailable):
    /// requeue the delivery untouched.
    Requeue { reason: String },
    /// The task already has an outcome (a redelivery or a duplicate publish): ack, nothing
    /// else.
    Duplicate { outcome: String },
    /// Another delivery of the same task is being processed now: put this one back through a
    /// retry tier of at least `after`, without counting an attempt.
    Defer { after: Duration },
}

impl Outcome {
    /// The `outcome` label of the tasks metric.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Done(Done::Executed { .. }) => "executed",
            Self::Done(Done::Parked { .. }) => "hitl",
            Self::Retry { .. } => "retried",
            Self::DeadLetter { .. } => "dead_lettered",
            Self::Requeue { .. } => "requeued",
            Self::Duplicate { .. } => "duplicate",
            Self::Defer { .. } => "deferred",
        }
    }
}
