//! The command line: what each subcommand takes. Parsing only; main.rs wires.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// overseer: the agent worker runtime.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub(crate) struct Cli {
    /// Log lines as `text` (colours only on a terminal) or `json` (one object per line, for a
    /// log shipper).
    #[arg(long, global = true, env = "OVERSEER_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub(crate) log_format: String,

    /// Directory of configuration files (every *.toml in it is read).
    #[arg(long, global = true, env = "OVERSEER_CONFIG_DIR", default_value = "config")]
    pub(crate) config: PathBuf,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check or document the configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// The whole product with no services: the actor tree, pipeline, HITL API and dashboard on
    /// in-memory backends, events to a JSON-lines file, fed a varied task mix, until Ctrl-C.
    Demo {
        /// Tasks per second the demo feeds.
        #[arg(long, default_value_t = 5.0)]
        rate: f64,
        /// Stop feeding after this many tasks.
        #[arg(long)]
        tasks: Option<u64>,
        /// An OpenAI-compatible base URL to use instead of the built-in stand-in.
        #[arg(long)]
        llm: Option<String>,
        /// The events file (appended).
        #[arg(long, default_value = "overseer-demo-events.jsonl")]
        events: PathBuf,
        /// Where the API listens (http.bind by default).
        #[arg(long)]
        bind: Option<String>,
    },
    /// Run the worker: consume the agent queues until SIGTERM/SIGINT, then drain.
    Run {
        /// Consume only these queues (comma-separated); all agent queues by default.
        #[arg(long, value_delimiter = ',')]
        queues: Vec<String>,
    },
    /// Publish a task (a JSON file in the contract's format) to a queue, with confirms.
    Submit {
        /// The queue to publish to, e.g. auto_orders.
        #[arg(long)]
        queue: String,
        /// The task file.
        #[arg(long)]
        file: PathBuf,
        /// Publish this many copies, their task_ids suffixed -1, -2, ….
        #[arg(long, default_value_t = 1)]
        count: usize,
    },
    /// Steer every replica at once through the control exchange, and print each one's reply:
    /// tree, pause, resume, scale N, prefetch N, clear, drain. Without --replica, pause,
    /// resume, scale and prefetch are remembered for the cluster (replicas started later
    /// follow) and clear forgets them (back to the configuration, autoscaling again).
    /// drain --queue Q stops taking Q's work; drain alone drains the replicas, which exit.
    Ctl {
        /// tree, pause, resume, scale, prefetch, clear or drain.
        verb: String,
        /// scale's concurrency or prefetch's prefetch.
        value: Option<u64>,
        /// One queue (default: every queue).
        #[arg(long)]
        queue: Option<String>,
        /// One replica (its id from `ctl tree`, or its host name).
        #[arg(long)]
        replica: Option<String>,
        /// How long to wait for replies.
        #[arg(long, default_value = "2s")]
        timeout: humantime::Duration,
    },
    /// Look at a queue's dead letters and send them back.
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
    },
    /// Pending decisions and workflows, through a running replica's HITL API.
    Hitl {
        /// The API's base URL (any replica).
        #[arg(long, env = "OVERSEER_API", default_value = "http://127.0.0.1:8001")]
        api: String,
        /// Your bearer token (`overseer token issue` makes one); who you are is what it proves.
        #[arg(long, env = "OVERSEER_TOKEN", hide_env_values = true)]
        token: Option<String>,
        #[command(subcommand)]
        action: HitlAction,
    },
    /// Bearer tokens for the API (HS256 mode: signed with the configured shared secret).
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Ask this machine's replica whether it is healthy (GET /health): exit 0 when it is,
    /// 1 when it answers degraded, answers otherwise or not at all. For container healthchecks.
    Healthcheck {
        /// The health URL (default: http.bind of the configuration, on loopback).
        #[arg(long)]
        url: Option<String>,
        /// How long to wait for the answer.
        #[arg(long, default_value = "3s")]
        timeout: humantime::Duration,
    },
    /// Declare the RabbitMQ exchanges and queues and create the Kafka topics. Idempotent.
    Setup {
        /// Inspect the brokers and print what would be created, without changing anything.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenAction {
    /// Print a signed token for a person or service.
    Issue {
        /// The subject: who the holder is (recorded as the decider and in the audit log).
        #[arg(long)]
        sub: String,
        /// viewer, approver or admin.
        #[arg(long)]
        role: String,
        /// Limit deciding to these workflows (comma-separated); every workflow by default.
        #[arg(long, value_delimiter = ',')]
        workflows: Vec<String>,
        /// Groups (comma-separated), matched by `group:<name>` entries of approver lists.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
        /// Lifetime, e.g. 8h, 30m, 7d (at most http.auth.max_ttl).
        #[arg(long, default_value = "8h")]
        ttl: humantime::Duration,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigAction {
    /// Validate the configuration; print every problem with its file and key.
    Check,
    /// Print the configuration reference (docs/configuration.md) generated from the code.
    Reference,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DlqAction {
    /// List the dead letters of a queue (nothing is removed).
    List {
        /// The work queue, e.g. auto_orders (its dead letters are in auto_orders.dlq).
        #[arg(long)]
        queue: String,
    },
    /// Print one dead letter: why it is there and its body.
    Show {
        #[arg(long)]
        queue: String,
        #[arg(long)]
        task_id: String,
    },
    /// Send dead letters back to their queue (after fixing what made them fail).
    Replay {
        #[arg(long)]
        queue: String,
        /// The task to replay (repeatable).
        #[arg(long = "task-id", required_unless_present = "all")]
        task_ids: Vec<String>,
        /// Replay every dead letter of the queue.
        #[arg(long, conflicts_with_all = ["task_ids", "file"])]
        all: bool,
        /// Replace the body with this edited task (one task_id only).
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum HitlAction {
    /// List pending decisions, soonest deadline first.
    Pending {
        #[arg(long)]
        workflow: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Print one decision in full.
    Show { decision_id: String },
    /// Approve a decision; it executes.
    Approve {
        decision_id: String,
        #[arg(long)]
        feedback: Option<String>,
        /// A file with the edited proposal (JSON) to execute instead of the agent's.
        #[arg(long)]
        edited: Option<PathBuf>,
    },
    /// Reject a decision; its task does not execute.
    Reject {
        decision_id: String,
        #[arg(long)]
        feedback: String,
    },
    /// List the workflows, or change one.
    Workflows {
        /// The workflow to change (all are listed without it).
        workflow: Option<String>,
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        #[arg(long)]
        disable: bool,
        /// The confidence threshold, 0..1.
        #[arg(long)]
        threshold: Option<f64>,
        /// supervised, assisted, monitored, autonomous, adaptive (or 1..5).
        #[arg(long)]
        autonomy: Option<String>,
    },
}
