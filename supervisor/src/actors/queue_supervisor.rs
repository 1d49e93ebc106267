//! QueueSupervisor: keeps one queue's consumer running. A failed consumer is restarted after
//! a backoff (1s, 2s, 4s … capped at 30s); more than `max_restarts` failures within `window`
//! is a meltdown: the queue is marked failed on /health and left stopped, so a poison
//! configuration cannot spin forever while the other queues keep working.

use super::consumer::{ConsumerActor, ConsumerArgs, ConsumerMessage};
use crate::control::tree::ActorTree;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct QueueSupervisor;

/// During an outage a consumer restarts no sooner than this after failing.
const OUTAGE_RESTART_MIN: Duration = Duration::from_millis(100);
/// ...and just after the link's next attempt is due, so it makes that attempt.
const OUTAGE_RESTART_MARGIN: Duration = Duration::from_millis(20);

#[derive(Clone)]
pub struct QueueSupervisorArgs {
    pub consumer: ConsumerArgs,
    pub max_restarts: u32,
    pub window: Duration,
    /// Where the consumer is named for the supervisor API's tree.
    pub tree: Arc<ActorTree>,
}

pub enum QueueSupervisorMessage {
    /// Start (or restart) the consumer.
    Start,
    /// Drain the consumer within `grace`, then stop.
    Drain { grace: Duration, reply: RpcReplyPort<()> },
}

pub struct QueueSupervisorState {
    args: QueueSupervisorArgs,
    consumer: Option<ActorRef<ConsumerMessage>>,
    failures: VecDeque<Instant>,
    draining: bool,
}

impl Actor for QueueSupervisor {
    type Msg = QueueSupervisorMessage;
    type State = QueueSupervisorState;
    type Arguments = QueueSupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: QueueSupervisorArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        myself.send_message(QueueSupervisorMessage::Start)?;
        // Counters start at zero, so rates and alerts see the queue before its first restart.
        let queue = args.consumer.ctx.queue.clone();
        metrics::counter!(crate::metrics::ACTOR_RESTARTS, "queue" => queue.clone()).increment(0);
        metrics::counter!(crate::metrics::TASK_PANICS, "queue" => queue).increment(0);
        Ok(QueueSupervisorState { args, consumer: None, failures: VecDeque::new(), draining: false })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let queue = state.args.consumer.ctx.queue.clone();
        let health = state.args.consumer.health.clone();
        match message {
            QueueSupervisorMessage::Start if state.draining || state.consumer.is_some() => {}
            QueueSupervisorMessage::Start => {
                match Actor::spawn_linked(None, ConsumerActor, state.args.consumer.clone(), myself.get_cell())
                    .await
                {
                    Ok((consumer, _)) => {
                        state.args.tree.started(&consumer.get_cell(), format!("ConsumerActor({queue})"));
                        state.consumer = Some(consumer);
                        health.update(&queue, |q| q.consumers = 1);
                        tracing::info!(%queue, "consumer started");
                    }
                    Err(e) => {
                        // Starting failed (broker away, queue missing): same path as a crash.
                        self.failed(&myself, state, format!("consumer did not start: {e}")).await;
                    }
                }
            }
            QueueSupervisorMessage::Drain { grace, reply } => {
                state.draining = true;
                if let Some(consumer) = state.consumer.take() {
                    let _ = consumer
                        .call(
                            |r| ConsumerMessage::Drain { grace, reply: r },
                            Some(grace + Duration::from_secs(5)),
                        )
                        .await;
                }
                health.update(&queue, |q| q.consumers = 0);
                let _ = reply.send(());
                myself.stop(Some("drained".into()));
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, why) = match event {
            SupervisionEvent::ActorFailed(cell, error) => (cell, Some(error.to_string())),
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                let why =
                    (!state.draining).then(|| format!("consumer stopped: {}", reason.unwrap_or_default()));
                (cell, why)
            }
            _ => return Ok(()),
        };
        if state.consumer.as_ref().is_some_and(|c| c.get_id() == cell.get_id()) {
            state.consumer = None;
            state.args.tree.stopped(cell.get_id());
            if let Some(why) = why {
                self.failed(&myself, state, why).await;
            }
        }
        Ok(())
    }
}

impl QueueSupervisor {
    /// A consumer failed or did not start. While RabbitMQ is unreachable that is the outage,
    /// not the consumer: restart when the replica next tries to reach the broker (the link's
    /// pause, at most 5 s), so consumption resumes as soon as it is back, and do not count it
    /// toward the meltdown.
    async fn failed(
        &self,
        myself: &ActorRef<QueueSupervisorMessage>,
        state: &mut QueueSupervisorState,
        error: String,
    ) {
        let queue = state.args.consumer.ctx.queue.clone();
        metrics::counter!(crate::metrics::ACTOR_RESTARTS, "queue" => queue.clone()).increment(1);
        state.args.tree.restarted(&format!("ConsumerActor({queue})"));
        if let Some(retry_in) = state.args.consumer.transport.outage().await {
            let delay = retry_in.max(OUTAGE_RESTART_MIN) + OUTAGE_RESTART_MARGIN;
            state.args.consumer.health.update(&queue, |q| {
                q.consumers = 0;
                q.restarts += 1;
                q.last_error = Some(format!("RabbitMQ unavailable: {error}"));
            });
            tracing::warn!(%queue, %error, delay_ms = delay.as_millis() as u64, "RabbitMQ unavailable; consumer restarts when it is back");
            myself.send_after(delay, || QueueSupervisorMessage::Start);
            return;
        }
        let now = Instant::now();
        state.failures.push_back(now);
        while state.failures.front().is_some_and(|t| now.duration_since(*t) > state.args.window) {
            state.failures.pop_front();
        }
        let meltdown = state.failures.len() as u32 > state.args.max_restarts;
        state.args.consumer.health.update(&queue, |q| {
            q.consumers = 0;
            q.restarts += 1;
            q.failed = meltdown;
            q.last_error = Some(error.clone());
        });
        if meltdown {
            tracing::error!(%queue, %error, "consumer keeps failing: meltdown, no more restarts");
            return;
        }
        let exp = (state.failures.len() as u32).saturating_sub(1).min(5);
        let delay = Duration::from_secs(1 << exp).min(Duration::from_secs(30));
        tracing::warn!(%queue, %error, delay_ms = delay.as_millis() as u64, "consumer failed; restarting");
        myself.send_after(delay, || QueueSupervisorMessage::Start);
    }
}
