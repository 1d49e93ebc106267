//! Carrying out a delivery's [`Settlement`] on its transport. The delivery is acked only after
//! its outcome is durable: the pipeline has delivered the events or parked the decision, or the
//! broker took the retry or dead-letter copy. Anything else goes back to the queue.

use super::plan::{RetryPolicy, Settlement};
use super::{Delivery, TransportError};
use crate::events::contract::ErrorEvent;
use crate::events::event::topic;
use crate::events::EventSink;
use crate::ledger::Ledger;
use crate::ledger::OUTCOME_RETENTION;
use crate::pipeline::{Outcome, QueueContext, TaskClaim};
use std::time::Duration;

/// What settling did with a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Carried {
    Acked,
    /// Back to its queue untouched (the outcome was not durable, or the broker refused a copy).
    Requeued,
    /// Through a retry tier.
    Later,
    /// In the dead-letter queue, with this reason code.
    DeadLettered(String),
}

/// Pause before a requeue, so an unavailable sink or store is not hammered in a hot loop.
const REQUEUE_PAUSE: Duration = Duration::from_secs(1);

/// Everything settling needs besides the delivery.
pub struct Settler<'a> {
    pub ctx: &'a QueueContext,
    pub retry: &'a RetryPolicy,
    pub sink: &'a dyn EventSink,
    pub ledger: &'a dyn Ledger,
}

impl Settler<'_> {
    pub async fn settle(
        &self,
        delivery: &dyn Delivery,
        outcome: Outcome,
        claim: Option<&TaskClaim>,
    ) -> Result<Carried, TransportError> {
        let task_id = claim.map(|c| c.task_id.as_str());
        let attempt = delivery.attempt();
        let queue = &self.ctx.queue;
        let id = task_id.unwrap_or("?");
        Ok(match Settlement::plan(outcome, attempt, self.retry) {
            Settlement::Ack => {
                delivery.ack().await?;
                Carried::Acked
            }
            Settlement::Requeue { reason } => {
                tracing::warn!(%queue, task_id = id, %reason, "outcome not durable; requeueing");
                self.release(claim).await;
                tokio::time::sleep(REQUEUE_PAUSE).await;
                delivery.requeue().await?;
                Carried::Requeued
            }
            Settlement::RetryLater { delay, next_attempt, last_error } => {
                if next_attempt.is_some() {
                    self.release(claim).await;
                    let reason = last_error.as_deref().unwrap_or_default();
                    tracing::info!(%queue, task_id = id, attempt, delay_ms = delay.as_millis() as u64, %reason, "retrying later");
                }
                // A copy the broker does not take leaves the delivery to come back as it is.
                if delivery.send_later(delay, next_attempt, last_error.as_deref()).await? {
                    delivery.ack().await?;
                    Carried::Later
                } else {
                    delivery.requeue().await?;
                    Carried::Requeued
                }
            }
            Settlement::DeadLetter { code, reason, attempts } => {
                if self.dead_letter(delivery, &code, &reason, attempts, task_id).await? {
                    Carried::DeadLettered(code)
                } else {
                    Carried::Requeued
                }
            }
        })
    }

    async fn release(&self, claim: Option<&TaskClaim>) {
        if let Some(TaskClaim { task_id, token: Some(token) }) = claim {
            if let Err(e) = self.ledger.release(task_id, token).await {
                tracing::warn!(task_id, error = %e, "claim not released; the next delivery waits for its lease");
            }
        }
    }

    async fn dead_letter(
        &self,
        delivery: &dyn Delivery,
        code: &str,
        reason: &str,
        attempt: u32,
        task_id: Option<&str>,
    ) -> Result<bool, TransportError> {
        let queue = &self.ctx.queue;
        if !delivery.dead_letter(code, reason, attempt).await? {
            delivery.requeue().await?;
            return Ok(false);
        }
        let key = task_id.unwrap_or("unknown");
        tracing::warn!(%queue, task_id = key, reason = code, detail = %reason, "dead-lettered");
        if let Some(id) = task_id {
            if let Err(e) = self.ledger.record(id, "dead_lettered", OUTCOME_RETENTION).await {
                tracing::warn!(task_id = id, error = %e, "dead letter not recorded in the ledger");
            }
        }
        // The dead letter is durable; the event is best effort on top of it.
        let event = ErrorEvent::new(key, queue, code, reason, attempt);
        if let Err(e) = crate::events::publish(self.sink, topic::ERRORS, key, &event).await {
            tracing::warn!(%queue, task_id = key, error = %e, "ai.errors event not delivered");
        }
        delivery.ack().await?;
        Ok(true)
    }
}
