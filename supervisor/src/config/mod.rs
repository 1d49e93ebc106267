//! Configuration: TOML files under `config/`, merged, overridden from the environment,
//! extracted entry by entry and validated, so one check reports every problem at once.
//!
//! - [`connections`], [`service`], [`topology`]: the typed sections.
//! - `sources`: reading files and `OVERSEER__…` variables, remembering each key's origin.
//! - `validate`: rules across sections (a queue's agent must exist, …).
//! - [`reference`]: docs/configuration.md, generated from these types' doc comments.

pub mod connections;
pub mod hitl;
pub mod http;
mod problem;
pub mod reference;
pub mod secret_files;
pub mod service;
mod sources;
pub mod topology;
mod validate;

pub use connections::{AmqpConfig, Connections, KafkaConfig, LlmConfig, RedisConfig};
pub use hitl::HitlConfig;
pub use http::{AuthConfig, HttpConfig, RateLimitConfig};
pub use overseer_agents::policy::PolicyConfig;
pub use overseer_agents::spec::AgentSpec;
pub use overseer_agents::workflow::WorkflowConfig;
pub use problem::{ConfigErrors, ConfigProblem, Origin};
pub use service::{Limits, RuntimeConfig};
pub use sources::ENV_PREFIX;
pub use topology::{AutoscaleConfig, ConsumerRole, QueueClass, QueueConfig, RetryConfig, TopicConfig};

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sources::{join, Sources};
use std::collections::BTreeMap;
use std::path::Path;
use toml::Value;

/// The whole configuration of one overseer replica.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where RabbitMQ, Redis, Kafka and the LLM are.
    pub connections: Connections,
    /// overseer's HTTP port.
    #[serde(default)]
    pub http: HttpConfig,
    /// Bounds on incoming tasks.
    #[serde(default)]
    pub limits: Limits,
    /// Retry delays and attempts.
    #[serde(default)]
    pub retry: RetryConfig,
    /// Shutdown grace and supervision limits.
    #[serde(default)]
    pub runtime: RuntimeConfig,
    /// Actions that always need a person, whatever the confidence.
    #[serde(default)]
    pub policy: PolicyConfig,
    /// The human-in-the-loop service: expiry sweeps, history.
    #[serde(default)]
    pub hitl: HitlConfig,
    /// Queue priority classes, by name.
    pub classes: BTreeMap<String, QueueClass>,
    /// RabbitMQ work queues, by queue name.
    pub queues: BTreeMap<String, QueueConfig>,
    /// Kafka topics, by topic name.
    pub topics: BTreeMap<String, TopicConfig>,
    /// HITL workflows, by workflow id.
    pub workflows: BTreeMap<String, WorkflowConfig>,
    /// Agents, by name.
    pub agents: BTreeMap<String, AgentSpec>,
}

impl Config {
    /// Loads `dir` with the process environment's `OVERSEER__…` overrides.
    pub fn load(dir: &Path) -> Result<Self, ConfigErrors> {
        Self::load_with_env(dir, std::env::vars())
    }

    /// Loads `dir` with the given environment (tests pass their own).
    pub fn load_with_env(
        dir: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigErrors> {
        let mut problems = Vec::new();
        let sources = Sources::read(dir, env, &mut problems);
        let mut x = Extractor { sources: &sources, problems };
        for key in sources.tree.keys() {
            if !SECTIONS.contains(&key.as_str()) {
                x.problem(key, format!("unknown section; expected one of {}", SECTIONS.join(", ")));
            }
        }
        let config = Partial {
            connections: x.section("connections", None),
            http: x.section("http", Some(HttpConfig::default())),
            limits: x.section("limits", Some(Limits::default())),
            retry: x.section("retry", Some(RetryConfig::default())),
            runtime: x.section("runtime", Some(RuntimeConfig::default())),
            policy: x.section("policy", Some(PolicyConfig::default())),
            hitl: x.section("hitl", Some(HitlConfig::default())),
            classes: x.entries("classes"),
            queues: x.entries("queues"),
            topics: x.entries("topics"),
            workflows: x.entries("workflows"),
            agents: x.entries("agents"),
        };
        let mut problems = x.problems;
        let Some(connections) = config.connections else {
            return Err(ConfigErrors(problems));
        };
        let config = Config {
            connections,
            http: config.http.unwrap_or_default(),
            limits: config.limits.unwrap_or_default(),
            retry: config.retry.unwrap_or_default(),
            runtime: config.runtime.unwrap_or_default(),
            policy: config.policy.unwrap_or_default(),
            hitl: config.hitl.unwrap_or_default(),
            classes: config.classes,
            queues: config.queues,
            topics: config.topics,
            workflows: config.workflows,
            agents: config.agents,
        };
        for (key, message) in validate::problems(&config) {
            problems.push(ConfigProblem { origin: sources.origin_of(&key), key, message });
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(problems))
        }
    }

    /// The queue's prefetch: its own, else its class's.
    pub fn prefetch(&self, queue: &QueueConfig) -> u16 {
        queue.prefetch.or_else(|| self.classes.get(&queue.class).map(|c| c.prefetch)).unwrap_or(1)
    }

    /// The queue's concurrency: its own, else its class's.
    pub fn concurrency(&self, queue: &QueueConfig) -> u16 {
        queue.concurrency.or_else(|| self.classes.get(&queue.class).map(|c| c.concurrency)).unwrap_or(1)
    }

    /// The queue's attempt limit: its own, else `[retry].max_attempts`.
    pub fn max_attempts(&self, queue: &QueueConfig) -> u32 {
        queue.max_attempts.unwrap_or(self.retry.max_attempts)
    }
}

/// The top-level sections a config file may hold.
const SECTIONS: &[&str] = &[
    "connections",
    "http",
    "limits",
    "retry",
    "runtime",
    "policy",
    "hitl",
    "classes",
    "queues",
    "topics",
    "workflows",
    "agents",
];

/// Pulls typed values out of the merged tree, recording every failure instead of stopping.
struct Extractor<'a> {
    sources: &'a Sources,
    problems: Vec<ConfigProblem>,
}

/// A section while it is being extracted: `None` where it failed.
struct Partial {
    connections: Option<Connections>,
    http: Option<HttpConfig>,
    limits: Option<Limits>,
    retry: Option<RetryConfig>,
    runtime: Option<RuntimeConfig>,
    policy: Option<PolicyConfig>,
    hitl: Option<HitlConfig>,
    classes: BTreeMap<String, QueueClass>,
    queues: BTreeMap<String, QueueConfig>,
    topics: BTreeMap<String, TopicConfig>,
    workflows: BTreeMap<String, WorkflowConfig>,
    agents: BTreeMap<String, AgentSpec>,
}

impl Extractor<'_> {
    fn problem(&mut self, key: &str, message: String) {
        self.problems.push(ConfigProblem {
            origin: self.sources.origin_of(key),
            key: key.to_string(),
            message,
        });
    }

    /// A whole section; `default` when it is absent (or a "missing" problem without one).
    fn section<T: DeserializeOwned>(&mut self, name: &str, default: Option<T>) -> Option<T> {
        match self.sources.tree.get(name) {
            Some(value) => self.typed(name, value.clone()),
            None if default.is_some() => default,
            None => {
                self.problem(name, "missing section".to_string());
                None
            }
        }
    }

    /// A map section, each entry extracted on its own so one bad entry hides no other.
    fn entries<T: DeserializeOwned>(&mut self, name: &str) -> BTreeMap<String, T> {
        let mut out = BTreeMap::new();
        match self.sources.tree.get(name) {
            Some(Value::Table(table)) => {
                for (key, value) in table {
                    if let Some(entry) = self.typed(&join(name, key), value.clone()) {
                        out.insert(key.clone(), entry);
                    }
                }
            }
            Some(_) => self.problem(name, "must be a table of named entries".to_string()),
            None => self.problem(name, "missing section".to_string()),
        }
        out
    }

    fn typed<T: DeserializeOwned>(&mut self, base: &str, value: Value) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(typed) => Some(typed),
            Err(e) => {
                let inner = e.path().to_string();
                let key = if inner == "." { base.to_string() } else { join(base, &inner) };
                self.problem(&key, e.into_inner().message().to_string());
                None
            }
        }
    }
}

#[cfg(test)]
mod tests;
