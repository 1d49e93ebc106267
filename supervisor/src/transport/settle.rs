//! Acting on an outcome. The delivery is acked only after its outcome is durable: the pipeline
//! has delivered the events or parked the decision, or the retry/dead-letter publish was
//! confirmed by the broker. Anything else is nacked with requeue.

use super::headers::{self, text};
use crate::events::event::{self, topic};
use crate::events::EventSink;
use crate::pipeline::{Outcome, QueueContext};
use crate::setup::desired::{dlq_name, retry_name};
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions, BasicPublishOptions};
use lapin::types::AMQPValue;
use lapin::Confirmation;
use lapin::{BasicProperties, Channel};
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
        self.delays
            .iter()
            .copied()
            .find(|d| *d >= wanted)
            .or(self.delays.last().copied())
    }
}

/// Pause before a requeue, so an unavailable sink or store is not hammered in a hot loop.
const REQUEUE_PAUSE: Duration = Duration::from_secs(1);

pub async fn settle(
    channel: &Channel,
    delivery: &Delivery,
    ctx: &QueueContext,
    outcome: Outcome,
    task_id: Option<&str>,
    retry: &RetryPolicy,
    sink: &dyn EventSink,
) -> Result<(), lapin::Error> {
    let attempt = headers::attempt(delivery.properties.headers().as_ref());
    match outcome {
        Outcome::Done(_) => {
            delivery.ack(BasicAckOptions::default()).await?;
        }
        Outcome::Requeue { reason } => {
            tracing::warn!(queue = %ctx.queue, task_id = task_id.unwrap_or("?"), %reason, "outcome not durable; requeueing");
            tokio::time::sleep(REQUEUE_PAUSE).await;
            delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    ..Default::default()
                })
                .await?;
        }
        Outcome::Retry {
            after,
            code,
            reason,
        } if attempt < retry.max_attempts => {
            let Some(delay) = retry.tier(attempt, after) else {
                return dead_letter(
                    channel, delivery, ctx, code, &reason, attempt, task_id, sink,
                )
                .await;
            };
            let set = [
                (
                    headers::ATTEMPT,
                    AMQPValue::LongInt(i32::try_from(attempt + 1).unwrap_or(i32::MAX)),
                ),
                (headers::LAST_ERROR, text(&reason)),
            ];
            let props = delivery
                .properties
                .clone()
                .with_headers(headers::with(delivery.properties.headers().as_ref(), &set));
            let confirmed = publish(
                channel,
                &retry_name(delay),
                &ctx.queue,
                &delivery.data,
                props,
            )
            .await?;
            if confirmed {
                tracing::info!(queue = %ctx.queue, task_id = task_id.unwrap_or("?"), attempt, delay_ms = delay.as_millis() as u64, %reason, "retrying later");
                delivery.ack(BasicAckOptions::default()).await?;
            } else {
                delivery
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..Default::default()
                    })
                    .await?;
            }
        }
        Outcome::Retry {
            code: _, reason, ..
        } => {
            let reason = format!("gave up after {attempt} attempts: {reason}");
            return dead_letter(
                channel,
                delivery,
                ctx,
                "retries_exhausted",
                &reason,
                attempt,
                task_id,
                sink,
            )
            .await;
        }
        Outcome::DeadLetter { code, reason } => {
            return dead_letter(
                channel, delivery, ctx, code, &reason, attempt, task_id, sink,
            )
            .await;
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn dead_letter(
    channel: &Channel,
    delivery: &Delivery,
    ctx: &QueueContext,
    code: &str,
    reason: &str,
    attempt: u32,
    task_id: Option<&str>,
    sink: &dyn EventSink,
) -> Result<(), lapin::Error> {
    let set = [
        (headers::REASON, text(code)),
        (headers::LAST_ERROR, text(reason)),
        (
            headers::ATTEMPTS,
            AMQPValue::LongInt(i32::try_from(attempt).unwrap_or(i32::MAX)),
        ),
        (headers::ORIGINAL_QUEUE, text(&ctx.queue)),
    ];
    let props = delivery
        .properties
        .clone()
        .with_headers(headers::with(delivery.properties.headers().as_ref(), &set));
    if !publish(channel, "", &dlq_name(&ctx.queue), &delivery.data, props).await? {
        delivery
            .nack(BasicNackOptions {
                requeue: true,
                ..Default::default()
            })
            .await?;
        return Ok(());
    }
    tracing::warn!(queue = %ctx.queue, task_id = task_id.unwrap_or("?"), reason = code, detail = %reason, "dead-lettered");
    // The dead letter is durable; the event is best effort on top of it.
    let key = task_id.unwrap_or("unknown");
    if let Err(e) = sink
        .publish(
            topic::ERRORS,
            key,
            &event::error(key, &ctx.queue, code, reason, attempt),
        )
        .await
    {
        tracing::warn!(queue = %ctx.queue, task_id = key, error = %e, "ai.errors event not delivered");
    }
    delivery.ack(BasicAckOptions::default()).await?;
    Ok(())
}

/// Publishes with a broker confirm; true when the broker took responsibility for the message.
async fn publish(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    body: &[u8],
    props: BasicProperties,
) -> Result<bool, lapin::Error> {
    let props = props.with_delivery_mode(2);
    let confirm = channel
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            BasicPublishOptions::default(),
            body,
            props,
        )
        .await?
        .await?;
    Ok(matches!(confirm, Confirmation::Ack(None)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_follow_the_attempt_and_honour_retry_after() {
        let p = RetryPolicy {
            max_attempts: 5,
            delays: [1, 5, 30].map(Duration::from_secs).to_vec(),
        };
        assert_eq!(p.tier(1, None), Some(Duration::from_secs(1)));
        assert_eq!(p.tier(2, None), Some(Duration::from_secs(5)));
        assert_eq!(p.tier(9, None), Some(Duration::from_secs(30)));
        assert_eq!(
            p.tier(1, Some(Duration::from_secs(3))),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            p.tier(1, Some(Duration::from_secs(300))),
            Some(Duration::from_secs(30))
        );
    }
}
