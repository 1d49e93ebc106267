//! The command line: what each subcommand takes. Parsing only; main.rs wires.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// overseer: the agent worker runtime.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
pub(crate) struct Cli {
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
    /// Declare the RabbitMQ exchanges and queues and create the Kafka topics. Idempotent.
    Setup {
        /// Inspect the brokers and print what would be created, without changing anything.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigAction {
    /// Validate the configuration; print every problem with its file and key.
    Check,
    /// Print the configuration reference (docs/configuration.md) generated from the code.
    Reference,
}
