//! The `overseer` binary: parses the command line and wires the supervisor crate's pieces.
//! No logic of its own lives here.

mod cli;

use anyhow::Result;
use clap::Parser;
use cli::{Cli, Command, ConfigAction};
use overseer_supervisor::config::{self, Config};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OVERSEER_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Config {
            action: ConfigAction::Reference,
        } => {
            print!("{}", config::reference::markdown());
            Ok(ExitCode::SUCCESS)
        }
        Command::Config {
            action: ConfigAction::Check,
        } => Ok(match Config::load(&cli.config) {
            Ok(config) => {
                println!(
                    "{}: ok ({} queues, {} topics, {} workflows, {} agents)",
                    cli.config.display(),
                    config.queues.len(),
                    config.topics.len(),
                    config.workflows.len(),
                    config.agents.len()
                );
                ExitCode::SUCCESS
            }
            Err(errors) => {
                eprint!("{errors}");
                ExitCode::from(2)
            }
        }),
        Command::Setup { dry_run } => {
            let config = load(&cli.config)?;
            let runtime = tokio::runtime::Runtime::new()?;
            let ok = runtime.block_on(overseer_supervisor::setup::run(&config, dry_run))?;
            Ok(if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// Loads the configuration or fails with every problem listed.
fn load(dir: &std::path::Path) -> Result<Config> {
    Config::load(dir).map_err(|errors| anyhow::anyhow!("{errors}"))
}
