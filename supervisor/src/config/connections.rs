//! Where the services are. Every key here can be overridden from the environment
//! (`OVERSEER__CONNECTIONS__AMQP__URL=...`), which is how a Swarm service sets them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Connections to RabbitMQ, Redis, Kafka and the LLM endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Connections {
    /// RabbitMQ, where tasks come from.
    pub amqp: AmqpConfig,
    /// Redis, where HITL decisions and workflow settings live.
    pub redis: RedisConfig,
    /// Kafka (or a Kafka-compatible broker), where completions and events go.
    pub kafka: KafkaConfig,
    /// The OpenAI-compatible LLM endpoint.
    pub llm: LlmConfig,
}

/// RabbitMQ connection settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AmqpConfig {
    /// AMQP URL with credentials and vhost (`amqp://user:pass@host:5672/%2f`; `amqps://` for
    /// TLS). The password is masked wherever overseer prints the URL. Its query parameters
    /// (`heartbeat`, `connection_timeout`, `frame_max`: 8 KiB unless given) win over overseer's.
    pub url: String,
    /// RabbitMQ management API base URL (`http://user:pass@host:15672`). Optional: `overseer
    /// setup` uses it to show the arguments of an existing queue that conflicts with the config.
    #[serde(default)]
    pub management_url: Option<String>,
    /// AMQP heartbeat interval: a frozen broker is noticed after about two of these.
    #[serde(default = "default_heartbeat", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub heartbeat: Duration,
    /// How long to wait for the TCP and AMQP handshake before calling the broker unreachable.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub connect_timeout: Duration,
}

/// Redis connection settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// Redis URL (`redis://:password@host:6379/0`; `rediss://` for TLS). The password is masked
    /// wherever overseer prints the URL.
    pub url: String,
    /// How long to wait for a connection before calling Redis unreachable.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub connect_timeout: Duration,
    /// Prefix of every key overseer writes, so several deployments (or tests) can share one
    /// Redis.
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
    /// For `rediss://` with a private CA: a PEM file of the CA that signed the server's
    /// certificate. Without it, the system's trusted roots are used.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub ca_file: Option<std::path::PathBuf>,
}

/// Kafka connection settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Comma-separated `host:port` list of bootstrap brokers.
    pub bootstrap_servers: String,
    /// Extra librdkafka client properties (e.g. `security.protocol`, `sasl.username`), passed
    /// through as they are. Values that look like secrets are masked when printed. Unless given
    /// here, the producer uses `linger.ms` 5, `compression.type` none, `message.timeout.ms`
    /// 30000 and `statistics.interval.ms` 5000 (how often the produce request counters on
    /// /metrics are brought up to date; 0 turns them off). `acks` is always all;
    /// docs/benchmarks.md measures what a longer linger and lz4 cost and save; set
    /// `compression.type` to lz4 or zstd where the link to Kafka is the bottleneck rather than CPU.
    #[serde(default, deserialize_with = "scalars_as_text")]
    pub client: BTreeMap<String, String>,
    /// Timeout for admin and metadata requests.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub request_timeout: Duration,
    /// The idempotent producer: a producer retry never writes an event twice. Leave it on.
    /// (tansu 0.6.0 refuses an idempotent producer whose messages timed out in an outage of
    /// tens of seconds, see docs/operations.md; Apache Kafka does not.)
    #[serde(default = "default_true")]
    pub idempotence: bool,
}

fn default_true() -> bool {
    true
}

/// The LLM endpoint. Without `base_url`, the built-in offline stand-in answers instead, so a
/// fresh machine runs end to end with no API key.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// Base URL of an OpenAI-compatible API (OpenAI, vLLM, Ollama, llama.cpp), e.g.
    /// `http://127.0.0.1:11434/v1`. Empty or absent: the offline stand-in is used. The proxy
    /// variables apply as curl reads them (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
    /// `NO_PROXY`).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Model name sent with every request.
    pub model: String,
    /// Name of the environment variable that holds the API key. The key itself is never
    /// written in a config file, printed or logged.
    #[serde(default = "default_api_key_env")]
    pub api_key_env: String,
    /// Timeout of one HTTP attempt.
    #[serde(default = "default_llm_timeout", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub request_timeout: Duration,
    /// Overall deadline for one task's LLM work, retries included.
    #[serde(default = "default_llm_deadline", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub deadline: Duration,
    /// Most LLM requests in flight at once from this replica.
    #[serde(default = "default_llm_concurrency")]
    pub max_concurrency: u32,
    /// HTTP attempts per model call (429, 5xx, timeouts are retried; other 4xx are not).
    #[serde(default = "default_llm_attempts")]
    pub max_attempts: u32,
    /// Ask the endpoint for token log-probabilities, which then count in the confidence.
    #[serde(default)]
    pub logprobs: bool,
    /// The longest answer the model may give, in tokens (at least 16), so a model that
    /// rambles stops instead of filling its context window.
    #[serde(default = "default_llm_max_tokens")]
    pub max_tokens: u32,
}

impl LlmConfig {
    /// True when no endpoint is configured and the offline stand-in answers.
    pub fn is_offline(&self) -> bool {
        self.base_url.as_deref().is_none_or(|u| u.trim().is_empty())
    }
}

fn default_key_prefix() -> String {
    "overseer:".to_string()
}
fn default_llm_max_tokens() -> u32 {
    1024
}
fn default_llm_attempts() -> u32 {
    4
}
fn default_heartbeat() -> Duration {
    Duration::from_secs(10)
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_api_key_env() -> String {
    "OPENAI_API_KEY".to_string()
}
fn default_llm_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_llm_deadline() -> Duration {
    Duration::from_secs(120)
}
fn default_llm_concurrency() -> u32 {
    64
}

/// librdkafka takes every property as text; numbers and booleans (as TOML or an environment
/// variable gives them) are accepted and written as text.
fn scalars_as_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Int(i64),
        Float(f64),
        Bool(bool),
    }
    let raw = BTreeMap::<String, Scalar>::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                Scalar::Text(s) => s,
                Scalar::Int(n) => n.to_string(),
                Scalar::Float(x) => x.to_string(),
                Scalar::Bool(b) => b.to_string(),
            };
            (k, text)
        })
        .collect())
}
