//! `overseer demo`: the whole product with no services. The same actor tree, pipeline, HITL
//! service, HTTP API and dashboard as `overseer run`, on in-memory backends (the memory
//! transport with RabbitMQ's settlement rules, the memory decision store, ledger, workflows
//! and audit log) with events appended to a JSON-lines file, and the built-in deterministic
//! LLM stand-in (or `--llm URL`). A feeder publishes a varied mix to every agent queue
//! ([`mix`]); a progress line shows what became of it; the API serves until Ctrl-C.

mod flaky;
pub mod mix;

use crate::auth::issue::{issue, Grant};
use crate::auth::Role;
use crate::config::Config;
use crate::events::jsonl::JsonLinesSink;
use crate::events::EventSink;
use crate::runtime::{self, Backends, RunOptions, Running};
use crate::transport::memory::{MemoryBroker, Message};
use flaky::FlakyLlm;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Tasks per second the feeder publishes (0: none).
    pub rate: f64,
    /// Stop feeding after this many tasks (None: until stopped).
    pub tasks: Option<u64>,
    /// An OpenAI-compatible base URL instead of the stand-in.
    pub llm: Option<String>,
    /// The events file.
    pub events: PathBuf,
    /// Where the HTTP API listens (`http.bind` by default).
    pub bind: Option<String>,
}

/// A running demo: the replica, the broker its tasks go through, and the feeder.
pub struct Demo {
    pub running: Running,
    pub broker: MemoryBroker,
    pub events: PathBuf,
    /// Tokens for the API and the dashboard: admin, approver.
    pub tokens: (String, String),
    feeder: CancellationToken,
    llm: Arc<FlakyLlm>,
}

/// Starts the demo (the caller prints, waits and stops it).
pub async fn start(mut config: Config, options: DemoOptions) -> Result<Demo, String> {
    if let Some(url) = &options.llm {
        config.connections.llm.base_url = Some(url.clone());
    }
    // Tokens need a secret: without one configured, a fresh one for this run only.
    let auth = &mut config.http.auth;
    let configured = auth.hs256_secret_file.is_some()
        || auth.hs256_secret_env.as_deref().is_some_and(|v| std::env::var(v).is_ok_and(|s| !s.is_empty()));
    if !configured {
        let path = std::env::temp_dir().join(format!("overseer-demo-{}.secret", std::process::id()));
        let secret =
            hex::encode(uuid::Uuid::new_v4().as_bytes()) + &hex::encode(uuid::Uuid::new_v4().as_bytes());
        write_private(&path, &secret).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        auth.hs256_secret_file = Some(path);
        if !auth.algorithms.iter().any(|a| a == "HS256") {
            auth.algorithms.push("HS256".into());
        }
    }
    let token = |subject: &str, role: Role| {
        let grant = Grant {
            subject: subject.into(),
            role,
            workflows: None,
            groups: vec![],
            ttl: Duration::from_secs(8 * 3600),
        };
        issue(&config.http.auth, &grant).map_err(|e| e.to_string())
    };
    let tokens = (token("demo-admin", Role::Admin)?, token("demo-approver", Role::Approver)?);
    let file: Arc<dyn EventSink> = Arc::new(JsonLinesSink::open(&options.events).map_err(|e| e.to_string())?);
    let broker = MemoryBroker::default();
    let llm = Arc::new(FlakyLlm::new(runtime::llm_client(&config).map_err(|e| e.to_string())?));
    let mut backends = Backends::in_memory(file, broker.clone());
    backends.llm = Some(llm.clone());
    let run = RunOptions { queues: Vec::new(), bind: options.bind.clone(), faults: None };
    let running = runtime::start_on(&config, run, backends).await.map_err(|e| e.to_string())?;
    let feeder = CancellationToken::new();
    tokio::spawn(feed(broker.clone(), options.rate, options.tasks, feeder.clone()));
    Ok(Demo { running, broker, events: options.events, tokens, feeder, llm })
}

impl Demo {
    /// One line of what happened so far (each queue's activity, summed).
    pub fn progress(&self) -> String {
        let waiting: usize = mix::QUEUES.iter().map(|q| self.broker.ready(q).len()).sum();
        let total = |label: &str| -> u64 {
            self.running.controls.queues().map(|(_, c)| c.activity().count(label)).sum()
        };
        let (executed, parked, dead) = (total("executed"), total("hitl"), total("dead_lettered"));
        format!(
            "waiting {waiting} | executed {executed} | sent to a person {parked} | dead letters {dead} | model failures retried {}",
            self.llm.failures.load(Ordering::Relaxed)
        )
    }

    /// What became of each queue's tasks, as a table.
    pub fn summary(&self) -> String {
        let mut table =
            format!("{:<22} {:>9} {:>9} {:>9} {:>9}\n", "queue", "executed", "a person", "dead", "retried");
        for (queue, control) in self.running.controls.queues() {
            let a = control.activity();
            table += &format!(
                "{queue:<22} {:>9} {:>9} {:>9} {:>9}\n",
                a.count("executed"),
                a.count("hitl"),
                a.count("dead_lettered"),
                a.count("retried")
            );
        }
        table
    }

    /// Stops feeding, drains the tree, stops serving.
    pub async fn stop(self) {
        self.feeder.cancel();
        self.running.shutdown().await;
    }
}

/// Publishes the mix at `rate` per second until cancelled (or `limit` tasks).
async fn feed(broker: MemoryBroker, rate: f64, limit: Option<u64>, stop: CancellationToken) {
    if rate <= 0.0 {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.min(10_000.0)));
    for n in 0.. {
        if limit.is_some_and(|l| n >= l) {
            return;
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {
                let (queue, body) = mix::task(n);
                broker.publish(queue, Message::new(body));
            }
        }
    }
}

/// Writes `text` readable by this user only.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

/// `overseer demo` in a terminal: starts, says where to look, shows progress every two
/// seconds, and stops on Ctrl-C (or SIGTERM).
pub async fn run_in_terminal(config: Config, options: DemoOptions) -> Result<(), String> {
    use std::io::{IsTerminal, Write};
    let demo = start(config, options).await?;
    let base = format!("http://{}", demo.running.http_addr);
    println!("overseer demo: no services, everything in memory, the LLM {}", demo.llm_label());
    println!();
    println!("  dashboard      {base}/api/hitl/dashboard   (sign in with the approver or admin token)");
    println!("  API            {base}/api/openapi.json");
    println!(
        "  pending        curl -H \"Authorization: Bearer $TOKEN\" {base}/api/brain/hitl/decisions/pending"
    );
    println!("  per agent      curl -H \"Authorization: Bearer $ADMIN_TOKEN\" {base}/api/supervisor/tree");
    println!("  events         tail -f {}", demo.events.display());
    println!("  admin token    {}", demo.tokens.0);
    println!("  approver token {}", demo.tokens.1);
    println!();
    println!("Ctrl-C stops it.");
    let tty = std::io::stdout().is_terminal();
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let stop = runtime::shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tick.tick() => {
                let line = demo.progress();
                if tty {
                    print!("\r\x1b[2K{line}");
                    let _ = std::io::stdout().flush();
                } else {
                    println!("{line}");
                }
            }
        }
    }
    println!();
    println!("stopping: in-flight tasks finish, events are flushed");
    let summary = demo.summary();
    demo.stop().await;
    print!("{summary}");
    Ok(())
}

impl Demo {
    fn llm_label(&self) -> String {
        let info = self.llm.inner.info();
        if info.is_offline() {
            "is the built-in deterministic stand-in (--llm URL for a real one)".into()
        } else {
            format!("is {} at the given URL", info.model)
        }
    }
}
