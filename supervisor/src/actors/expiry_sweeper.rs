//! ExpirySweeper: every `hitl.sweep_interval`, finds pending decisions past their deadline (a
//! range query on the pending index; no keyspace notifications) and applies the workflow's
//! expiry policy: escalate (the decision goes to the `hitl_exceptions` queue for a person) or
//! auto-reject (it ends `expired`). Every replica sweeps; the atomic state change lets exactly
//! one of them act on each decision, and its effects run through the outbox
//! ([`DecisionEffects`]). Each tick also drains the outbox of decisions whose effects did not
//! all become durable at the first try (by whoever decided them, on any replica). A sweep's
//! errors are logged, never fatal.

use crate::hitl::decision::unix_ms;
use crate::hitl::outbox::DecisionEffects;
use crate::hitl::{DecisionStore, Status, Transition, TransitionError};
use crate::workflows::WorkflowRegistry;
use overseer_agents::workflow::ExpiryPolicy;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Decisions handled per sweep at most; the rest wait for the next tick.
const BATCH: usize = 200;

pub struct ExpirySweeper;

#[derive(Clone)]
pub struct SweeperArgs {
    pub store: Arc<dyn DecisionStore>,
    pub effects: Arc<DecisionEffects>,
    pub workflows: Arc<WorkflowRegistry>,
    pub interval: Duration,
    /// How long decided decisions stay in the history index.
    pub history: Duration,
    /// How long a decision's effects are left to whoever decided it before a sweeper runs
    /// what is missing (`hitl.outbox_settle`).
    pub settle: Duration,
}

pub enum SweeperMessage {
    Tick,
}

pub struct SweeperState {
    args: SweeperArgs,
    ticker: tokio::task::JoinHandle<()>,
}

impl Actor for ExpirySweeper {
    type Msg = SweeperMessage;
    type State = SweeperState;
    type Arguments = SweeperArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: SweeperArgs,
    ) -> Result<SweeperState, ActorProcessingErr> {
        let ticker = myself.send_interval(args.interval, || SweeperMessage::Tick);
        Ok(SweeperState { args, ticker })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        _tick: SweeperMessage,
        state: &mut SweeperState,
    ) -> Result<(), ActorProcessingErr> {
        if let Err(e) = sweep(&state.args).await {
            tracing::warn!(error = %e, "expiry sweep failed; the next one retries");
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut SweeperState,
    ) -> Result<(), ActorProcessingErr> {
        state.ticker.abort();
        Ok(())
    }
}

async fn sweep(args: &SweeperArgs) -> Result<(), String> {
    let now = SystemTime::now();
    let now_ms = unix_ms(now);
    let due = args.store.due_ids(now_ms, BATCH).await.map_err(|e| e.to_string())?;
    for id in due {
        let decision = args.store.get(&id).await.map_err(|e| e.to_string())?;
        let policy = decision
            .as_ref()
            .and_then(|d| args.workflows.get(&d.workflow_id))
            .map(|w| w.config.expiry_policy)
            .unwrap_or_default();
        let to = match policy {
            ExpiryPolicy::Escalate => Status::Escalated,
            ExpiryPolicy::AutoReject => Status::Expired,
        };
        let t = Transition {
            to,
            by: "overseer".into(),
            from: None,
            feedback: Some("expired: nobody decided before the deadline".into()),
            seen_hash: None,
            edited: None,
            at: humantime::format_rfc3339_millis(now).to_string(),
            now_ms,
            required_approvals: 1,
            workflow: decision.as_ref().map(|d| d.workflow_id.clone()),
        };
        match args.store.transition(&id, &t).await {
            Ok(changed) => {
                metrics::counter!(crate::metrics::HITL_EXPIRIES, "workflow" => changed.workflow_id.clone(), "outcome" => changed.status.clone())
                    .increment(1);
                if let Err(e) = args.effects.run_decided(changed).await {
                    tracing::warn!(decision_id = %id, error = %e, "expiry effects incomplete; the outbox retries them");
                }
            }
            // Another replica acted first, or a person decided meanwhile.
            // NotDue: this replica's clock runs ahead of Redis'; a later sweep expires it.
            Err(
                TransitionError::AlreadyDecided(_)
                | TransitionError::NotFound(_)
                | TransitionError::NotDue(_),
            ) => {}
            Err(e) => tracing::warn!(decision_id = %id, error = %e, "could not expire a decision"),
        }
    }
    args.effects.drain(args.settle, BATCH).await.map_err(|e| e.to_string())?;
    let history_start = now_ms.saturating_sub(args.history.as_millis() as u64);
    args.store.trim_history(history_start).await.map_err(|e| e.to_string())?;
    report_gauges(args, now_ms).await
}

/// The HITL gauges, from the shared store and the workflows in force.
async fn report_gauges(args: &SweeperArgs, now_ms: u64) -> Result<(), String> {
    let workflows = args.workflows.snapshot();
    let ids: Vec<String> = workflows.keys().cloned().collect();
    let stats = args.store.stats(&ids, false).await.map_err(|e| e.to_string())?;
    for (id, s) in stats {
        let age = s.oldest_pending_ms.map_or(0.0, |ms| now_ms.saturating_sub(ms) as f64 / 1000.0);
        metrics::gauge!(crate::metrics::HITL_PENDING, "workflow" => id.clone()).set(s.pending as f64);
        metrics::gauge!(crate::metrics::HITL_OLDEST_PENDING, "workflow" => id.clone()).set(age);
        if let Some(w) = workflows.get(&id) {
            metrics::gauge!(crate::metrics::HITL_THRESHOLD, "workflow" => id)
                .set(w.config.confidence_threshold);
        }
    }
    Ok(())
}
