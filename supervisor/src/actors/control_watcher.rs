//! ControlWatcher: every `runtime.control_poll`, reads the cluster's remembered queue state
//! ([`crate::control::remembered`]) and applies what changed since its last look to this
//! replica's queues, so a pause or a scale made through any replica reaches every replica
//! within one poll. Only a changed record is applied (its fields over the queue's current
//! state), so a change made on this replica alone stands until the cluster's record changes;
//! a cleared record puts the queue back to its configuration.
//! Errors are logged once; the queues keep their state.

use crate::control::remembered::{Override, RememberedControl};
use crate::control::Controls;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub struct ControlWatcher;

#[derive(Clone)]
pub struct ControlWatcherArgs {
    pub controls: Arc<Controls>,
    pub remembered: Arc<dyn RememberedControl>,
    pub interval: Duration,
    /// The records already applied (at start, before consuming).
    pub seen: BTreeMap<String, Override>,
}

pub enum ControlWatcherMessage {
    Poll,
}

pub struct ControlWatcherState {
    args: ControlWatcherArgs,
    queues: Vec<String>,
    ticker: tokio::task::JoinHandle<()>,
    failing: bool,
}

impl Actor for ControlWatcher {
    type Msg = ControlWatcherMessage;
    type State = ControlWatcherState;
    type Arguments = ControlWatcherArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: ControlWatcherArgs,
    ) -> Result<ControlWatcherState, ActorProcessingErr> {
        let ticker = myself.send_interval(args.interval, || ControlWatcherMessage::Poll);
        let queues = args.controls.queues().map(|(q, _)| q.clone()).collect();
        Ok(ControlWatcherState { args, queues, ticker, failing: false })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        _poll: ControlWatcherMessage,
        state: &mut ControlWatcherState,
    ) -> Result<(), ActorProcessingErr> {
        match state.args.remembered.load(&state.queues).await {
            Ok(records) => {
                state.failing = false;
                for (queue, record) in records {
                    if state.args.seen.get(&queue) == Some(&record) {
                        continue;
                    }
                    if let Some(control) = state.args.controls.queue(&queue) {
                        let now = if record.is_cleared() {
                            control.reset()
                        } else {
                            control.change(|d| *d = record.applied_to(d.clone()))
                        };
                        tracing::info!(%queue, paused = now.paused, concurrency = now.concurrency, prefetch = now.prefetch, by = ?record.by, "cluster control applied");
                    }
                    state.args.seen.insert(queue, record);
                }
            }
            Err(e) if !state.failing => {
                state.failing = true;
                tracing::warn!(error = %e, "cannot read the cluster's queue control; keeping the current state");
            }
            Err(_) => {}
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut ControlWatcherState,
    ) -> Result<(), ActorProcessingErr> {
        state.ticker.abort();
        Ok(())
    }
}
