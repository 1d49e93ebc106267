//! Where tasks come from and how they settle, behind [`Transport`]: RabbitMQ ([`amqp`]) in
//! production, memory ([`memory`]) in the embedded demo and unit tests. A consumer opens a
//! [`Session`] of its own, consumes one queue through it with a prefetch, and settles each
//! [`Delivery`] as its [`plan::Settlement`] says (settle.rs): ack, requeue, a copy through a
//! retry tier, or a copy to the dead-letter queue, acked only once the copy is taken.

pub mod acks;
pub mod amqp;
pub mod headers;
pub mod link;
pub mod memory;
pub mod plan;
pub mod publish;
pub mod settle;

use async_trait::async_trait;
use std::sync::Arc;
use std::time::Duration;

/// The broker failed or went away.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

impl From<lapin::Error> for TransportError {
    fn from(e: lapin::Error) -> Self {
        Self(e.to_string())
    }
}

#[async_trait]
pub trait Transport: Send + Sync {
    /// A session of its own (RabbitMQ: a channel in confirm mode).
    async fn session(&self) -> Result<Box<dyn Session>, TransportError>;
    /// None while the broker is reachable; while it is not, how long until the next attempt to
    /// reach it. A consumer failing during an outage is the broker's fault, not the consumer's,
    /// and restarting it before then would only meet the same failure.
    async fn outage(&self) -> Option<Duration>;
}

#[async_trait]
pub trait Session: Send + Sync {
    /// Starts consuming `queue`, at most `prefetch` deliveries handed over unsettled.
    async fn consume(&mut self, queue: &str, prefetch: u16, priority: i32) -> Result<(), TransportError>;
    /// Stops consuming; what was handed over but not taken by [`Self::next`] goes back to the
    /// queue. Deliveries already taken stay to be settled.
    async fn cancel(&mut self) -> Result<(), TransportError>;
    /// The next delivery (never resolves while not consuming); `None` when the broker ended the
    /// consumption. Cancel-safe: dropping the future loses no delivery.
    async fn next(&mut self) -> Option<Result<Arc<dyn Delivery>, TransportError>>;
    /// Ends the session: every delivery not settled goes back to its queue.
    async fn close(&mut self);
}

#[async_trait]
pub trait Delivery: Send + Sync {
    fn body(&self) -> &[u8];
    /// The broker delivered it before (to this or another consumer).
    fn redelivered(&self) -> bool;
    /// Which delivery of the task this is, from its attempt header (1 when absent).
    fn attempt(&self) -> u32;
    async fn ack(&self) -> Result<(), TransportError>;
    /// Back to its queue, untouched.
    async fn requeue(&self) -> Result<(), TransportError>;
    /// A copy through the retry tier of `delay` back to its queue, with the attempt header and
    /// last error set when given; true once the broker took it (the caller then acks).
    async fn send_later(
        &self,
        delay: Duration,
        attempt: Option<u32>,
        last_error: Option<&str>,
    ) -> Result<bool, TransportError>;
    /// A copy to its queue's dead-letter queue with the reason headers; true once taken.
    async fn dead_letter(&self, code: &str, reason: &str, attempts: u32) -> Result<bool, TransportError>;
}
