//! The `overseer` binary: parses the command line and wires the supervisor crate's pieces.
//! No logic of its own lives here.

mod cli;

use anyhow::{Context, Result};
use clap::Parser;
use cli::{Cli, Command, ConfigAction, DlqAction, HitlAction, TokenAction};
use overseer_supervisor::config::{self, Config};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs(&cli.log_format);
    // Before any other thread: OVERSEER…_FILE variables (Docker/Swarm secrets) become values.
    if let Err(e) = config::secret_files::resolve(|name| name.starts_with("OVERSEER")) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, filtered by `OVERSEER_LOG`: as text (ANSI colours only when stderr is a
/// terminal) or as one JSON object per line with the event's fields at the top level
/// (task_id, queue, workflow, decision_id…) and the span's.
fn init_logs(format: &str) {
    use std::io::IsTerminal;
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("OVERSEER_LOG").unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        logs.json().flatten_event(true).with_current_span(true).with_span_list(false).init();
    } else {
        logs.with_ansi(std::io::stderr().is_terminal()).init();
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Config { action: ConfigAction::Reference } => {
            print!("{}", config::reference::markdown());
            Ok(ExitCode::SUCCESS)
        }
        Command::Config { action: ConfigAction::Check } => Ok(match Config::load(&cli.config) {
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
        Command::Demo { rate, tasks, llm, events, bind } => {
            let config = load(&cli.config)?;
            let options = overseer_supervisor::demo::DemoOptions { rate, tasks, llm, events, bind };
            let runtime = config.runtime.tokio()?;
            runtime
                .block_on(overseer_supervisor::demo::run_in_terminal(config, options))
                .map_err(anyhow::Error::msg)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { queues } => {
            let config = load(&cli.config)?;
            let runtime = config.runtime.tokio()?;
            runtime.block_on(async {
                let options = overseer_supervisor::runtime::RunOptions { queues, bind: None, faults: None };
                let running = overseer_supervisor::runtime::start(&config, options).await?;
                running.run_until_signal().await?;
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Submit { queue, file, count } => {
            let config = load(&cli.config)?;
            let text =
                std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let task: serde_json::Value =
                serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
            let runtime = tokio::runtime::Runtime::new()?;
            let sent = runtime.block_on(overseer_supervisor::submit::run(&config, &queue, &task, count))?;
            println!("submitted {sent} task{} to {queue}", if sent == 1 { "" } else { "s" });
            Ok(ExitCode::SUCCESS)
        }
        Command::Ctl { verb, value, queue, replica, timeout } => {
            let config = load(&cli.config)?;
            let verb = overseer_supervisor::ctl::verb(&verb).map_err(anyhow::Error::msg)?;
            let command = overseer_supervisor::control::command::Command::new(verb, queue, value, replica);
            let runtime = tokio::runtime::Runtime::new()?;
            let report =
                runtime.block_on(overseer_supervisor::ctl::run(&config, &command, timeout.into()))?;
            let mut all_ok = report.silent.is_empty();
            for reply in &report.replies {
                all_ok &= reply.outcome == "ok";
                println!("{}\t{}\t{}", reply.replica.id, reply.outcome, reply.result);
            }
            for id in &report.silent {
                println!("{id}\tno answer within {timeout}");
            }
            if report.replies.is_empty() && report.silent.is_empty() {
                println!("no replica answered within {timeout}");
                all_ok = false;
            }
            Ok(if all_ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Dlq { action } => {
            let config = load(&cli.config)?;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(dlq(&config, action))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Hitl { api, token, action } => {
            let runtime = tokio::runtime::Runtime::new()?;
            print!("{}", runtime.block_on(hitl(&api, token, action))?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Token { action: TokenAction::Issue { sub, role, workflows, groups, ttl } } => {
            let config = load(&cli.config)?;
            let role = overseer_supervisor::auth::Role::parse(&role)
                .ok_or_else(|| anyhow::anyhow!("--role must be viewer, approver or admin"))?;
            let grant = overseer_supervisor::auth::issue::Grant {
                subject: sub,
                role,
                workflows: (!workflows.is_empty()).then_some(workflows),
                groups,
                ttl: ttl.into(),
            };
            println!("{}", overseer_supervisor::auth::issue::issue(&config.http.auth, &grant)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Healthcheck { url, timeout } => {
            let (url, host) = match url {
                Some(url) => (url, "localhost".to_string()),
                None => {
                    let config = load(&cli.config)?;
                    let url = overseer_supervisor::healthcheck::url_for(&config.http.bind)
                        .map_err(anyhow::Error::msg)?;
                    (url, overseer_supervisor::healthcheck::host_for(&config.http.allowed_hosts))
                }
            };
            let runtime = tokio::runtime::Runtime::new()?;
            Ok(match runtime.block_on(overseer_supervisor::healthcheck::check(&url, &host, timeout.into())) {
                Ok(line) => {
                    println!("{line}");
                    ExitCode::SUCCESS
                }
                Err(why) => {
                    eprintln!("unhealthy: {why}");
                    ExitCode::FAILURE
                }
            })
        }
        Command::Setup { dry_run } => {
            let config = load(&cli.config)?;
            let runtime = tokio::runtime::Runtime::new()?;
            let ok = runtime.block_on(overseer_supervisor::setup::run(&config, dry_run))?;
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}

/// Loads the configuration or fails with every problem listed; the secrets it names may come
/// from `NAME_FILE` files (called before a runtime starts its threads).
fn load(dir: &std::path::Path) -> Result<Config> {
    let config = Config::load(dir).map_err(|errors| anyhow::anyhow!("{errors}"))?;
    let named = config::secret_files::named_by(&config);
    config::secret_files::resolve(|name| named.contains(name)).map_err(anyhow::Error::msg)?;
    Ok(config)
}

async fn dlq(config: &Config, action: DlqAction) -> Result<()> {
    use overseer_supervisor::dlq;
    match action {
        DlqAction::List { queue } => {
            let letters = dlq::list(config, &queue).await?;
            println!(
                "{} dead letter{} in {queue}.dlq",
                letters.len(),
                if letters.len() == 1 { "" } else { "s" }
            );
            for l in letters {
                println!(
                    "{}\t{}\tattempts {}\t{}",
                    l.task_id.as_deref().unwrap_or("(no task_id)"),
                    l.reason.as_deref().unwrap_or("(no reason)"),
                    l.attempts.as_deref().unwrap_or("?"),
                    l.last_error.as_deref().unwrap_or("")
                );
            }
        }
        DlqAction::Show { queue, task_id } => {
            let letters = dlq::list(config, &queue).await?;
            let letter = letters
                .into_iter()
                .find(|l| l.task_id.as_deref() == Some(task_id.as_str()))
                .ok_or_else(|| anyhow::anyhow!("no dead letter with task_id `{task_id}` in {queue}.dlq"))?;
            println!("{}", serde_json::to_string_pretty(&letter)?);
        }
        DlqAction::Replay { queue, task_ids, all: _, file } => {
            let replacement = match &file {
                Some(path) if task_ids.len() == 1 => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    Some(
                        serde_json::from_str::<serde_json::Value>(&text)
                            .with_context(|| format!("{} is not JSON", path.display()))?,
                    )
                }
                Some(_) => anyhow::bail!("--file replaces one task: give exactly one --task-id"),
                None => None,
            };
            let replayed = dlq::replay(config, &queue, &task_ids, replacement.as_ref()).await?;
            println!(
                "replayed {} task{} to {queue}",
                replayed.len(),
                if replayed.len() == 1 { "" } else { "s" }
            );
        }
    }
    Ok(())
}

async fn hitl(api: &str, token: Option<String>, action: HitlAction) -> Result<String> {
    use overseer_supervisor::hitl_cli::{HitlClient, WorkflowChanges};
    let client = HitlClient::new(api, token)?;
    Ok(match action {
        HitlAction::Pending { workflow, limit } => client.pending(workflow.as_deref(), limit).await?,
        HitlAction::Show { decision_id } => client.show(&decision_id).await?,
        HitlAction::Approve { decision_id, feedback, edited } => {
            let edited = match edited {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    Some(
                        serde_json::from_str(&text)
                            .with_context(|| format!("{} is not JSON", path.display()))?,
                    )
                }
                None => None,
            };
            client.approve(&decision_id, feedback.as_deref(), edited).await?
        }
        HitlAction::Reject { decision_id, feedback } => client.reject(&decision_id, &feedback).await?,
        HitlAction::Workflows { workflow, enable, disable, threshold, autonomy } => {
            let enabled = match (enable, disable) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            };
            let changes = WorkflowChanges { enabled, threshold, autonomy };
            let changing =
                changes.enabled.is_some() || changes.threshold.is_some() || changes.autonomy.is_some();
            if changing && workflow.is_none() {
                anyhow::bail!("name the workflow to change");
            }
            client.workflows(workflow.as_deref(), &changes).await?
        }
    })
}
