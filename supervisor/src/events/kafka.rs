//! Events to Kafka through rdkafka's FutureProducer: acks=all and the idempotent producer, so a
//! delivery report means the event is on every in-sync replica, and producer retries never
//! duplicate it. Batching comes from `linger.ms` (config), not from holding tasks back.

use super::kafka_stats::ProducerStats;
use super::{EventSink, SinkError};
use crate::config::KafkaConfig;
use crate::connect::kafka_client_config;
use crate::metrics::Handles;
use async_trait::async_trait;
use metrics::Counter;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use std::sync::Arc;
use std::time::Duration;

/// Producer properties the pass-through ones (`connections.kafka.client`) may override.
/// Uncompressed: a task's events are a few small JSON records, and librdkafka sets up (and
/// zeroes) a fresh LZ4 frame context of 64 KiB for every batch; docs/benchmarks.md measured
/// lz4 against none. Statistics every 5 s feed the produce request counters on /metrics.
const PRODUCER_DEFAULTS: [(&str, &str); 4] = [
    ("compression.type", "none"),
    ("message.timeout.ms", "30000"),
    ("linger.ms", "5"),
    ("statistics.interval.ms", "5000"),
];

pub struct KafkaSink {
    producer: FutureProducer<ProducerStats>,
    /// `overseer_events_total` by topic: (delivered, failed).
    counted: Handles<String, Arc<[Counter; 2]>>,
}

impl KafkaSink {
    pub fn new(config: &KafkaConfig) -> Result<Self, SinkError> {
        let mut client = kafka_client_config(config);
        // Durability settings are not left to the pass-through properties' defaults.
        let idempotence = if config.idempotence { "true" } else { "false" };
        client.set("acks", "all").set("enable.idempotence", idempotence);
        for (key, value) in PRODUCER_DEFAULTS {
            if !config.client.contains_key(key) {
                client.set(key, value);
            }
        }
        let producer =
            client.create_with_context(ProducerStats).map_err(|e| SinkError::Unavailable(e.to_string()))?;
        Ok(Self { producer, counted: Handles::default() })
    }
}

/// Errors the broker may get over (retry the task) versus errors about the event itself.
fn classify(e: KafkaError) -> SinkError {
    match e.rdkafka_error_code() {
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
            | RDKafkaErrorCode::InvalidMessageSize
            | RDKafkaErrorCode::UnknownTopicOrPartition
            | RDKafkaErrorCode::UnknownTopic
            | RDKafkaErrorCode::TopicAuthorizationFailed,
        ) => SinkError::Refused(e.to_string()),
        _ => SinkError::Unavailable(e.to_string()),
    }
}

#[async_trait]
impl EventSink for KafkaSink {
    async fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> Result<(), SinkError> {
        let record = FutureRecord::to(topic).key(key).payload(payload);
        let outcome = self
            .producer
            .send(record, rdkafka::util::Timeout::After(Duration::from_secs(5)))
            .await
            .map(|_| ())
            .map_err(|(e, _)| classify(e));
        let counters = self.counted.get(topic, || {
            let counter = |outcome: &'static str| {
                metrics::counter!(crate::metrics::EVENTS, "topic" => topic.to_string(), "outcome" => outcome)
            };
            Arc::new([counter("delivered"), counter("failed")])
        });
        counters[usize::from(outcome.is_err())].increment(1);
        outcome
    }

    async fn flush(&self, timeout: Duration) -> Result<(), SinkError> {
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || producer.flush(timeout))
            .await
            .map_err(|e| SinkError::Unavailable(e.to_string()))?
            .map_err(classify)
    }

    async fn reachable(&self, timeout: Duration) -> Result<(), SinkError> {
        use rdkafka::producer::Producer;
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || producer.client().fetch_metadata(None, timeout).map(|_| ()))
            .await
            .map_err(|e| SinkError::Unavailable(e.to_string()))?
            .map_err(|e| SinkError::Unavailable(e.to_string()))
    }
}
