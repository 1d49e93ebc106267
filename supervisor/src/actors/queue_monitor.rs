//! QueueMonitor: every `runtime.backlog_poll`, samples each consumed queue's backlog (ready
//! and consumers by a passive AMQP declare on a channel of its own, unacknowledged from the
//! management API when `connections.amqp.management_url` is set), shows it in the tree and on
//! /metrics with the replica's utilization, and moves the concurrency of autoscaled queues
//! ([`crate::control::autoscale`]). A failing sample is logged once and retried next time;
//! nothing it does touches a delivery.

use crate::control::autoscale::{Sample, Scaler};
use crate::control::{Backlog, Controls};
use crate::metrics as names;
use crate::setup::management;
use crate::transport::link::AmqpLink;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use lapin::Channel;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub struct QueueMonitor;

#[derive(Clone)]
pub struct QueueMonitorArgs {
    pub controls: Arc<Controls>,
    pub link: Arc<AmqpLink>,
    /// The management API's base URL and the AMQP URL naming the vhost.
    pub management: Option<(String, String)>,
    pub interval: Duration,
}

pub enum QueueMonitorMessage {
    Sample,
}

pub struct QueueMonitorState {
    args: QueueMonitorArgs,
    channel: Option<Channel>,
    scalers: HashMap<String, Scaler>,
    ticker: tokio::task::JoinHandle<()>,
    failing: bool,
}

/// How long the management API may take.
const MANAGEMENT_TIMEOUT: Duration = Duration::from_secs(2);

impl Actor for QueueMonitor {
    type Msg = QueueMonitorMessage;
    type State = QueueMonitorState;
    type Arguments = QueueMonitorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: QueueMonitorArgs,
    ) -> Result<QueueMonitorState, ActorProcessingErr> {
        let ticker = myself.send_interval(args.interval, || QueueMonitorMessage::Sample);
        Ok(QueueMonitorState { args, channel: None, scalers: HashMap::new(), ticker, failing: false })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        _sample: QueueMonitorMessage,
        state: &mut QueueMonitorState,
    ) -> Result<(), ActorProcessingErr> {
        match sample(state).await {
            Ok(()) => state.failing = false,
            Err(e) => {
                // The channel may be gone with the error (a passive declare of a missing queue
                // closes it): open a fresh one next time.
                state.channel = None;
                if !state.failing {
                    tracing::warn!(error = %e, "cannot sample the queues' backlog; trying again");
                }
                state.failing = true;
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut QueueMonitorState,
    ) -> Result<(), ActorProcessingErr> {
        state.ticker.abort();
        if let Some(channel) = state.channel.take() {
            let _ = channel.close(200, "monitor stopped".into()).await;
        }
        Ok(())
    }
}

async fn sample(state: &mut QueueMonitorState) -> Result<(), String> {
    let channel = match &state.channel {
        Some(c) if c.status().connected() => c.clone(),
        _ => {
            let conn = state.args.link.connection().await.map_err(|e| e.to_string())?;
            let c = conn.create_channel().await.map_err(|e| e.to_string())?;
            state.channel = Some(c.clone());
            c
        }
    };
    let unacked = match &state.args.management {
        Some((url, amqp)) => {
            match tokio::time::timeout(MANAGEMENT_TIMEOUT, management::unacked(url, amqp)).await {
                Ok(Ok(counts)) => Some(counts),
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err("the management API did not answer in time".into()),
            }
        }
        None => None,
    };
    let passive = QueueDeclareOptions { passive: true, ..Default::default() };
    for (name, control) in state.args.controls.queues() {
        let q = channel
            .queue_declare(name.as_str().into(), passive, FieldTable::default())
            .await
            .map_err(|e| format!("queue `{name}`: {e}"))?;
        let backlog = Backlog {
            ready: u64::from(q.message_count()),
            unacked: unacked.as_ref().and_then(|u| u.get(name).copied()),
            consumers: q.consumer_count(),
        };
        control.sampled(backlog);
        let status = control.status();
        let gauge =
            |metric: &'static str, value: f64| metrics::gauge!(metric, "queue" => name.clone()).set(value);
        gauge(names::QUEUE_READY, backlog.ready as f64);
        gauge(names::QUEUE_CONSUMERS, f64::from(backlog.consumers));
        if let Some(unacked) = backlog.unacked {
            gauge(names::QUEUE_UNACKED, unacked as f64);
        }
        gauge(names::QUEUE_UTILIZATION, status.utilization);
        let peak = control.take_peak();
        let Some(bounds) = control.autoscale().filter(|_| !status.desired.pinned) else {
            continue;
        };
        let seen = Sample {
            ready: backlog.ready,
            consumers: backlog.consumers,
            peak_in_flight: peak,
            concurrency: status.desired.concurrency,
        };
        let scaler = state.scalers.entry(name.clone()).or_default();
        if let Some(step) = scaler.decide(bounds, seen) {
            let (from, to, why) = (step.from, step.to, step.why);
            if control.autoscaled(step) {
                let direction = if to > from { "up" } else { "down" };
                metrics::counter!(names::AUTOSCALE_MOVES, "queue" => name.clone(), "direction" => direction)
                    .increment(1);
                tracing::info!(queue = %name, from, to, why, ready = backlog.ready, peak, "autoscaled");
            }
        }
    }
    Ok(())
}
