//! The outcome ledger: task_id is the idempotency key. Before a task is processed it is
//! claimed (with a lease); right after its outcome is durable (events delivered, decision
//! parked, dead letter confirmed) the outcome is recorded; a task going back for a retry or a
//! requeue releases its claim. A delivery whose task already has an outcome is acked without
//! calling the LLM again and without a second completion.
//!
//! The one window left: a crash after the outcome became durable and before it was recorded
//! (a single Redis write). That task is processed again once its lease runs out.

pub mod memory;
pub mod redis_ledger;

use crate::hitl::StoreError;
use async_trait::async_trait;
use std::time::Duration;

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This delivery may process the task.
    Claimed,
    /// The task already has this outcome.
    Done(String),
    /// Another delivery of the task is being processed right now (its lease holds).
    Busy,
}

#[async_trait]
pub trait Ledger: Send + Sync {
    /// Claims the task. With `takeover`, an unfinished claim is taken over: RabbitMQ redelivers
    /// a message only after the channel that held it closed, so the claim's owner is gone.
    async fn claim(&self, task_id: &str, lease: Duration, takeover: bool) -> Result<Claim, StoreError>;
    /// Records the task's final outcome (kept for `retention`).
    async fn record(&self, task_id: &str, outcome: &str, retention: Duration) -> Result<(), StoreError>;
    /// Drops a claim that did not end in an outcome, so the next delivery can claim.
    async fn release(&self, task_id: &str) -> Result<(), StoreError>;
    /// Forgets the task's outcome (an operator replays it from the dead letters).
    async fn forget(&self, task_id: &str) -> Result<(), StoreError>;
}
