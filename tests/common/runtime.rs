//! An overseer replica for a test: its own RabbitMQ vhost (set up with the real topology),
//! its own Redis key prefix, the shared Kafka, and a local OpenAI-compatible server.

use super::llm_server::LlmServer;
use super::Vhost;
use overseer_supervisor::config::Config;
use overseer_supervisor::runtime::{self, RunOptions, Running};

pub struct TestEnv {
    pub vhost: Vhost,
    pub redis_prefix: String,
    pub llm: LlmServer,
}

impl TestEnv {
    /// A fresh vhost with the topology declared, and a local LLM server.
    pub async fn new() -> Self {
        let env = Self {
            vhost: Vhost::new(),
            redis_prefix: format!("overseer-test-{}:", uuid::Uuid::new_v4()),
            llm: LlmServer::start().await,
        };
        let ok = overseer_supervisor::setup::run(&env.config(&[]), false).await.expect("setup");
        assert!(ok, "setup found conflicts in a fresh vhost");
        env
    }

    /// The shipped configuration pointed at this environment, plus `extra` overrides.
    pub fn config(&self, extra: &[(&str, &str)]) -> Config {
        Config::load_with_env(&super::repo_config(), self.env(extra)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The `OVERSEER__…` variables that point a replica at this environment, plus `extra`.
    pub fn env(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = vec![
            ("OVERSEER__CONNECTIONS__AMQP__URL".to_string(), self.vhost.amqp_url()),
            ("OVERSEER__CONNECTIONS__REDIS__KEY_PREFIX".to_string(), self.redis_prefix.clone()),
            ("OVERSEER__CONNECTIONS__LLM__BASE_URL".to_string(), self.llm.base_url.clone()),
            ("OVERSEER__CONNECTIONS__LLM__REQUEST_TIMEOUT".to_string(), "2s".to_string()),
            ("OVERSEER__RETRY__DELAYS".to_string(), "[\"1s\", \"2s\"]".to_string()),
            (
                "OVERSEER__HTTP__AUTH__HS256_SECRET_FILE".to_string(),
                super::auth::secret_file().display().to_string(),
            ),
        ];
        for (key, value) in extra {
            env.retain(|(k, _)| k != key);
            env.push((key.to_string(), value.to_string()));
        }
        env
    }

    /// Starts a replica consuming `queues`, with the tests' fault hooks (common::faults).
    pub async fn start(&self, config: &Config, queues: &[&str]) -> Running {
        let options = RunOptions {
            queues: queues.iter().map(|q| q.to_string()).collect(),
            bind: Some("127.0.0.1:0".into()),
            faults: Some(std::sync::Arc::new(super::faults::PayloadPanics::default())),
        };
        runtime::start(config, options).await.expect("runtime starts")
    }

    /// Publishes tasks to `queue` with confirms.
    pub async fn submit(&self, config: &Config, queue: &str, task: &serde_json::Value, count: usize) {
        overseer_supervisor::submit::run(config, queue, task, count).await.expect("submit");
    }

    /// Ready messages in `queue` (after the replicas stopped, unacked ones are back in it).
    pub async fn ready(&self, queue: &str) -> u32 {
        let conn = lapin::Connection::connect(&self.vhost.amqp_url(), lapin::ConnectionProperties::default())
            .await
            .expect("RabbitMQ");
        let channel = conn.create_channel().await.expect("channel");
        let q = channel
            .queue_declare(
                queue.into(),
                lapin::options::QueueDeclareOptions { passive: true, ..Default::default() },
                Default::default(),
            )
            .await
            .expect("queue exists");
        let _ = conn.close(200, "bye".into()).await;
        q.message_count()
    }

    /// Takes one message from `queue`: its headers (as text) and body.
    pub async fn take(&self, queue: &str) -> Option<(std::collections::BTreeMap<String, String>, Vec<u8>)> {
        let conn = lapin::Connection::connect(&self.vhost.amqp_url(), lapin::ConnectionProperties::default())
            .await
            .expect("RabbitMQ");
        let channel = conn.create_channel().await.expect("channel");
        let got = channel
            .basic_get(queue.into(), lapin::options::BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get");
        let _ = conn.close(200, "bye".into()).await;
        got.map(|message| {
            let headers = message
                .delivery
                .properties
                .headers()
                .as_ref()
                .map(|h| {
                    h.inner()
                        .iter()
                        .map(|(k, v)| {
                            let text = match v {
                                lapin::types::AMQPValue::LongString(s) => {
                                    String::from_utf8_lossy(s.as_bytes()).into_owned()
                                }
                                other => format!("{other:?}")
                                    .trim_start_matches("LongInt(")
                                    .trim_end_matches(')')
                                    .to_string(),
                            };
                            (k.to_string(), text)
                        })
                        .collect()
                })
                .unwrap_or_default();
            (headers, message.delivery.data.clone())
        })
    }

    /// A Redis key of this environment.
    pub fn redis_get(&self, key: &str) -> Option<String> {
        self.redis_get_at("redis://127.0.0.1:6379/0", key)
    }

    /// A field of a hash of this environment in the Redis at `url`.
    pub fn redis_hget_at(&self, url: &str, key: &str, field: &str) -> Option<String> {
        let client = redis::Client::open(url).expect("redis url");
        let mut conn = client.get_connection().expect("Redis");
        redis::cmd("HGET")
            .arg(format!("{}{key}", self.redis_prefix))
            .arg(field)
            .query(&mut conn)
            .expect("HGET")
    }

    /// A field of a hash of this environment in the machine's Redis.
    pub fn redis_hget(&self, key: &str, field: &str) -> Option<String> {
        self.redis_hget_at("redis://127.0.0.1:6379/0", key, field)
    }

    /// A key of this environment in the Redis at `url`.
    pub fn redis_get_at(&self, url: &str, key: &str) -> Option<String> {
        let client = redis::Client::open(url).expect("redis url");
        let mut conn = client.get_connection().expect("Redis");
        redis::cmd("GET").arg(format!("{}{key}", self.redis_prefix)).query(&mut conn).expect("GET")
    }
}

/// A complete order task with this id.
pub fn order(task_id: &str, workflow: Option<&str>) -> serde_json::Value {
    let mut task = serde_json::json!({
        "task_id": task_id,
        "kind": "order.process",
        "payload": {
            "customer": {"name": "Ada", "email": "ada@example.com"},
            "items": [{"sku": "A1", "qty": 2, "unit_price": 10.0}],
            "shipping_address": {"line1": "1 Main St", "city": "X", "postal_code": "1", "country": "DE"},
            "payment_status": "paid",
            "total": 20.0
        }
    });
    if let Some(w) = workflow {
        task["workflow"] = w.into();
    }
    task
}

impl TestEnv {
    /// Submits `n` orders in `workflow` (a replica of this environment must consume
    /// auto_orders and park them) and waits for their `hitl.requests`; decision id → task id,
    /// and the watch (on hitl.requests, ai.completions, hitl.decisions, hitl.feedback) that saw
    /// them, to keep watching.
    pub async fn park_orders(
        &self,
        n: usize,
        workflow: &str,
    ) -> (std::collections::HashMap<String, String>, super::kafka_watch::KafkaWatch) {
        let config = self.config(&[]);
        let watch = super::kafka_watch::KafkaWatch::start(&[
            "hitl.requests",
            "ai.completions",
            "hitl.decisions",
            "hitl.feedback",
            "audit.trail",
        ]);
        let base = format!("ord-{}", uuid::Uuid::new_v4());
        self.submit(&config, "auto_orders", &order(&base, Some(workflow)), n).await;
        let ids: std::collections::HashSet<String> =
            if n == 1 { [base.clone()].into() } else { (1..=n).map(|i| format!("{base}-{i}")).collect() };
        let seen = watch.collect(&ids, std::time::Duration::from_secs(30), |s| {
            super::kafka_watch::count(s, "hitl.requests") >= n
        });
        let parked: std::collections::HashMap<String, String> = seen
            .iter()
            .filter(|(t, _)| t == "hitl.requests")
            .map(|(_, e)| {
                (e["decision_id"].as_str().unwrap_or("").into(), e["task_id"].as_str().unwrap_or("").into())
            })
            .collect();
        assert_eq!(parked.len(), n, "parked: {seen:#?}");
        (parked, watch)
    }
}

impl TestEnv {
    /// Parks a decision of `workflow` straight into this environment's Redis (no model, no
    /// Kafka), with the approver rules of `config`'s workflow snapshotted when it has one;
    /// returns its id.
    pub async fn park_direct(&self, config: &Config, workflow: &str) -> String {
        self.park_direct_for(config, workflow, "order").await
    }

    /// As [`park_direct`](Self::park_direct), as a decision of `agent`.
    pub async fn park_direct_for(&self, config: &Config, workflow: &str, agent: &str) -> String {
        use overseer_supervisor::hitl::{Decisions, PendingDecision};
        let store = overseer_supervisor::hitl::redis_store::RedisStore::connect(
            "redis://127.0.0.1:6379/0",
            &self.redis_prefix,
            std::time::Duration::from_secs(5),
        )
        .await
        .expect("Redis");
        let task_id = format!("task-{}", uuid::Uuid::new_v4());
        let data = serde_json::json!({
            "task": {"task_id": task_id, "payload": {"order_id": "o-1", "total": 20.0}},
            "proposal": {"summary": "refund 10", "model_confidence": 0.5, "actions": [{"action": "refund", "amount": 10.0}], "details": {}},
        });
        let mut d = PendingDecision::new(
            &task_id,
            workflow,
            "auto_orders",
            agent,
            overseer_agents::confidence::Confidence::combine(0.5, 0.5, None),
            vec!["low_confidence".into()],
            data,
            std::time::Duration::from_secs(600),
        );
        if let Some(w) = config.workflows.get(workflow) {
            d = d.with_rules(w);
        }
        store.park(&d, std::time::Duration::from_secs(1200)).await.expect("park").decision_id().to_string()
    }
}
