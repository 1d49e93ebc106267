//! Every metric overseer exports, named in one place. Labels stay low-cardinality: queue,
//! agent, workflow, outcome, topic; never a task or decision id.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{OnceLock, PoisonError, RwLock};
use std::time::Duration;

/// Deliveries settled, by `queue`, `agent`, `outcome` (executed, hitl, retried, dead_lettered,
/// requeued, duplicate, deferred).
pub const TASKS: &str = "overseer_tasks_total";
/// Seconds from delivery to ack, by `queue`.
pub const TASK_SECONDS: &str = "overseer_task_duration_seconds";
/// Tasks being processed now, by `queue`.
pub const IN_FLIGHT: &str = "overseer_tasks_in_flight";
/// 1 while a queue is paused through the supervisor API, by `queue`.
pub const QUEUE_PAUSED: &str = "overseer_queue_paused";
/// Tasks a queue's consumer processes at once (configured, or as scaled), by `queue`.
pub const QUEUE_CONCURRENCY: &str = "overseer_queue_concurrency";
/// Deliveries RabbitMQ hands a queue's consumer ahead (basic_qos), by `queue`.
pub const QUEUE_PREFETCH: &str = "overseer_queue_prefetch";
/// Tasks waiting in a queue (all replicas'), as last sampled, by `queue`.
pub const QUEUE_READY: &str = "overseer_queue_ready";
/// Deliveries of a queue not yet acknowledged (all replicas'; needs the management API), by `queue`.
pub const QUEUE_UNACKED: &str = "overseer_queue_unacked";
/// Consumers of a queue (all replicas'), by `queue`.
pub const QUEUE_CONSUMERS: &str = "overseer_queue_consumers";
/// Tasks in flight over concurrency in this replica when sampled (0..1), by `queue`.
pub const QUEUE_UTILIZATION: &str = "overseer_queue_utilization";
/// Concurrency changes made by autoscaling, by `queue` and `direction` (up, down).
pub const AUTOSCALE_MOVES: &str = "overseer_autoscale_moves_total";
/// Seconds of LLM work per task (retries included), by `agent`.
pub const LLM_SECONDS: &str = "overseer_llm_duration_seconds";
/// Agent runs (the model's calls for one task), by `agent` and `outcome`: `ok`, or why not
/// (`llm_unavailable`, `llm_refused`, `invalid_output`, …).
pub const LLM_CALLS: &str = "overseer_llm_calls_total";
/// LLM tokens, by `agent` and `kind` (prompt, completion).
pub const LLM_TOKENS: &str = "overseer_llm_tokens_total";
/// Combined confidence of agent results, by `workflow`.
pub const CONFIDENCE: &str = "overseer_confidence";
/// Tasks whose processing panicked (retried, then dead-lettered), by `queue`.
pub const TASK_PANICS: &str = "overseer_task_panics_total";
/// Consumer restarts by their queue supervisor, by `queue`.
pub const ACTOR_RESTARTS: &str = "overseer_actor_restarts_total";
/// Pending decisions expired by the sweeper, by `workflow` and `outcome` (escalated, expired).
pub const HITL_EXPIRIES: &str = "overseer_hitl_expiries_total";
/// Decisions made by people, by `workflow` and `outcome` (approved, rejected).
pub const HITL_DECISIONS: &str = "overseer_hitl_decisions_total";
/// Seconds from parking to a person's decision, by `workflow` and `outcome`.
pub const HITL_TIME_TO_DECISION: &str = "overseer_hitl_time_to_decision_seconds";
/// Pending decisions, by `workflow` (from the shared store: every replica reports the same).
pub const HITL_PENDING: &str = "overseer_hitl_pending";
/// Age in seconds of the oldest pending decision, by `workflow` (0 when none).
pub const HITL_OLDEST_PENDING: &str = "overseer_hitl_oldest_pending_age_seconds";
/// How long a decision may wait for a person (the workflow's `pending_ttl`), by `workflow`.
pub const HITL_TTL: &str = "overseer_hitl_pending_ttl_seconds";
/// The confidence threshold in force, by `workflow`.
pub const HITL_THRESHOLD: &str = "overseer_hitl_confidence_threshold";
/// Notifications, by `kind` (webhook, telegram) and `outcome` (sent, failed, dropped).
pub const NOTIFICATIONS: &str = "overseer_notifications_total";
/// Events handed to the sink, by `topic` and `outcome` (delivered, failed).
pub const EVENTS: &str = "overseer_events_total";
/// Produce requests the Kafka producer sent (from librdkafka's statistics, every
/// `statistics.interval.ms`): with [`KAFKA_RECORDS_SENT`], how many records a request carries.
pub const KAFKA_PRODUCE_REQUESTS: &str = "overseer_kafka_produce_requests_total";
/// Records the Kafka producer sent in its produce requests (retries included; from the same
/// statistics).
pub const KAFKA_RECORDS_SENT: &str = "overseer_kafka_records_sent_total";
/// `basic.ack` frames sent to RabbitMQ: the acks a frame folds (`multiple`) count once, so with
/// the tasks settled it says how many acks a frame carries.
pub const AMQP_ACK_FRAMES: &str = "overseer_amqp_ack_frames_total";
/// HTTP requests refused for their credentials, by `reason` (missing, expired, signature, ...).
pub const HTTP_AUTH_FAILURES: &str = "overseer_http_auth_failures_total";
/// 1 when this replica reaches a service it depends on, 0 when not, by `dependency` (redis,
/// rabbitmq); probed at each scrape of /metrics.
pub const DEPENDENCY_UP: &str = "overseer_dependency_up";
/// HTTP requests answered 429.
pub const HTTP_RATE_LIMITED: &str = "overseer_http_rate_limited_total";
/// HTTP requests refused for a `Host` not served.
pub const HTTP_REFUSED_HOSTS: &str = "overseer_http_refused_hosts_total";

/// How often a replica folds recorded histogram samples into their buckets. Until then the
/// recorder keeps every sample (8 bytes each): a replica that nobody scrapes would grow without
/// bound, and one scraped every 15 s holds 15 s of samples.
pub const UPKEEP: Duration = Duration::from_secs(1);

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder (once per process) and returns its handle.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let seconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
            let human =
                [1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 4.0 * 3600.0, 86400.0];
            let unit = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0];
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(HITL_TIME_TO_DECISION.into()), &human)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds))
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full(CONFIDENCE.into()), &unit))
                .map(PrometheusBuilder::build_recorder);
            match recorder {
                Ok(recorder) => {
                    let handle = recorder.handle();
                    metrics::set_global_recorder(recorder).ok().map(|_| handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics disabled");
                    None
                }
            }
        })
        .clone()
}

/// Metric handles by the label values that vary (an outcome, a topic, an agent), each
/// registered the first time its values are seen. The macros build a key with its labels,
/// hash it and find it in the registry on every call; through these, counting on a task's
/// path is a lookup under a read lock and an atomic add. The keys are label values, as few as
/// the series they stand for.
pub struct Handles<K, T> {
    seen: RwLock<HashMap<K, T>>,
}

impl<K, T> Default for Handles<K, T> {
    fn default() -> Self {
        Self { seen: RwLock::new(HashMap::new()) }
    }
}

impl<K: Eq + Hash, T: Clone> Handles<K, T> {
    /// The handle for `key`, made by `register` the first time.
    pub fn get<Q>(&self, key: &Q, register: impl FnOnce() -> T) -> T
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(handle) = self.seen.read().unwrap_or_else(PoisonError::into_inner).get(key) {
            return handle.clone();
        }
        let handle = register();
        let mut seen = self.seen.write().unwrap_or_else(PoisonError::into_inner);
        seen.entry(key.to_owned()).or_insert(handle).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_handle_is_registered_once_per_key() {
        let handles: Handles<String, usize> = Handles::default();
        let registered = AtomicUsize::new(0);
        let register = |n: usize| {
            registered.fetch_add(1, Ordering::SeqCst);
            n
        };
        for _ in 0..3 {
            assert_eq!(handles.get("ai.completions", || register(1)), 1);
            assert_eq!(handles.get("ai.decisions", || register(2)), 2);
        }
        assert_eq!(registered.load(Ordering::SeqCst), 2);
    }
}
