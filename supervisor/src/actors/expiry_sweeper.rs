//! ExpirySweeper: every `hitl.sweep_interval`, has the HITL service expire pending decisions
//! past their deadline (a range query on the pending index; no keyspace notifications) by the
//! workflow's expiry policy: escalate (the decision goes to the `hitl_exceptions` queue for a
//! person) or auto-reject (it ends `expired`). Every replica sweeps; the atomic state change
//! lets exactly one of them act on each decision. Each tick also drains the outbox of
//! decisions whose effects did not all become durable at the first try (by whoever decided
//! them, on any replica), trims the history and sets the HITL gauges. A sweep's errors are
//! logged, never fatal.

use crate::hitl::decision::unix_ms;
use crate::hitl::service::HitlService;
use crate::workflows::WorkflowRegistry;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Decisions handled per sweep at most; the rest wait for the next tick.
const BATCH: usize = 200;

pub struct ExpirySweeper;

#[derive(Clone)]
pub struct SweeperArgs {
    /// Expires decisions, drains the outbox, trims the history.
    pub hitl: Arc<HitlService>,
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
    args.hitl.expire_due(BATCH).await.map_err(|e| e.to_string())?;
    args.hitl.run_outbox(args.settle, BATCH).await.map_err(|e| e.to_string())?;
    args.hitl.trim_history(args.history).await.map_err(|e| e.to_string())?;
    report_gauges(args).await
}

/// The HITL gauges, from the shared store and the workflows in force.
async fn report_gauges(args: &SweeperArgs) -> Result<(), String> {
    let now_ms = unix_ms(SystemTime::now());
    let workflows = args.workflows.snapshot();
    let ids: Vec<String> = workflows.keys().cloned().collect();
    let stats = args.hitl.store().stats(&ids, false).await.map_err(|e| e.to_string())?;
    for (id, s) in stats {
        let age = s.oldest_pending_ms.map_or(0.0, |ms| now_ms.saturating_sub(ms) as f64 / 1000.0);
        metrics::gauge!(crate::metrics::HITL_PENDING, "workflow" => id.clone()).set(s.pending as f64);
        metrics::gauge!(crate::metrics::HITL_OLDEST_PENDING, "workflow" => id.clone()).set(age);
        // Zero until the first decision or expiry, so rates and alerts see every workflow.
        for outcome in ["approved", "rejected"] {
            metrics::counter!(crate::metrics::HITL_DECISIONS, "workflow" => id.clone(), "outcome" => outcome)
                .increment(0);
        }
        for outcome in ["escalated", "expired"] {
            metrics::counter!(crate::metrics::HITL_EXPIRIES, "workflow" => id.clone(), "outcome" => outcome)
                .increment(0);
        }
        if let Some(w) = workflows.get(&id) {
            metrics::gauge!(crate::metrics::HITL_TTL, "workflow" => id.clone())
                .set(w.config.pending_ttl.as_secs_f64());
            metrics::gauge!(crate::metrics::HITL_THRESHOLD, "workflow" => id)
                .set(w.config.confidence_threshold);
        }
    }
    Ok(())
}
