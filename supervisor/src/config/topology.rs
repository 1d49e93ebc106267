//! What overseer declares on the brokers: queue classes, queues, retry tiers and topics.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A priority class (high, medium, low, critical, training): defaults shared by its queues.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueClass {
    /// RabbitMQ consumer priority (`x-priority`) of this class's consumers: when consumers of
    /// several classes share a channel budget, higher priority ones are served first.
    pub consumer_priority: i32,
    /// Default prefetch (basic.qos) per consumer: the most unacked deliveries it holds.
    pub prefetch: u16,
    /// Default number of tasks of one queue deciding at once in one replica (decode, claim,
    /// agent and model call); committing, publishing and acking a routed task holds no slot
    /// and is bounded by the prefetch.
    pub concurrency: u16,
}

/// Who consumes a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsumerRole {
    /// An agent consumes it (then `agent` and `workflow` are required).
    Agent,
    /// The HITL intake consumes approval requests from other systems.
    HitlIntake,
    /// Nobody in overseer: people (via the API) or downstream jobs read it.
    External,
}

/// One RabbitMQ work queue. Its dead-letter queue is `<name>.dlq`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// The queue's priority class (a key of `[classes]`).
    pub class: String,
    /// Message TTL (`x-message-ttl`): a task older than this is dead-lettered unprocessed.
    #[serde(with = "humantime_serde")]
    #[schemars(with = "String")]
    pub message_ttl: Duration,
    /// Who consumes the queue.
    pub consumer: ConsumerRole,
    /// The agent (a key of `[agents]`) that processes this queue's tasks.
    #[serde(default)]
    pub agent: Option<String>,
    /// The workflow (a key of `[workflows]`) for tasks that name none.
    #[serde(default)]
    pub workflow: Option<String>,
    /// Workflows a task on this queue may name besides those at least as strict as the queue's
    /// own; a task naming any other workflow is dead-lettered (`workflow_not_allowed`).
    #[serde(default)]
    pub allowed_workflows: Vec<String>,
    /// Prefetch per consumer; the class default when absent.
    #[serde(default)]
    pub prefetch: Option<u16>,
    /// Tasks deciding at once per replica (see `classes.<name>.concurrency`); the class
    /// default when absent.
    #[serde(default)]
    pub concurrency: Option<u16>,
    /// Opt-in autoscaling: the concurrency follows the backlog and how busy the slots are,
    /// within these bounds (docs/operations.md). An operator's scale pins it until cleared.
    #[serde(default)]
    pub autoscale: Option<AutoscaleConfig>,
    /// Deliveries before a failing task is dead-lettered; `[retry].max_attempts` when absent.
    #[serde(default)]
    pub max_attempts: Option<u32>,
}

/// The bounds of a queue's autoscaled concurrency (per replica).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoscaleConfig {
    /// Fewest tasks at once.
    pub min: u16,
    /// Most tasks at once (at most 1024).
    pub max: u16,
}

/// How transient failures are retried without holding a consumer slot: a failed task is
/// published to the delay queue `overseer.retry.<delay>`, whose message TTL dead-letters it
/// back to its own queue when the delay has passed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// The delay tiers, shortest first. A backoff is rounded up to the next tier.
    #[serde(default = "default_retry_delays", with = "duration_list")]
    #[schemars(with = "Vec<String>")]
    pub delays: Vec<Duration>,
    /// Deliveries before a failing task is dead-lettered, for queues that set none.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self { delays: default_retry_delays(), max_attempts: default_max_attempts() }
    }
}

fn default_retry_delays() -> Vec<Duration> {
    [1, 5, 30, 120, 600].map(Duration::from_secs).to_vec()
}
fn default_max_attempts() -> u32 {
    5
}

/// One Kafka topic.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicConfig {
    /// Number of partitions. Events are keyed by task_id, so one task's events stay ordered.
    pub partitions: i32,
    /// Wanted replication factor; capped at the cluster's broker count, with a warning.
    #[serde(default = "default_replication")]
    pub replication_factor: i32,
}

fn default_replication() -> i32 {
    2
}

/// `humantime_serde` for a list of durations (it handles single values only).
mod duration_list {
    use humantime_serde::Serde;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::time::Duration;

    pub(super) fn serialize<S: Serializer>(list: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        let wrapped: Vec<Serde<Duration>> = list.iter().copied().map(Serde::from).collect();
        wrapped.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        let wrapped = Vec::<Serde<Duration>>::deserialize(d)?;
        Ok(wrapped.into_iter().map(Serde::into_inner).collect())
    }
}
