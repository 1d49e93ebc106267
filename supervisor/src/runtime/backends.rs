//! What a replica runs on: connected to Redis, Kafka and RabbitMQ for `overseer run`
//! ([`connect_backends`]), or in memory with a JSON-lines events file for `overseer demo`
//! ([`Backends::in_memory`]).

use super::RuntimeError;
use crate::audit::memory::MemoryAudit;
use crate::audit::redis_audit::RedisAudit;
use crate::audit::AuditLog;
use crate::config::Config;
use crate::connect::{self, Unreachable};
use crate::control::remembered::{MemoryControl, RedisControl, RememberedControl};
use crate::events::kafka::KafkaSink;
use crate::events::EventSink;
use crate::hitl::memory::MemoryStore;
use crate::hitl::queues::QueueOut;
use crate::hitl::redis_store::RedisStore;
use crate::hitl::DecisionStore;
use crate::ledger::memory::MemoryLedger;
use crate::ledger::redis_ledger::RedisLedger;
use crate::ledger::Ledger;
use crate::onboarding::sessions::{MemorySessions, RedisSessions, SessionStore};
use crate::transport::amqp::AmqpTransport;
use crate::transport::link::AmqpLink;
use crate::transport::memory::MemoryBroker;
use crate::transport::Transport;
use crate::workflows::memory::MemoryWorkflows;
use crate::workflows::redis_workflows::RedisWorkflows;
use crate::workflows::WorkflowStore;
use overseer_agents::llm::LlmClient;
use std::sync::Arc;

/// What a replica runs on: Redis, Kafka and RabbitMQ for `overseer run`, memory and a
/// JSON-lines file for `overseer demo`.
pub struct Backends {
    pub store: Arc<dyn DecisionStore>,
    pub ledger: Arc<dyn Ledger>,
    pub workflows: Arc<dyn WorkflowStore>,
    pub audit: Arc<dyn AuditLog>,
    pub remembered: Arc<dyn RememberedControl>,
    pub sessions: Arc<dyn SessionStore>,
    pub sink: Arc<dyn EventSink>,
    pub transport: Arc<dyn Transport>,
    /// Where escalations are sent (the transport's broker).
    pub queues_out: Arc<dyn QueueOut>,
    /// The RabbitMQ connection when the transport is RabbitMQ (the control exchange, the
    /// backlog, readiness).
    pub link: Option<Arc<AmqpLink>>,
    /// The model; None: as configured ([`llm_client`]).
    pub llm: Option<Arc<dyn LlmClient>>,
}

impl Backends {
    /// Everything in memory, events appended to `sink`.
    pub fn in_memory(sink: Arc<dyn EventSink>, broker: MemoryBroker) -> Self {
        Self {
            store: Arc::new(MemoryStore::default()),
            ledger: Arc::new(MemoryLedger::default()),
            workflows: Arc::new(MemoryWorkflows::default()),
            audit: Arc::new(MemoryAudit::new(10_000)),
            remembered: Arc::new(MemoryControl::default()),
            sessions: Arc::new(MemorySessions::default()),
            sink,
            transport: Arc::new(broker.clone()),
            queues_out: Arc::new(broker),
            link: None,
            llm: None,
        }
    }
}

/// Connects to Redis, Kafka and RabbitMQ as configured; each must answer.
pub async fn connect_backends(config: &Config) -> Result<Backends, RuntimeError> {
    let c = &config.connections;
    let ca = connect::redis_ca(&c.redis).map_err(RuntimeError::Start)?;
    let redis = RedisStore::connect_with_ca(&c.redis.url, ca, &c.redis.key_prefix, c.redis.connect_timeout)
        .await
        .map_err(|e| Unreachable::new("Redis", &c.redis.url, e))?;
    let prefix = &c.redis.key_prefix;
    let kafka_url = format!("kafka://{}", c.kafka.bootstrap_servers);
    // Proves the cluster answers before anything is consumed.
    connect::kafka_metadata(&c.kafka).await.map_err(|e| Unreachable::new("Kafka", &kafka_url, e))?;
    let sink: Arc<dyn EventSink> =
        Arc::new(KafkaSink::new(&c.kafka).map_err(|e| Unreachable::new("Kafka", &kafka_url, e))?);
    let link = Arc::new(AmqpLink::new(c.amqp.clone(), "overseer-run"));
    // Connecting once at start turns a wrong URL into a clear error instead of restarts.
    link.connection().await?;
    Ok(Backends {
        ledger: Arc::new(RedisLedger::new(redis.connection(), prefix)),
        workflows: Arc::new(RedisWorkflows::new(redis.connection(), prefix)),
        audit: Arc::new(RedisAudit::new(redis.connection(), prefix)),
        remembered: Arc::new(RedisControl::new(redis.connection(), prefix)),
        sessions: Arc::new(RedisSessions::new(redis.connection(), prefix)),
        store: Arc::new(redis),
        sink,
        transport: Arc::new(AmqpTransport { link: link.clone() }),
        queues_out: link.clone(),
        link: Some(link),
        llm: None,
    })
}
