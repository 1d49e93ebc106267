//! ExpirySweeper: every `hitl.sweep_interval`, finds pending decisions past their deadline (a
//! range query on the pending index; no keyspace notifications) and applies the workflow's
//! expiry policy: escalate (the decision goes to the `hitl_exceptions` queue for a person) or
//! auto-reject (it ends `expired`). Every replica sweeps; the atomic state change lets exactly
//! one of them act on each decision. A sweep's errors are logged, never fatal.

use crate::events::event::{self, topic};
use crate::events::EventSink;
use crate::hitl::decision::unix_ms;
use crate::hitl::{DecisionStore, PendingDecision, Status, Transition, TransitionError};
use crate::transport::link::AmqpLink;
use crate::transport::publish::confirmed;
use lapin::options::ConfirmSelectOptions;
use lapin::BasicProperties;
use overseer_agents::workflow::{ExpiryPolicy, WorkflowConfig};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The queue escalated decisions go to (CONTRACT.md).
pub const EXCEPTIONS_QUEUE: &str = "hitl_exceptions";
/// Decisions handled per sweep at most; the rest wait for the next tick.
const BATCH: usize = 200;

pub struct ExpirySweeper;

#[derive(Clone)]
pub struct SweeperArgs {
    pub store: Arc<dyn DecisionStore>,
    pub sink: Arc<dyn EventSink>,
    pub link: Arc<AmqpLink>,
    pub workflows: BTreeMap<String, WorkflowConfig>,
    pub interval: Duration,
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
            .map(|w| w.expiry_policy)
            .unwrap_or_default();
        let to = match policy {
            ExpiryPolicy::Escalate => Status::Escalated,
            ExpiryPolicy::AutoReject => Status::Expired,
        };
        let t = Transition {
            to,
            by: "overseer".into(),
            feedback: Some("expired: nobody decided before the deadline".into()),
            seen_hash: None,
            edited: None,
            at: humantime::format_rfc3339_millis(now).to_string(),
            now_ms,
        };
        match args.store.transition(&id, &t).await {
            Ok(changed) => announce(args, &changed).await,
            // Another replica acted first, or a person decided meanwhile.
            Err(TransitionError::AlreadyDecided(_) | TransitionError::NotFound(_)) => {}
            Err(e) => tracing::warn!(decision_id = %id, error = %e, "could not expire a decision"),
        }
    }
    Ok(())
}

/// Escalations go to `hitl_exceptions`; every expiry is a `hitl.decisions` event and a metric.
async fn announce(args: &SweeperArgs, decision: &PendingDecision) {
    if decision.status == Status::Escalated.as_str() {
        if let Err(e) = publish_exception(&args.link, decision).await {
            tracing::error!(decision_id = %decision.decision_id, error = %e, "escalated decision not queued to hitl_exceptions; it stays escalated in the store");
        }
    }
    metrics::counter!(crate::metrics::HITL_EXPIRIES, "workflow" => decision.workflow_id.clone(), "outcome" => decision.status.clone())
        .increment(1);
    let event = event::with(
        event::envelope("hitl.decision", &decision.task_id),
        json!({
            "decision_id": decision.decision_id,
            "workflow": decision.workflow_id,
            "status": decision.status,
            "decided_by": decision.decided_by,
            "reason": "expired",
        }),
    );
    if let Err(e) = args.sink.publish(topic::HITL_DECISIONS, &decision.task_id, &event).await {
        tracing::warn!(decision_id = %decision.decision_id, error = %e, "hitl.decisions event not delivered");
    }
}

async fn publish_exception(link: &AmqpLink, decision: &PendingDecision) -> Result<(), String> {
    let conn = link.connection().await.map_err(|e| e.to_string())?;
    let channel = conn.create_channel().await.map_err(|e| e.to_string())?;
    channel.confirm_select(ConfirmSelectOptions::default()).await.map_err(|e| e.to_string())?;
    let body = serde_json::to_vec(decision).map_err(|e| e.to_string())?;
    let props = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_message_id(decision.decision_id.as_str().into());
    let taken = confirmed(&channel, "", EXCEPTIONS_QUEUE, &body, props).await.map_err(|e| e.to_string())?;
    let _ = channel.close(200, "escalated".into()).await;
    if taken {
        Ok(())
    } else {
        Err("the broker did not take the message".into())
    }
}
