//! ConsumerActor: one transport session (RabbitMQ: a channel) consuming one queue. Deliveries
//! are processed as tasks of their own. At most `concurrency` of them are deciding at a time
//! (decode, claim, agent and model call, routing); a task's slot is free again once its result
//! is routed, while it commits, publishes and is acked, so a slow broker does not idle the
//! model. The broker's prefetch bounds them all (the actor's mailbox only carries control
//! messages). Each delivery is settled (ack, retry, dead letter, requeue) by the task that
//! processed it, after its outcome is durable.
//!
//! The consumer follows its queue's [`QueueControl`] live: paused, it cancels its RabbitMQ
//! consumer (deliveries handed over but not started go back to the queue; in-flight tasks
//! finish and are acked) and consumes again on resume; a new concurrency applies to the next
//! delivery; a new prefetch re-registers the consumer with it (RabbitMQ applies basic_qos to
//! consumers started after it).

use crate::control::activity::Settled;
use crate::control::{Desired, InFlight, QueueControl};
use crate::health::Health;
use crate::metrics::Handles;
use crate::pipeline::{Admitted, Done, Outcome};
use crate::pipeline::{Pipeline, QueueContext};
use crate::transport::plan::RetryPolicy;
use crate::transport::settle::{Carried, Settler};
use crate::transport::{Delivery, Session, Transport};
use futures_util::FutureExt;
use metrics::{Counter, Histogram};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

pub struct ConsumerActor;

/// Everything a consumer is started with (kept by its supervisor to restart it).
#[derive(Clone)]
pub struct ConsumerArgs {
    pub ctx: QueueContext,
    pub transport: Arc<dyn Transport>,
    pub pipeline: Arc<Pipeline>,
    /// Paused or not, concurrency and prefetch, as operators set them.
    pub control: Arc<QueueControl>,
    pub consumer_priority: i32,
    pub retry: RetryPolicy,
    pub health: Arc<Health>,
}

pub enum ConsumerMessage {
    /// The delivery stream ended (channel or connection closed, consumer cancelled).
    StreamEnded(String),
    /// The consumer's own loop panicked; it restarts so its channel (and unacked deliveries)
    /// reset. A panic inside one task does not get here: it is that task's failure.
    Crashed(String),
    /// Stop taking deliveries, let in-flight tasks finish within `grace`, then stop.
    Drain { grace: Duration, reply: RpcReplyPort<()> },
}

/// The session is the reader's while it runs; the actor closes it once the reader is done.
type Shared = Arc<Mutex<Box<dyn Session>>>;

pub struct ConsumerState {
    session: Shared,
    cancel: CancellationToken,
    reader: Option<JoinHandle<()>>,
}

impl Actor for ConsumerActor {
    type Msg = ConsumerMessage;
    type State = ConsumerState;
    type Arguments = ConsumerArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: ConsumerArgs,
    ) -> Result<ConsumerState, ActorProcessingErr> {
        let mut session = args.transport.session().await?;
        // Consuming starts here unless the queue is paused (a failure to start is the actor's).
        let desired = args.control.desired();
        if !desired.paused {
            consume(session.as_mut(), &args, &desired).await?;
        }
        let session: Shared = Arc::new(Mutex::new(session));
        let cancel = CancellationToken::new();
        let reader = tokio::spawn(read(myself, session.clone(), args, cancel.clone()));
        Ok(ConsumerState { session, cancel, reader: Some(reader) })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: ConsumerMessage,
        state: &mut ConsumerState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ConsumerMessage::StreamEnded(why) => Err(format!("delivery stream ended: {why}").into()),
            ConsumerMessage::Crashed(why) => Err(format!("consumer panicked: {why}").into()),
            ConsumerMessage::Drain { grace, reply } => {
                state.cancel.cancel();
                if let Some(mut reader) = state.reader.take() {
                    // The reader stops consuming at once and waits for in-flight tasks; what is
                    // still running after `grace` is aborted, and closing the session below
                    // requeues its deliveries.
                    if tokio::time::timeout(grace, &mut reader).await.is_err() {
                        tracing::warn!("in-flight tasks outlived the grace period; requeueing them");
                        reader.abort();
                    }
                }
                state.session.lock().await.close().await;
                let _ = reply.send(());
                myself.stop(Some("drained".into()));
                Ok(())
            }
        }
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut ConsumerState,
    ) -> Result<(), ActorProcessingErr> {
        state.cancel.cancel();
        if let Some(reader) = state.reader.take() {
            reader.abort();
            let _ = reader.await;
        }
        // Closing the session hands every unsettled delivery back to the broker.
        state.session.lock().await.close().await;
        Ok(())
    }
}

/// The delivery loop, with its own panics reported to the actor.
async fn read(
    myself: ActorRef<ConsumerMessage>,
    session: Shared,
    args: ConsumerArgs,
    cancel: CancellationToken,
) {
    let mut session = session.lock().await;
    let looped =
        AssertUnwindSafe(deliveries(myself.clone(), session.as_mut(), args, cancel)).catch_unwind().await;
    if let Err(panic) = looped {
        let _ = myself.send_message(ConsumerMessage::Crashed(panic_text(&panic)));
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".to_string())
}

/// Consumes the queue with `desired`'s prefetch.
async fn consume(
    session: &mut dyn Session,
    args: &ConsumerArgs,
    desired: &Desired,
) -> Result<(), crate::transport::TransportError> {
    session.consume(&args.ctx.queue, desired.prefetch, args.consumer_priority).await
}

/// Takes deliveries while fewer than `concurrency` slots are busy (a task holds one until its
/// result is routed); each is processed and settled by a task of its own. Follows the queue's
/// desired state between deliveries.
async fn deliveries(
    myself: ActorRef<ConsumerMessage>,
    session: &mut dyn Session,
    args: ConsumerArgs,
    cancel: CancellationToken,
) {
    // Shared by every delivery's task (not copied per delivery).
    let meters = Arc::new(TaskMeters::new(&args.ctx));
    let args = Arc::new(args);
    let queue = args.ctx.queue.clone();
    let control = args.control.clone();
    let mut desired = control.subscribe();
    let mut applied = desired.borrow_and_update().clone();
    let mut consuming = !applied.paused;
    let mut in_flight: JoinSet<()> = JoinSet::new();
    let gauge = metrics::gauge!(crate::metrics::IN_FLIGHT, "queue" => queue.clone());
    let shown = |d: &Desired| {
        metrics::gauge!(crate::metrics::QUEUE_PAUSED, "queue" => queue.clone())
            .set(f64::from(u8::from(d.paused)));
        metrics::gauge!(crate::metrics::QUEUE_CONCURRENCY, "queue" => queue.clone())
            .set(d.concurrency as f64);
        metrics::gauge!(crate::metrics::QUEUE_PREFETCH, "queue" => queue.clone()).set(f64::from(d.prefetch));
    };
    shown(&applied);
    let ended = |why: String| {
        let _ = myself.send_message(ConsumerMessage::StreamEnded(why));
    };
    loop {
        control.set_consuming(consuming);
        let limit = applied.concurrency;
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            changed = desired.changed() => {
                if changed.is_err() {
                    continue;
                }
                let want = desired.borrow_and_update().clone();
                let resubscribe = want.paused || want.prefetch != applied.prefetch;
                if consuming && resubscribe {
                    if let Err(e) = session.cancel().await {
                        return ended(format!("could not stop consuming: {e}"));
                    }
                    consuming = false;
                }
                if !consuming && !want.paused {
                    if let Err(e) = consume(session, &args, &want).await {
                        return ended(format!("could not consume again: {e}"));
                    }
                    consuming = true;
                }
                tracing::info!(%queue, paused = want.paused, concurrency = want.concurrency, prefetch = want.prefetch, "queue control applied");
                shown(&want);
                applied = want;
            }
            Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => {
                gauge.decrement(1.0);
                if let Err(e) = joined {
                    tracing::error!(%queue, error = %e, "task ended abnormally");
                }
            }
            () = control.slot_freed(), if consuming && control.busy() >= limit => {}
            next = session.next(), if consuming && control.busy() < limit => match next {
                Some(Ok(delivery)) => {
                    if let Some(faults) = &args.pipeline.parts.faults {
                        faults.delivery(delivery.body());
                    }
                    gauge.increment(1.0);
                    in_flight.spawn(handle(delivery, args.clone(), meters.clone(), control.track()));
                }
                Some(Err(e)) => return ended(e.to_string()),
                None => return ended("cancelled by the broker".into()),
            },
        }
    }
    // Draining: no new deliveries; in-flight tasks get the grace period (the actor aborts
    // this loop, and so the tasks, when it runs out).
    if consuming {
        let _ = session.cancel().await;
    }
    control.set_consuming(false);
    while let Some(joined) = in_flight.join_next().await {
        gauge.decrement(1.0);
        if let Err(e) = joined {
            tracing::warn!(%queue, error = %e, "task failed while draining");
        }
    }
}

/// Processes one delivery and settles it, holding a slot of `tracked` until its result is
/// routed. A panic while processing is this task's failure: it is retried like a transient
/// error and dead-lettered after `max_attempts`, so a poison message can neither loop forever
/// nor take the consumer down.
async fn handle(
    delivery: Arc<dyn Delivery>,
    args: Arc<ConsumerArgs>,
    meters: Arc<TaskMeters>,
    mut tracked: InFlight,
) {
    let started = std::time::Instant::now();
    let (outcome, claim) = match args.pipeline.admit(delivery.body(), delivery.redelivered()).await {
        Admitted::Settled(outcome, claim) => (outcome, claim),
        Admitted::Task(task, claim) => {
            let slot = &mut tracked;
            let ran = AssertUnwindSafe(async {
                let decided = args.pipeline.decide(&args.ctx, &task).await;
                // The model call is over: the next delivery may start while this one's
                // effects are made durable.
                slot.free_slot();
                args.pipeline.apply(&task, &claim, decided).await
            })
            .catch_unwind()
            .await;
            let outcome = ran.unwrap_or_else(|panic| {
                let reason = format!("processing panicked: {}", panic_text(&panic));
                tracing::error!(queue = %args.ctx.queue, task_id = %claim.task_id, %reason, "task panicked");
                metrics::counter!(crate::metrics::TASK_PANICS, "queue" => args.ctx.queue.clone())
                    .increment(1);
                Outcome::Retry { after: None, code: "panic", reason }
            });
            (outcome, Some(claim))
        }
    };
    tracked.free_slot();
    // Every delivery's outcome is counted here, where they all converge (bad bodies, duplicates
    // and panics included).
    let label = outcome.label();
    let done = match &outcome {
        Outcome::Done(done) => Some(done.clone()),
        _ => None,
    };
    meters.settled(&args.ctx, label).increment(1);
    let settler = Settler {
        ctx: &args.ctx,
        retry: &args.retry,
        sink: args.pipeline.sink.as_ref(),
        ledger: args.pipeline.ledger.as_ref(),
    };
    let task_id = claim.as_ref().map_or("unknown", |c| c.task_id.as_str());
    match settler.settle(delivery.as_ref(), outcome, claim.as_ref()).await {
        Ok(carried) => {
            let settled = match (&carried, &done) {
                (Carried::DeadLettered(code), _) => Settled::DeadLettered { code },
                (Carried::Acked, Some(Done::Executed { mode })) => Settled::Executed { mode },
                (Carried::Acked, Some(Done::Parked { decision_id })) => Settled::Parked { decision_id },
                (Carried::Requeued, _) => Settled::Other("requeued"),
                _ => Settled::Other(label),
            };
            args.control.activity().record(task_id, settled);
        }
        Err(e) => {
            tracing::warn!(queue = %args.ctx.queue, task_id, error = %e, "could not settle a delivery; the broker redelivers it");
        }
    }
    meters.seconds.record(started.elapsed().as_secs_f64());
}

/// The consumer's metric handles: its queue and agent are fixed.
struct TaskMeters {
    /// `overseer_tasks_total` by outcome.
    settled: Handles<&'static str, Counter>,
    /// `overseer_task_duration_seconds`.
    seconds: Histogram,
}

impl TaskMeters {
    fn new(ctx: &QueueContext) -> Self {
        let seconds = metrics::histogram!(crate::metrics::TASK_SECONDS, "queue" => ctx.queue.clone());
        Self { settled: Handles::default(), seconds }
    }

    fn settled(&self, ctx: &QueueContext, outcome: &'static str) -> Counter {
        self.settled.get(&outcome, || {
            metrics::counter!(
                crate::metrics::TASKS,
                "queue" => ctx.queue.clone(),
                "agent" => ctx.agent.clone(),
                "outcome" => outcome
            )
        })
    }
}
