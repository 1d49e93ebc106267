//! The RabbitMQ [`Transport`]: a session is a channel in confirm mode on the replica's one
//! connection ([`AmqpLink`]); consuming is basic_qos + basic_consume with the consumer
//! priority; a channel's acks are folded into as few frames as they can be (acks.rs); retries
//! go through the retry tiers' exchanges, dead letters to `<queue>.dlq`, both confirmed,
//! mandatory and persistent (publish.rs).

use super::acks::Acks;
use super::headers::{self, text};
use super::link::AmqpLink;
use super::publish::confirmed;
use super::{Delivery, Session, Transport, TransportError};
use crate::setup::desired::{dlq_name, retry_name};
use async_trait::async_trait;
use futures_util::StreamExt;
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, ConfirmSelectOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Consumer};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub struct AmqpTransport {
    pub link: Arc<AmqpLink>,
}

#[async_trait]
impl Transport for AmqpTransport {
    async fn session(&self) -> Result<Box<dyn Session>, TransportError> {
        let conn = self.link.connection().await.map_err(|e| TransportError(e.to_string()))?;
        let channel = conn.create_channel().await?;
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        let acks = Arc::new(Acks::start(channel.clone()));
        Ok(Box::new(AmqpSession {
            channel,
            acks,
            tag: String::new(),
            queue: String::new(),
            stream: None,
            prefetch: 0,
            received: 0,
        }))
    }

    async fn outage(&self) -> Option<Duration> {
        self.link.retry_in().await
    }
}

struct AmqpSession {
    channel: Channel,
    acks: Arc<Acks>,
    tag: String,
    queue: String,
    stream: Option<Consumer>,
    /// The prefetch asked in `consume`.
    prefetch: u16,
    /// The highest delivery tag received (RabbitMQ numbers a channel's deliveries 1, 2, 3...).
    received: u64,
}

#[async_trait]
impl Session for AmqpSession {
    async fn consume(&mut self, queue: &str, prefetch: u16, priority: i32) -> Result<(), TransportError> {
        self.channel.basic_qos(prefetch, BasicQosOptions::default()).await?;
        self.prefetch = prefetch;
        let mut args = FieldTable::default();
        args.insert("x-priority".into(), AMQPValue::LongInt(priority));
        if self.tag.is_empty() {
            self.tag = format!("overseer-{queue}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        }
        let stream = self
            .channel
            .basic_consume(queue.into(), self.tag.as_str().into(), BasicConsumeOptions::default(), args)
            .await?;
        self.queue = queue.to_string();
        self.stream = Some(stream);
        Ok(())
    }

    async fn cancel(&mut self) -> Result<(), TransportError> {
        let Some(mut stream) = self.stream.take() else { return Ok(()) };
        self.channel.basic_cancel(self.tag.as_str().into(), BasicCancelOptions::default()).await?;
        // After the cancel the stream yields what it buffered, then ends (bounded by prefetch).
        while let Ok(Some(Ok(delivery))) = tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
            self.received = self.received.max(delivery.delivery_tag);
            delivery.nack(BasicNackOptions { requeue: true, multiple: false }).await?;
            self.acks.settled_elsewhere(delivery.delivery_tag);
        }
        Ok(())
    }

    async fn next(&mut self) -> Option<Result<Arc<dyn Delivery>, TransportError>> {
        let Some(stream) = self.stream.as_mut() else {
            return std::future::pending().await;
        };
        let next = self.acks.next_from(stream, self.received, self.prefetch).await;
        Some(match next? {
            Ok(delivery) => {
                self.received = self.received.max(delivery.delivery_tag);
                Ok(Arc::new(AmqpDelivery {
                    delivery,
                    channel: self.channel.clone(),
                    acks: self.acks.clone(),
                    queue: self.queue.clone(),
                    settled: AtomicBool::new(false),
                }))
            }
            Err(e) => Err(e.into()),
        })
    }

    async fn close(&mut self) {
        if self.stream.take().is_some() {
            let _ = self.channel.basic_cancel(self.tag.as_str().into(), BasicCancelOptions::default()).await;
        }
        // Held acks go first; closing the channel hands every unacked delivery back.
        let _ = tokio::time::timeout(Duration::from_secs(5), self.acks.send_held()).await;
        let _ = self.channel.close(200, "consumer stopped".into()).await;
    }
}

/// lapin answers false for a delivery whose channel closed (RabbitMQ then redelivers it).
fn settled(sent: bool) -> Result<(), TransportError> {
    match sent {
        true => Ok(()),
        false => Err(TransportError("the channel closed before the delivery was settled".into())),
    }
}

struct AmqpDelivery {
    delivery: lapin::message::Delivery,
    channel: Channel,
    acks: Arc<Acks>,
    queue: String,
    /// Acked or requeued already (a second settlement would close the channel).
    settled: AtomicBool,
}

impl AmqpDelivery {
    /// Claims the one settlement a delivery gets.
    fn settling(&self) -> Result<(), TransportError> {
        match self.settled.swap(true, Ordering::AcqRel) {
            false => Ok(()),
            true => Err(TransportError("the delivery was settled already".into())),
        }
    }

    /// A copy of the message to `exchange`/`routing_key` with `set` headers; true when taken.
    async fn copy(
        &self,
        exchange: &str,
        routing_key: &str,
        set: &[(&str, AMQPValue)],
    ) -> Result<bool, TransportError> {
        let props = self.delivery.properties.clone();
        let props = props.with_headers(headers::with(self.delivery.properties.headers().as_ref(), set));
        Ok(confirmed(&self.channel, exchange, routing_key, &self.delivery.data, props).await?)
    }
}

#[async_trait]
impl Delivery for AmqpDelivery {
    fn body(&self) -> &[u8] {
        &self.delivery.data
    }

    fn redelivered(&self) -> bool {
        self.delivery.redelivered
    }

    fn attempt(&self) -> u32 {
        headers::attempt(self.delivery.properties.headers().as_ref())
    }

    async fn ack(&self) -> Result<(), TransportError> {
        self.settling()?;
        self.acks.ack(self.delivery.delivery_tag).await
    }

    async fn requeue(&self) -> Result<(), TransportError> {
        self.settling()?;
        settled(self.delivery.nack(BasicNackOptions { requeue: true, ..Default::default() }).await?)?;
        self.acks.settled_elsewhere(self.delivery.delivery_tag);
        Ok(())
    }

    async fn send_later(
        &self,
        delay: Duration,
        attempt: Option<u32>,
        last_error: Option<&str>,
    ) -> Result<bool, TransportError> {
        let mut set = Vec::new();
        if let Some(n) = attempt {
            set.push((headers::ATTEMPT, AMQPValue::LongInt(i32::try_from(n).unwrap_or(i32::MAX))));
        }
        if let Some(e) = last_error {
            set.push((headers::LAST_ERROR, text(e)));
        }
        self.copy(&retry_name(delay), &self.queue, &set).await
    }

    async fn dead_letter(&self, code: &str, reason: &str, attempts: u32) -> Result<bool, TransportError> {
        let set = [
            (headers::REASON, text(code)),
            (headers::LAST_ERROR, text(reason)),
            (headers::ATTEMPTS, AMQPValue::LongInt(i32::try_from(attempts).unwrap_or(i32::MAX))),
            (headers::ORIGINAL_QUEUE, text(&self.queue)),
        ];
        self.copy("", &dlq_name(&self.queue), &set).await
    }
}
