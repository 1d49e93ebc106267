//! The outcome ledger: task_id is the idempotency key.
//!
//! A delivery first **claims** the task (a token and a lease), does its work, then **commits**
//! (compare-and-set: only if its own claim still holds) before any side effect, performs the
//! effects, and **records** the outcome. A delivery that finds an outcome acks as a duplicate;
//! one that finds a commit in progress waits; a *redelivered* message may take over a plain
//! claim (RabbitMQ redelivers only after the holder's channel closed), and the old holder's
//! commit then fails, so only one of them ever produces side effects. A task going back for a
//! retry or a requeue releases its claim.
//!
//! The one window left: a crash after committing and before recording, while the effects were
//! being made durable. After the commit lease runs out the task is processed again, and may
//! repeat what was already published.

pub mod memory;
pub mod redis_ledger;

use crate::store::StoreError;
use async_trait::async_trait;
use std::time::Duration;

/// How long a task's recorded outcome is kept (redeliveries and duplicate publishes within it
/// are recognised).
pub const OUTCOME_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This delivery may process the task; its token.
    Claimed(String),
    /// The task already has this outcome.
    Done(String),
    /// Another delivery holds the task (working or committing) and its lease holds.
    Busy,
}

#[async_trait]
pub trait Ledger: Send + Sync {
    /// Claims the task. With `takeover`, a plain claim (not a commit) is taken over.
    async fn claim(&self, task_id: &str, lease: Duration, takeover: bool) -> Result<Claim, StoreError>;
    /// Turns this token's claim into a commit; false when the claim was taken over.
    async fn commit(&self, task_id: &str, token: &str, lease: Duration) -> Result<bool, StoreError>;
    /// Records the task's final outcome (kept for `retention`).
    async fn record(&self, task_id: &str, outcome: &str, retention: Duration) -> Result<(), StoreError>;
    /// Drops this token's claim or commit when no outcome came of it.
    async fn release(&self, task_id: &str, token: &str) -> Result<(), StoreError>;
    /// Forgets the task's outcome (an operator replays it from the dead letters).
    async fn forget(&self, task_id: &str) -> Result<(), StoreError>;
}

/// A fresh claim token.
pub fn token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
