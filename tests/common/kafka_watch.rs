//! Reads events from Kafka topics, starting at the offsets the topics had when the watch
//! began, so a test sees only what happened after it started (the topics are shared).

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

pub struct KafkaWatch {
    consumer: BaseConsumer,
}

/// (topic, event) as received.
pub type Seen = (String, serde_json::Value);

impl KafkaWatch {
    pub fn start(topics: &[&str]) -> Self {
        Self::start_at(super::KAFKA, topics)
    }

    /// A watch on the broker at `bootstrap`, from now on.
    pub fn start_at(bootstrap: &str, topics: &[&str]) -> Self {
        Self::open(bootstrap, topics, false)
    }

    /// A watch on the broker at `bootstrap` that reads the topics from their beginning.
    pub fn start_at_beginning(bootstrap: &str, topics: &[&str]) -> Self {
        Self::open(bootstrap, topics, true)
    }

    fn open(bootstrap: &str, topics: &[&str], from_beginning: bool) -> Self {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", format!("overseer-test-{}", uuid::Uuid::new_v4()))
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
        let metadata = consumer.fetch_metadata(None, Duration::from_secs(10)).expect("metadata");
        let mut assignment = TopicPartitionList::new();
        for topic in metadata.topics().iter().filter(|t| topics.contains(&t.name())) {
            for p in topic.partitions() {
                let offset = if from_beginning {
                    Offset::Beginning
                } else {
                    let (_, high) = consumer
                        .fetch_watermarks(topic.name(), p.id(), Duration::from_secs(10))
                        .expect("watermarks");
                    Offset::Offset(high)
                };
                assignment.add_partition_offset(topic.name(), p.id(), offset).expect("offset");
            }
        }
        consumer.assign(&assignment).expect("assign");
        Self { consumer }
    }

    /// Events whose task_id is in `task_ids`, read for `wait` or until `enough` says stop.
    pub fn collect(
        &self,
        task_ids: &HashSet<String>,
        wait: Duration,
        enough: impl Fn(&[Seen]) -> bool,
    ) -> Vec<Seen> {
        self.collect_where(|e| e["task_id"].as_str().is_some_and(|id| task_ids.contains(id)), wait, enough)
    }

    /// Events `keep` accepts, read for `wait` or until `enough` says stop.
    pub fn collect_where(
        &self,
        keep: impl Fn(&serde_json::Value) -> bool,
        wait: Duration,
        enough: impl Fn(&[Seen]) -> bool,
    ) -> Vec<Seen> {
        let deadline = Instant::now() + wait;
        let mut seen = Vec::new();
        while Instant::now() < deadline && !enough(&seen) {
            if let Some(Ok(message)) = self.consumer.poll(Duration::from_millis(100)) {
                let Some(payload) = message.payload() else {
                    continue;
                };
                let Ok(event) = serde_json::from_slice::<serde_json::Value>(payload) else {
                    continue;
                };
                if keep(&event) {
                    seen.push((message.topic().to_string(), event));
                }
            }
        }
        seen
    }
}

/// How many events of `topic` are in `seen`.
pub fn count(seen: &[Seen], topic: &str) -> usize {
    seen.iter().filter(|(t, _)| t == topic).count()
}

/// ai.completions events per task_id in `seen`.
pub fn completions(seen: &[Seen]) -> HashMap<String, usize> {
    let mut per_task = HashMap::new();
    for (_, e) in seen.iter().filter(|(t, _)| t == "ai.completions") {
        *per_task.entry(e["task_id"].as_str().unwrap_or_default().to_string()).or_insert(0) += 1;
    }
    per_task
}
