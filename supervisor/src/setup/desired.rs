//! The broker objects the configuration asks for, computed without any I/O so the plan can be
//! printed, tested and compared with what the brokers hold.

use crate::config::Config;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// The exchange every queue dead-letters into, routed by `<queue>.dlq`.
pub const DLX: &str = "overseer.dlx";
/// The fanout exchange that carries control commands to every replica.
pub const CONTROL_EXCHANGE: &str = "overseer.control";
/// Highest AMQP priority the work queues accept (tasks use 0..9).
pub const MAX_PRIORITY: i64 = 10;

/// A queue or exchange argument value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Arg {
    Int(i64),
    Str(String),
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Int(n) => write!(f, "{n}"),
            Self::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// Queue arguments, by name.
pub type Args = BTreeMap<String, Arg>;

/// Formats arguments as `{a=1, b="x"}`.
pub fn show_args(args: &Args) -> String {
    let parts: Vec<String> = args.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", parts.join(", "))
}

/// The AMQP exchange types overseer uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeType {
    Direct,
    Fanout,
}

impl ExchangeType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Fanout => "fanout",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeSpec {
    pub name: String,
    pub kind: ExchangeType,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub name: String,
    pub args: Args,
    /// (exchange, routing key) bindings beyond the default exchange.
    pub bindings: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
}

/// Everything `overseer setup` declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub exchanges: Vec<ExchangeSpec>,
    pub queues: Vec<QueueSpec>,
    pub topics: Vec<TopicSpec>,
}

/// Name of a queue's dead-letter queue.
pub fn dlq_name(queue: &str) -> String {
    format!("{queue}.dlq")
}

/// Name of the retry delay queue (and its fanout exchange) for one delay tier.
pub fn retry_name(delay: Duration) -> String {
    format!("overseer.retry.{}", humantime::format_duration(delay))
}

/// The arguments of a work queue.
pub fn work_queue_args(name: &str, message_ttl: Duration) -> Args {
    Args::from([
        ("x-dead-letter-exchange".into(), Arg::Str(DLX.into())),
        ("x-dead-letter-routing-key".into(), Arg::Str(dlq_name(name))),
        ("x-max-priority".into(), Arg::Int(MAX_PRIORITY)),
        ("x-message-ttl".into(), Arg::Int(millis(message_ttl))),
    ])
}

/// The arguments of a retry delay queue: messages wait `delay`, then dead-letter through the
/// default exchange with their original routing key, which is their work queue's name.
pub fn retry_queue_args(delay: Duration) -> Args {
    Args::from([
        ("x-dead-letter-exchange".into(), Arg::Str(String::new())),
        ("x-message-ttl".into(), Arg::Int(millis(delay))),
    ])
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Desired {
    pub fn from_config(config: &Config) -> Self {
        let mut exchanges = vec![
            ExchangeSpec { name: DLX.into(), kind: ExchangeType::Direct },
            ExchangeSpec { name: CONTROL_EXCHANGE.into(), kind: ExchangeType::Fanout },
        ];
        let mut queues = Vec::new();
        for (name, q) in &config.queues {
            queues.push(QueueSpec {
                name: name.clone(),
                args: work_queue_args(name, q.message_ttl),
                bindings: Vec::new(),
            });
            queues.push(QueueSpec {
                name: dlq_name(name),
                args: Args::new(),
                bindings: vec![(DLX.into(), dlq_name(name))],
            });
        }
        for delay in &config.retry.delays {
            let name = retry_name(*delay);
            exchanges.push(ExchangeSpec { name: name.clone(), kind: ExchangeType::Fanout });
            queues.push(QueueSpec {
                name: name.clone(),
                args: retry_queue_args(*delay),
                bindings: vec![(name, String::new())],
            });
        }
        let topics = config
            .topics
            .iter()
            .map(|(name, t)| TopicSpec {
                name: name.clone(),
                partitions: t.partitions,
                replication_factor: t.replication_factor,
            })
            .collect();
        Self { exchanges, queues, topics }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_work_queue_gets_a_bound_dlq_and_retry_tiers_route_back() {
        let config = crate::config::Config::load_with_env(
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../config")),
            Vec::new(),
        )
        .expect("config loads");
        let desired = Desired::from_config(&config);
        let orders = desired.queues.iter().find(|q| q.name == "auto_orders").expect("auto_orders");
        assert_eq!(orders.args["x-message-ttl"], Arg::Int(3_600_000));
        assert_eq!(orders.args["x-dead-letter-routing-key"], Arg::Str("auto_orders.dlq".into()));
        let dlq = desired.queues.iter().find(|q| q.name == "auto_orders.dlq").expect("dlq");
        assert_eq!(dlq.bindings, vec![(DLX.to_string(), "auto_orders.dlq".to_string())]);
        let tier = desired.queues.iter().find(|q| q.name == "overseer.retry.5s").expect("5s tier");
        assert_eq!(tier.args["x-dead-letter-exchange"], Arg::Str(String::new()));
        assert!(!tier.args.contains_key("x-dead-letter-routing-key"));
        assert_eq!(desired.queues.len(), 11 * 2 + config.retry.delays.len());
        assert_eq!(desired.topics.len(), 13);
    }
}
