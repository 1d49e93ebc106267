//! Human-in-the-loop: results that need a person are parked as pending decisions in a
//! [`DecisionStore`] (Redis in production, memory in tests and the demo). The full HITL
//! service (approve/reject, expiry, APIs) builds on this.

pub mod decision;
pub mod memory;
pub mod notify;
pub mod outbox;
mod outbox_events;
pub mod queues;
mod redis_fields;
mod redis_outbox;
pub mod redis_scripts;
pub mod redis_store;
pub mod request;
pub mod service;
pub mod telegram;
pub mod transition;
pub mod watch;

use async_trait::async_trait;
pub use decision::{ApproverRules, PendingDecision};
use std::time::Duration;
pub use transition::{Status, Transition, TransitionError};

pub use crate::store::StoreError;

/// Parking a decision for a person (the store write and its `hitl.requests` announcement):
/// what the pipeline asks of the HITL service, so the pipeline needs no actor.
#[async_trait]
pub trait Parking: Send + Sync {
    /// Parks `decision`, kept for `retention`; an error names what failed.
    async fn park(&self, decision: PendingDecision, retention: Duration) -> Result<Parked, String>;
}

/// One workflow's decision figures (for `/api/hitl/metrics` and the HITL gauges).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct WorkflowStats {
    pub pending: u64,
    /// Creation time (Unix ms) of the oldest pending decision.
    pub oldest_pending_ms: Option<u64>,
    /// Decisions by final status (approved, rejected, expired, escalated), all time.
    pub decided: std::collections::BTreeMap<String, u64>,
    /// Seconds from parking to a person's decision, of the latest (up to 1000) decisions.
    pub decision_seconds: Vec<f64>,
}

/// What parking did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parked {
    /// Stored under this decision id.
    New(String),
    /// The task already had this pending decision (a redelivery): nothing was written.
    Existing(String),
}

impl Parked {
    pub fn decision_id(&self) -> &str {
        match self {
            Self::New(id) | Self::Existing(id) => id,
        }
    }
}

/// The decisions themselves: parking, reading, changing state.
#[async_trait]
pub trait Decisions: Send + Sync {
    /// Stores `decision` as pending, kept for `retention` (its TTL plus the history period),
    /// unless its task already has a decision. Atomic.
    async fn park(&self, decision: &PendingDecision, retention: Duration) -> Result<Parked, StoreError>;
    async fn get(&self, decision_id: &str) -> Result<Option<PendingDecision>, StoreError>;
    /// Several decisions at once (missing ones are left out), in the order asked.
    async fn get_many(&self, ids: &[String]) -> Result<Vec<PendingDecision>, StoreError>;
    /// Changes a pending decision's state, atomically; returns it as changed.
    async fn transition(&self, decision_id: &str, t: &Transition)
        -> Result<PendingDecision, TransitionError>;
    async fn ping(&self) -> Result<(), StoreError>;
    /// Records that a notification about `decision_id` got through (nothing for a decision
    /// gone meanwhile).
    async fn note_notified(&self, decision_id: &str, notified: &decision::Notified)
        -> Result<(), StoreError>;
}

/// The indexes over decisions: pending by deadline, decided by time.
#[async_trait]
pub trait DecisionIndexes: Send + Sync {
    /// Pending decisions whose deadline (Unix ms) is at or before `now_ms`, soonest first.
    async fn due_ids(&self, now_ms: u64, limit: usize) -> Result<Vec<String>, StoreError>;
    /// Pending decisions (of `workflow`, or all) after `after` (a (deadline ms, id) position),
    /// soonest deadline first, with their deadlines: the pages of a cursor that stays stable
    /// while decisions come and go.
    async fn pending_page(
        &self,
        workflow: Option<&str>,
        after: Option<(u64, String)>,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, StoreError>;
    /// Decided decisions before `before` (a (decision ms, id) position), newest first, with
    /// their decision times: the pages of the history.
    async fn history_page(
        &self,
        before: Option<(u64, String)>,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, StoreError>;
    /// Drops history entries decided before `before_ms` (their decisions expire by TTL).
    async fn trim_history(&self, before_ms: u64) -> Result<(), StoreError>;
    /// Pending decision ids, soonest deadline first.
    async fn pending_ids(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        Ok(self.pending_page(None, None, limit).await?.into_iter().map(|(_, id)| id).collect())
    }
}

/// Counts per workflow (for `/api/hitl/metrics` and the HITL gauges).
#[async_trait]
pub trait DecisionStats: Send + Sync {
    /// Figures per workflow; `samples` adds the time-to-decision samples.
    async fn stats(
        &self,
        workflows: &[String],
        samples: bool,
    ) -> Result<std::collections::BTreeMap<String, WorkflowStats>, StoreError>;
}

/// The outbox: every state change puts its decision there in the same atomic step; it leaves
/// once all of the change's effects (events, queue messages) are durable. One runner at a time
/// holds a decision's lease.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Decisions in the outbox that changed state at or before `before_ms`, oldest first.
    async fn outbox_due(&self, before_ms: u64, limit: usize) -> Result<Vec<String>, StoreError>;
    /// Takes the right to run a decision's effects for `lease`: the owner's token, or `None`
    /// when another runner holds it.
    async fn outbox_lease(&self, decision_id: &str, lease: Duration) -> Result<Option<String>, StoreError>;
    /// Extends the lease while `token` holds it; false when it was lost (expired, taken).
    async fn outbox_renew(&self, decision_id: &str, token: &str, lease: Duration)
        -> Result<bool, StoreError>;
    /// Gives the lease back after a failed run (only its owner can), so the next sweep may try
    /// again at once.
    async fn outbox_release(&self, decision_id: &str, token: &str) -> Result<(), StoreError>;
    /// Marks one effect of the decision durable, so no later run repeats it; false (nothing
    /// marked) when `token` no longer holds the lease.
    async fn effect_done(&self, decision_id: &str, effect: &str, token: &str) -> Result<bool, StoreError>;
    /// All effects are durable: the decision leaves the outbox (and the owner's lease goes).
    async fn outbox_done(&self, decision_id: &str, token: &str) -> Result<(), StoreError>;
}

/// A whole decision store (Redis in production, memory in tests and the demo): each concern
/// is its own trait, so a caller names what it uses; this one names them all.
pub trait DecisionStore: Decisions + DecisionIndexes + DecisionStats + Outbox {}

impl<T: Decisions + DecisionIndexes + DecisionStats + Outbox> DecisionStore for T {}
