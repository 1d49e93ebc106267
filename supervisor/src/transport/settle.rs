//! Carrying out a delivery's [`Settlement`] on RabbitMQ. The delivery is acked only after its
//! outcome is durable: the pipeline has delivered the events or parked the decision, or the
//! retry/dead-letter publish was confirmed by the broker. Anything else is nacked with requeue.

use super::headers::{self, text};
use super::plan::Settlement;
use super::publish::confirmed;
use crate::events::contract::ErrorEvent;
use crate::events::event::topic;
use crate::events::EventSink;
use crate::ledger::Ledger;
use crate::ledger::OUTCOME_RETENTION;
use crate::pipeline::{Outcome, QueueContext, TaskClaim};
use crate::setup::desired::{dlq_name, retry_name};
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::types::AMQPValue;
use lapin::Channel;
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

/// Pause before a requeue, so an unavailable sink or store is not hammered in a hot loop.
const REQUEUE_PAUSE: Duration = Duration::from_secs(1);

/// Everything settling needs besides the delivery.
pub struct Settler<'a> {
    pub channel: &'a Channel,
    pub ctx: &'a QueueContext,
    pub retry: &'a RetryPolicy,
    pub sink: &'a dyn EventSink,
    pub ledger: &'a dyn Ledger,
}

impl Settler<'_> {
    pub async fn settle(
        &self,
        delivery: &Delivery,
        outcome: Outcome,
        claim: Option<&TaskClaim>,
    ) -> Result<(), lapin::Error> {
        let task_id = claim.map(|c| c.task_id.as_str());
        let attempt = headers::attempt(delivery.properties.headers().as_ref());
        let queue = &self.ctx.queue;
        let id = task_id.unwrap_or("?");
        match Settlement::plan(outcome, attempt, self.retry) {
            Settlement::Ack => {
                delivery.ack(BasicAckOptions::default()).await?;
            }
            Settlement::Requeue { reason } => {
                tracing::warn!(%queue, task_id = id, %reason, "outcome not durable; requeueing");
                self.release(claim).await;
                tokio::time::sleep(REQUEUE_PAUSE).await;
                delivery.nack(BasicNackOptions { requeue: true, ..Default::default() }).await?;
            }
            Settlement::RetryLater { delay, next_attempt: None, .. } => {
                self.republish(delivery, delay, &[]).await?;
            }
            Settlement::RetryLater { delay, next_attempt: Some(next), last_error } => {
                let reason = last_error.unwrap_or_default();
                let set = [
                    (headers::ATTEMPT, AMQPValue::LongInt(i32::try_from(next).unwrap_or(i32::MAX))),
                    (headers::LAST_ERROR, text(&reason)),
                ];
                self.release(claim).await;
                tracing::info!(%queue, task_id = id, attempt, delay_ms = delay.as_millis() as u64, %reason, "retrying later");
                self.republish(delivery, delay, &set).await?;
            }
            Settlement::DeadLetter { code, reason, attempts } => {
                self.dead_letter(delivery, &code, &reason, attempts, task_id).await?;
            }
        }
        Ok(())
    }

    async fn release(&self, claim: Option<&TaskClaim>) {
        if let Some(TaskClaim { task_id, token: Some(token) }) = claim {
            if let Err(e) = self.ledger.release(task_id, token).await {
                tracing::warn!(task_id, error = %e, "claim not released; the next delivery waits for its lease");
            }
        }
    }

    /// Sends the message through the retry tier of `delay` back to its queue, then acks; a
    /// publish the broker does not confirm is nacked back instead.
    async fn republish(
        &self,
        delivery: &Delivery,
        delay: Duration,
        set: &[(&str, AMQPValue)],
    ) -> Result<(), lapin::Error> {
        let props = delivery
            .properties
            .clone()
            .with_headers(headers::with(delivery.properties.headers().as_ref(), set));
        if confirmed(self.channel, &retry_name(delay), &self.ctx.queue, &delivery.data, props).await? {
            delivery.ack(BasicAckOptions::default()).await?;
        } else {
            delivery.nack(BasicNackOptions { requeue: true, ..Default::default() }).await?;
        }
        Ok(())
    }

    async fn dead_letter(
        &self,
        delivery: &Delivery,
        code: &str,
        reason: &str,
        attempt: u32,
        task_id: Option<&str>,
    ) -> Result<(), lapin::Error> {
        let queue = &self.ctx.queue;
        let set = [
            (headers::REASON, text(code)),
            (headers::LAST_ERROR, text(reason)),
            (headers::ATTEMPTS, AMQPValue::LongInt(i32::try_from(attempt).unwrap_or(i32::MAX))),
            (headers::ORIGINAL_QUEUE, text(queue)),
        ];
        let props = delivery
            .properties
            .clone()
            .with_headers(headers::with(delivery.properties.headers().as_ref(), &set));
        if !confirmed(self.channel, "", &dlq_name(queue), &delivery.data, props).await? {
            delivery.nack(BasicNackOptions { requeue: true, ..Default::default() }).await?;
            return Ok(());
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
        delivery.ack(BasicAckOptions::default()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
