//! `overseer run`: builds the LLM client, agents, event sink, decision store and AMQP
//! connection from the configuration, starts the actor tree and the HTTP API, and on shutdown
//! drains the tree (in-flight tasks finish within the grace period, the rest are requeued),
//! flushes the event sink and closes the connections.

use crate::actors::root::{QueuePlan, RootArgs, RootMessage, RootSupervisor};
use crate::audit::Auditor;
use crate::config::{Config, ConsumerRole};
use crate::connect::Unreachable;
use crate::control::autoscale::Bounds;
use crate::control::{Controls, Desired, QueueControl};
use crate::faults::Faults;
use crate::health::{Health, LlmHealth};
use crate::hitl::notify::{Notifier, NotifierTask};
use crate::hitl::outbox::DecisionEffects;
use crate::hitl::service::{EditRules, HitlService};
use crate::hitl::telegram::TelegramApprovals;
use crate::http::guard::Security;
use crate::http::{app, AppState};
use crate::onboarding::{self, Onboarding};
use crate::pipeline::intake::INTAKE_AGENT;
use crate::pipeline::{PipelineParts, QueueContext};
use crate::transport::link::AmqpLink;
use crate::transport::plan::RetryPolicy;
use crate::workflows::WorkflowRegistry;
use overseer_agents::agent;
use overseer_agents::llm::backoff::Backoff;
use overseer_agents::llm::offline::OfflineLlm;
use overseer_agents::llm::openai::{OpenAiLlm, OpenAiSettings};
use overseer_agents::llm::LlmClient;
use overseer_agents::task::TaskLimits;
use ractor::{Actor, ActorRef};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

mod backends;
pub use backends::{connect_backends, Backends};

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Unreachable(#[from] Unreachable),
    #[error("{0}")]
    Start(String),
}

/// Which queues this replica consumes (`--queues`); all agent queues and the HITL intake when
/// empty.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub queues: Vec<String>,
    /// Overrides `http.bind` (tests use 127.0.0.1:0).
    pub bind: Option<String>,
    /// Fault hooks (tests only; none in `overseer run`).
    pub faults: Faults,
}

/// A running replica.
pub struct Running {
    pub http_addr: SocketAddr,
    pub health: Arc<Health>,
    root: ActorRef<RootMessage>,
    root_done: JoinHandle<()>,
    link: Option<Arc<AmqpLink>>,
    http_stop: CancellationToken,
    http: JoinHandle<()>,
    notifier: Option<NotifierTask>,
    grace: Duration,
    /// Per-queue control, and the drain request the supervisor API makes.
    pub controls: Arc<Controls>,
}

/// The LLM the configuration asks for: the offline stand-in without a base URL.
pub fn llm_client(config: &Config) -> Result<Arc<dyn LlmClient>, RuntimeError> {
    let llm = &config.connections.llm;
    let Some(base_url) = llm.base_url.as_ref().filter(|_| !llm.is_offline()) else {
        return Ok(Arc::new(OfflineLlm));
    };
    let api_key = std::env::var(&llm.api_key_env).ok().filter(|k| !k.is_empty());
    if api_key.is_none() {
        tracing::warn!(variable = %llm.api_key_env, "no LLM API key in the environment; sending requests without one");
    }
    let settings = OpenAiSettings {
        base_url: base_url.clone(),
        model: llm.model.clone(),
        api_key,
        request_timeout: llm.request_timeout,
        deadline: llm.deadline,
        max_concurrency: llm.max_concurrency as usize,
        max_attempts: llm.max_attempts,
        logprobs: llm.logprobs,
        max_tokens: Some(llm.max_tokens),
        backoff: Backoff::default(),
    };
    Ok(Arc::new(OpenAiLlm::new(settings).map_err(|e| RuntimeError::Start(e.to_string()))?))
}

/// The queues this replica consumes, with their agent and default workflow.
fn consumed_queues(config: &Config, options: &RunOptions) -> Result<Vec<QueueContext>, RuntimeError> {
    for wanted in &options.queues {
        match config.queues.get(wanted) {
            Some(q) if matches!(q.consumer, ConsumerRole::Agent | ConsumerRole::HitlIntake) => {}
            Some(_) => {
                return Err(RuntimeError::Start(format!("queue `{wanted}` is not consumed by overseer")))
            }
            None => return Err(RuntimeError::Start(format!("queue `{wanted}` is not configured"))),
        }
    }
    Ok(config
        .queues
        .iter()
        .filter(|(name, _)| options.queues.is_empty() || options.queues.contains(name))
        .filter_map(|(name, q)| match (q.consumer, &q.agent, &q.workflow) {
            (ConsumerRole::Agent, Some(agent), Some(workflow)) => Some(QueueContext {
                queue: name.clone(),
                agent: agent.clone(),
                workflow: workflow.clone(),
                allowed_workflows: q.allowed_workflows.clone(),
            }),
            // Approval requests name their workflow; there is no default.
            (ConsumerRole::HitlIntake, _, _) => Some(QueueContext {
                queue: name.clone(),
                agent: INTAKE_AGENT.into(),
                workflow: String::new(),
                allowed_workflows: Vec::new(),
            }),
            _ => None,
        })
        .collect())
}

/// Connects (see [`connect_backends`]) and starts.
pub async fn start(config: &Config, options: RunOptions) -> Result<Running, RuntimeError> {
    let backends = connect_backends(config).await?;
    start_on(config, options, backends).await
}

/// Starts the tree and the HTTP API on `backends`.
pub async fn start_on(
    config: &Config,
    options: RunOptions,
    backends: Backends,
) -> Result<Running, RuntimeError> {
    let metrics = crate::metrics::install();
    let metrics_handle = metrics.clone();
    let llm = match backends.llm.clone() {
        Some(llm) => llm,
        None => llm_client(config)?,
    };
    let info = llm.info();
    if info.is_offline() {
        tracing::warn!("no LLM endpoint configured: the OFFLINE stand-in answers (deterministic, labelled `offline` in events)");
    }
    let health = Arc::new(Health::default());
    health.set_llm(LlmHealth {
        provider: info.provider.to_string(),
        model: info.model.clone(),
        offline: info.is_offline(),
    });

    let Backends {
        store,
        ledger,
        workflows: workflow_store,
        audit: audit_log,
        remembered,
        sessions,
        sink,
        transport,
        queues_out,
        link,
        llm: _,
    } = backends;
    let workflows = Arc::new(
        WorkflowRegistry::open(config.workflows.clone(), workflow_store)
            .await
            .map_err(|e| RuntimeError::Start(format!("the workflow store: {e}")))?,
    );

    let consumed = consumed_queues(config, &options)?;
    // What the cluster changed (paused, scaled) applies before anything is consumed.
    let names: Vec<String> = consumed.iter().map(|ctx| ctx.queue.clone()).collect();
    let control_seen = remembered
        .load(&names)
        .await
        .map_err(|e| RuntimeError::Start(format!("the cluster's control store: {e}")))?;
    let queues: Vec<QueuePlan> = consumed
        .into_iter()
        .map(|ctx| {
            let q = &config.queues[&ctx.queue];
            let configured = Desired::configured(usize::from(config.concurrency(q)), config.prefetch(q));
            let autoscale = q.autoscale.map(|a| Bounds { min: usize::from(a.min), max: usize::from(a.max) });
            let control = QueueControl::new(configured, autoscale);
            if let Some(record) = control_seen.get(&ctx.queue) {
                control.change(|d| *d = record.applied_to(d.clone()));
            }
            QueuePlan {
                control: Arc::new(control),
                consumer_priority: config.classes.get(&q.class).map_or(0, |c| c.consumer_priority),
                retry: RetryPolicy {
                    max_attempts: config.max_attempts(q),
                    delays: config.retry.delays.clone(),
                },
                ctx,
            }
        })
        .collect();
    let controls = Arc::new(
        Controls::new(queues.iter().map(|q| (q.ctx.queue.clone(), q.control.clone())))
            .remembering(remembered),
    );
    let parts = PipelineParts {
        agents: agent::build_all(&config.agents),
        llm,
        workflows: workflows.clone(),
        policy: config.policy.clone(),
        limits: TaskLimits {
            max_bytes: config.limits.max_task_bytes,
            max_depth: config.limits.max_json_depth,
        },
        history: config.hitl.history,
        llm_deadline: config.connections.llm.deadline,
        faults: options.faults.clone(),
    };
    let security = Arc::new(
        Security::from_config(&config.http, Auditor { log: audit_log, sink: Some(sink.clone()) })
            .map_err(|e| RuntimeError::Start(e.to_string()))?,
    );
    let (notifier, notifier_task) =
        Notifier::start(config.hitl.notifications.clone(), config.hitl.notify_attempts, Some(store.clone()))
            .map_err(RuntimeError::Start)?;
    let telegram = match &config.hitl.telegram {
        Some(t) => Some(Arc::new(TelegramApprovals::from_config(t).map_err(RuntimeError::Start)?)),
        None => None,
    };
    let effects = Arc::new(DecisionEffects {
        store: store.clone(),
        sink: sink.clone(),
        queues: queues_out,
        ledger: ledger.clone(),
        domain_topics: parts
            .agents
            .iter()
            .map(|(n, a)| (n.clone(), a.spec().domain_topic.clone()))
            .chain([(onboarding::SOURCE.to_string(), onboarding::LEADS_TOPIC.to_string())])
            .collect(),
        workflows: workflows.clone(),
        notifier,
        lease: config.hitl.outbox_lease,
    });
    let hitl = Arc::new(
        HitlService::new(effects, EditRules { agents: parts.agents.clone(), policy: config.policy.clone() })
            .keeping(config.hitl.history),
    );
    let onboarding = Arc::new(Onboarding {
        sessions,
        hitl: hitl.clone(),
        sink: sink.clone(),
        workflows: workflows.clone(),
        history: config.hitl.history,
    });
    let root_args = RootArgs {
        parts,
        sink: sink.clone(),
        hitl: hitl.clone(),
        ledger,
        queues,
        transport,
        link: link.clone(),
        health: health.clone(),
        max_restarts: config.runtime.max_restarts,
        restart_window: config.runtime.restart_window,
        sweep_interval: config.hitl.sweep_interval,
        outbox_settle: config.hitl.outbox_settle,
        workflow_poll: config.hitl.workflow_poll,
        controls: controls.clone(),
        control_poll: config.runtime.control_poll,
        control_seen,
        backlog_poll: config.runtime.backlog_poll,
        management: config
            .connections
            .amqp
            .management_url
            .clone()
            .map(|m| (m, config.connections.amqp.url.clone())),
    };
    let (root, root_done) = Actor::spawn(None, RootSupervisor, root_args)
        .await
        .map_err(|e| RuntimeError::Start(format!("the actor tree did not start: {e}")))?;

    let bind = options.bind.clone().unwrap_or_else(|| config.http.bind.clone());
    let listener = tokio::net::TcpListener::bind(&bind)
        .await
        .map_err(|e| RuntimeError::Start(format!("cannot listen on {bind}: {e}")))?;
    let http_addr = listener.local_addr().map_err(|e| RuntimeError::Start(e.to_string()))?;
    let http_stop = CancellationToken::new();
    let live = crate::hitl::watch::PendingWatch::start(hitl.store().clone(), http_stop.clone());
    let router = app(AppState {
        health: health.clone(),
        metrics,
        amqp: link.clone(),
        workflows,
        sink: Some(sink),
        hitl,
        onboarding: Some(onboarding),
        telegram,
        security: security.clone(),
        limits: Arc::new(config.http.clone()),
        controls: controls.clone(),
        live,
    })
    .into_make_service_with_connect_info::<SocketAddr>();
    let stop = http_stop.clone();
    // Rate-limit buckets of callers gone quiet are dropped once a minute.
    every(Duration::from_secs(60), http_stop.clone(), move || security.limits.shrink());
    // The recorder keeps each histogram sample until it is folded into its buckets: a scrape
    // does that, and so does this, for a replica nobody scrapes.
    if let Some(handle) = metrics_handle {
        every(crate::metrics::UPKEEP, http_stop.clone(), move || handle.run_upkeep());
    }
    let http = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).with_graceful_shutdown(stop.cancelled_owned()).await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    tracing::info!(%http_addr, queues = ?names, llm = info.provider, "overseer running");
    Ok(Running {
        http_addr,
        health,
        root,
        root_done,
        link,
        http_stop,
        http,
        notifier: notifier_task,
        grace: config.runtime.shutdown_grace,
        controls,
    })
}

impl Running {
    /// Runs until SIGTERM/SIGINT or a drain asked through the supervisor API (then drains:
    /// `Ok`) or until the tree stops on its own (a core actor failed: `Err`, so the process
    /// exits non-zero).
    pub async fn run_until_signal(mut self) -> Result<(), RuntimeError> {
        let controls = self.controls.clone();
        tokio::select! {
            _ = shutdown_signal() => {
                self.shutdown().await;
                Ok(())
            }
            _ = controls.drain_requested() => {
                tracing::info!("drain requested through the supervisor API");
                self.shutdown().await;
                Ok(())
            }
            _ = &mut self.root_done => {
                self.stop_serving().await;
                Err(RuntimeError::Start("the actor tree stopped; see the log".into()))
            }
        }
    }

    /// Drains the tree within the grace period (the tree flushes its events), leaves the
    /// replica registry (`overseer ctl` no longer expects an answer), then closes the
    /// connection and the HTTP server.
    pub async fn shutdown(self) {
        tracing::info!(grace_ms = self.grace.as_millis() as u64, "draining");
        let _ = self
            .root
            .call(
                |reply| RootMessage::Drain { grace: self.grace, reply },
                Some(self.grace + Duration::from_secs(20)),
            )
            .await;
        if let Some(registry) = self.controls.remembered() {
            let id = self.controls.replica().id;
            match tokio::time::timeout(STOP_STEP, registry.forget_replica(&id)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "replica registry not updated"),
                Err(_) => tracing::warn!("replica registry did not answer; not updated"),
            }
        }
        self.stop_serving().await;
    }

    /// Closes the broker connection, the HTTP server and the notifier, each within
    /// [`STOP_STEP`]: a peer that does not answer cannot hold the process up.
    async fn stop_serving(self) {
        if let Some(link) = &self.link {
            bounded("closing the RabbitMQ connection", link.close()).await;
        }
        self.http_stop.cancel();
        bounded("stopping the HTTP server", async { drop(self.http.await) }).await;
        if let Some(task) = self.notifier {
            task.stop.cancel();
            bounded("stopping the notifier", async { drop(task.done.await) }).await;
        }
        tracing::info!("stopped");
    }
}

/// Runs `work` every `period` (the first time at once) until `stop`.
fn every(period: Duration, stop: CancellationToken, mut work: impl FnMut() + Send + 'static) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => work(),
            }
        }
    });
}

/// The longest one step of stopping (closing a connection, the HTTP server) may take.
const STOP_STEP: Duration = Duration::from_secs(5);

/// Waits for one step of stopping, at most [`STOP_STEP`].
async fn bounded(what: &'static str, step: impl std::future::Future<Output = ()>) {
    if tokio::time::timeout(STOP_STEP, step).await.is_err() {
        tracing::warn!(step = what, "did not finish within {STOP_STEP:?} while stopping; left behind");
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
