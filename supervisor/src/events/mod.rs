//! Where events go: the [`EventSink`] trait, Kafka ([`kafka::KafkaSink`]) in production,
//! memory ([`memory::MemorySink`]) in unit tests and a JSON-lines file
//! ([`jsonl::JsonLinesSink`]) in the embedded demo. `publish` returns only
//! once the event is durable (for Kafka: its delivery report with acks=all), which is what
//! lets a task be acked after it. Events travel as the JSON bytes of their contract struct,
//! serialized once ([`contract::Event::to_bytes`]), never as an intermediate JSON tree.

pub mod contract;
pub mod event;
pub mod jsonl;
pub mod kafka;
pub mod kafka_reports;
pub mod kafka_stats;
pub mod memory;

use async_trait::async_trait;

/// Why an event was not stored.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SinkError {
    /// The broker is away or slow: the task should be retried (requeued), not dropped.
    #[error("event sink unavailable: {0}")]
    Unavailable(String),
    /// The event itself was refused (too large, unknown topic).
    #[error("event refused: {0}")]
    Refused(String),
}

#[async_trait]
pub trait EventSink: Send + Sync {
    /// Stores one event (its JSON, `payload`) keyed by `key` (the task_id) on `topic`; returns
    /// once it is durable.
    async fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> Result<(), SinkError>;
    /// Stores several events of one key (a task's, as (topic, payload)) at once; returns once
    /// all are durable, or the first error.
    async fn publish_all(&self, key: &str, events: Vec<(String, Vec<u8>)>) -> Result<(), SinkError> {
        let sends = events.iter().map(|(topic, payload)| self.publish(topic, key, payload));
        futures_util::future::join_all(sends).await.into_iter().find(Result::is_err).unwrap_or(Ok(()))
    }
    /// Waits until everything handed over is delivered or `timeout` passes.
    async fn flush(&self, timeout: std::time::Duration) -> Result<(), SinkError>;
    /// Whether the broker answers now (readiness); sinks without one always do.
    async fn reachable(&self, _timeout: std::time::Duration) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Publishes a contract event (see [`contract`]) through any sink.
pub async fn publish<E: contract::Event + Sync>(
    sink: &(impl EventSink + ?Sized),
    topic: &str,
    key: &str,
    event: &E,
) -> Result<(), SinkError> {
    sink.publish(topic, key, &event.to_bytes()).await
}
