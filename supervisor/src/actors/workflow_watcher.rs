//! WorkflowWatcher: every `hitl.workflow_poll`, asks the workflow store whether its version
//! moved and, if so, reloads the replica's [`WorkflowRegistry`]. A change made through any
//! replica's API therefore routes the next task on every replica within one poll. Polling one
//! counter is cheap and, unlike pub/sub, cannot miss a change across a Redis reconnect. Errors
//! are logged; the last good snapshot stays in force.

use crate::workflows::WorkflowRegistry;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;
use std::time::Duration;

pub struct WorkflowWatcher;

#[derive(Clone)]
pub struct WatcherArgs {
    pub registry: Arc<WorkflowRegistry>,
    pub interval: Duration,
}

pub enum WatcherMessage {
    Poll,
}

pub struct WatcherState {
    registry: Arc<WorkflowRegistry>,
    ticker: tokio::task::JoinHandle<()>,
    failing: bool,
}

impl Actor for WorkflowWatcher {
    type Msg = WatcherMessage;
    type State = WatcherState;
    type Arguments = WatcherArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: WatcherArgs,
    ) -> Result<WatcherState, ActorProcessingErr> {
        let ticker = myself.send_interval(args.interval, || WatcherMessage::Poll);
        Ok(WatcherState { registry: args.registry, ticker, failing: false })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        _poll: WatcherMessage,
        state: &mut WatcherState,
    ) -> Result<(), ActorProcessingErr> {
        match state.registry.refresh().await {
            Ok(changed) => {
                if changed {
                    tracing::info!("workflows changed; routing uses the new settings");
                }
                state.failing = false;
            }
            Err(e) if !state.failing => {
                state.failing = true;
                tracing::warn!(error = %e, "cannot read workflow changes; keeping the last known settings");
            }
            Err(_) => {}
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut WatcherState,
    ) -> Result<(), ActorProcessingErr> {
        state.ticker.abort();
        Ok(())
    }
}
