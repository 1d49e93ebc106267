//! Settings of overseer's own process: shutdown, supervision, and the limits on tasks.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How the process stops and how its supervisors restart children.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// On SIGTERM/SIGINT, how long in-flight tasks may run before the rest are requeued.
    /// Keep it below Swarm's stop_grace_period (10s by default).
    #[serde(default = "default_grace", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub shutdown_grace: std::time::Duration,
    /// Restarts of one consumer within `restart_window` before its queue supervisor gives up
    /// (meltdown): the queue is marked failed on /health and in metrics.
    #[serde(default = "default_max_restarts")]
    pub max_restarts: u32,
    /// The window `max_restarts` is counted in.
    #[serde(default = "default_restart_window", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub restart_window: std::time::Duration,
    /// How often a replica looks for queue control changed for the whole cluster (a pause or
    /// a scale made through any replica's supervisor API with `scope=cluster`).
    #[serde(default = "default_control_poll", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub control_poll: std::time::Duration,
    /// How often a replica samples its queues' backlog (ready, unacked, consumers) for the
    /// metrics, the tree and autoscaling.
    #[serde(default = "default_backlog_poll", with = "humantime_serde")]
    #[schemars(with = "String")]
    pub backlog_poll: std::time::Duration,
    /// Threads of the async runtime (`overseer run`, `overseer demo`). Unset: one per CPU the
    /// process may use, which follows a container's CPU limit (one for the stack's 1-CPU
    /// replicas). Where overseer shares a few cores with its brokers, one thread spends less
    /// CPU per task than two waking each other (docs/benchmarks.md, fifth round).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_threads: Option<std::num::NonZeroUsize>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            shutdown_grace: default_grace(),
            max_restarts: default_max_restarts(),
            restart_window: default_restart_window(),
            control_poll: default_control_poll(),
            backlog_poll: default_backlog_poll(),
            worker_threads: None,
        }
    }
}

impl RuntimeConfig {
    /// The async runtime these settings ask for.
    pub fn tokio(&self) -> std::io::Result<tokio::runtime::Runtime> {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if let Some(threads) = self.worker_threads {
            builder.worker_threads(threads.get());
        }
        builder.enable_all().build()
    }
}

fn default_grace() -> std::time::Duration {
    std::time::Duration::from_secs(8)
}
fn default_max_restarts() -> u32 {
    5
}
fn default_control_poll() -> std::time::Duration {
    std::time::Duration::from_secs(1)
}
fn default_backlog_poll() -> std::time::Duration {
    std::time::Duration::from_secs(5)
}
fn default_restart_window() -> std::time::Duration {
    std::time::Duration::from_secs(60)
}

/// Bounds on incoming tasks: anything past them is dead-lettered at once, never processed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest task message body accepted, in bytes.
    #[serde(default = "default_max_task_bytes")]
    pub max_task_bytes: usize,
    /// Deepest JSON nesting accepted in a task.
    #[serde(default = "default_max_json_depth")]
    pub max_json_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_task_bytes: default_max_task_bytes(), max_json_depth: default_max_json_depth() }
    }
}

fn default_max_task_bytes() -> usize {
    1024 * 1024
}
fn default_max_json_depth() -> usize {
    64
}
