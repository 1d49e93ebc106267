//! Events to Kafka through rdkafka's BaseProducer: acks=all and the idempotent producer, so a
//! delivery report means the event is on every in-sync replica, and producer retries never
//! duplicate it. Batching comes from `linger.ms` (config), not from holding tasks back. The
//! reports are served on the runtime ([`super::kafka_reports`]).

use super::kafka_reports::{self, Deliveries};
use super::{EventSink, SinkError};
use crate::config::KafkaConfig;
use crate::connect::kafka_client_config;
use crate::metrics::Handles;
use async_trait::async_trait;
use metrics::Counter;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How long a record waits for room in librdkafka's queue (full at
/// `queue.buffering.max.messages`) before its task is retried.
const QUEUE_WAIT: Duration = Duration::from_secs(5);

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
    producer: Arc<BaseProducer<Deliveries>>,
    /// `overseer_events_total` by topic: (delivered, failed).
    counted: Handles<String, Arc<[Counter; 2]>>,
}

impl KafkaSink {
    /// The producer, its delivery reports served on the current tokio runtime.
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
        let producer: BaseProducer<Deliveries> = client
            .create_with_context(Deliveries::default())
            .map_err(|e| SinkError::Unavailable(e.to_string()))?;
        let producer = Arc::new(producer);
        tokio::spawn(kafka_reports::serve(Arc::downgrade(&producer)));
        Ok(Self { producer, counted: Handles::default() })
    }

    /// Hands the record to librdkafka (waiting for room up to [`QUEUE_WAIT`]), then waits for
    /// its delivery report.
    async fn deliver(&self, topic: &str, key: &str, payload: &[u8]) -> Result<(), SinkError> {
        let (report, delivered) = oneshot::channel();
        let mut record = BaseRecord::with_opaque_to(topic, Box::new(report)).key(key).payload(payload);
        let deliveries = self.producer.context();
        let asked = Instant::now();
        loop {
            deliveries.sending();
            match self.producer.send(record) {
                Ok(()) => break,
                Err((e, back)) => {
                    deliveries.refused();
                    if e != KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull)
                        || asked.elapsed() >= QUEUE_WAIT
                    {
                        return Err(classify(e));
                    }
                    record = back;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        match delivered.await {
            Ok(reported) => reported.map_err(classify),
            Err(_) => {
                Err(SinkError::Unavailable("the producer closed before the event's delivery report".into()))
            }
        }
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
        let outcome = self.deliver(topic, key, payload).await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::mocking::MockCluster;
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

    fn sink(cluster: &MockCluster<'static, rdkafka::producer::DefaultProducerContext>) -> KafkaSink {
        sink_with(cluster, &[])
    }

    fn sink_with(
        cluster: &MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
        client: &[(&str, &str)],
    ) -> KafkaSink {
        let config = KafkaConfig {
            bootstrap_servers: cluster.bootstrap_servers(),
            client: client.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            request_timeout: Duration::from_secs(5),
            idempotence: true,
        };
        KafkaSink::new(&config).expect("producer")
    }

    #[tokio::test]
    async fn every_event_of_a_burst_returns_once_its_report_is_served() {
        let cluster = MockCluster::new(1).expect("mock cluster");
        cluster.create_topic("ai.completions", 3, 1).expect("topic");
        let sink = sink(&cluster);
        let sends = (0..500).map(|i| {
            let key = format!("task-{i}");
            let sink = &sink;
            async move { sink.publish("ai.completions", &key, b"{}").await }
        });
        let outcomes = tokio::time::timeout(Duration::from_secs(20), futures_util::future::join_all(sends))
            .await
            .expect("every report served");
        assert!(outcomes.iter().all(Result::is_ok), "{:?}", outcomes.iter().find(|o| o.is_err()));
        assert!(!sink.producer.context().awaited_any());
    }

    #[tokio::test]
    async fn events_that_are_not_reports_are_drained_too_while_idle() {
        // Statistics every 10 ms and nothing published: about a hundred statistics events in
        // 1.2 s, served in the idle turns (0, 0.5 and 1 s). A drain that stopped at the first
        // event that is not a report would have served one a turn, and reports queued behind
        // the rest would wait.
        let cluster = MockCluster::new(1).expect("mock cluster");
        let sink = sink_with(&cluster, &[("statistics.interval.ms", "10")]);
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let served = sink.producer.context().served();
        assert!(served >= 40, "served {served} events");
    }

    #[tokio::test]
    async fn a_record_the_broker_refuses_fails_its_publish_through_the_report() {
        let cluster = MockCluster::new(1).expect("mock cluster");
        cluster.create_topic("ai.completions", 1, 1).expect("topic");
        let sink = sink(&cluster);
        // Warm up: the producer id and the topic's metadata.
        tokio::time::timeout(Duration::from_secs(20), sink.publish("ai.completions", "task-0", b"{}"))
            .await
            .expect("the report is served")
            .expect("first event");
        cluster
            .request_errors(RDKafkaApiKey::Produce, &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE]);
        let refused =
            tokio::time::timeout(Duration::from_secs(20), sink.publish("ai.completions", "task-1", b"{}"))
                .await
                .expect("the report is served");
        assert!(matches!(refused, Err(SinkError::Refused(_))), "{refused:?}");
    }
}
