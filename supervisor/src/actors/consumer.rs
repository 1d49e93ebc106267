//! ConsumerActor: one AMQP channel consuming one queue. Deliveries are processed as tasks of
//! their own, at most `concurrency` at a time, so the broker's prefetch and this limit bound
//! the work in memory (the actor's mailbox only carries control messages). Each delivery is
//! settled (ack, retry, dead letter, requeue) by the task that processed it, after its outcome
//! is durable.

use crate::events::EventSink;
use crate::health::Health;
use crate::pipeline::{Pipeline, QueueContext};
use crate::transport::settle::{settle, RetryPolicy};
use futures_util::StreamExt;
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

pub struct ConsumerActor;

/// Everything a consumer is started with (kept by its supervisor to restart it).
#[derive(Clone)]
pub struct ConsumerArgs {
    pub ctx: QueueContext,
    pub connection: Arc<Connection>,
    pub pipeline: Arc<Pipeline>,
    pub prefetch: u16,
    pub concurrency: usize,
    pub consumer_priority: i32,
    pub retry: RetryPolicy,
    pub health: Arc<Health>,
}

pub enum ConsumerMessage {
    /// The delivery stream ended (channel or connection closed, consumer cancelled).
    StreamEnded(String),
    /// A task panicked; the consumer restarts so its channel (and unacked deliveries) reset.
    TaskPanicked(String),
    /// Stop taking deliveries, let in-flight tasks finish within `grace`, then stop.
    Drain {
        grace: Duration,
        reply: RpcReplyPort<()>,
    },
}

pub struct ConsumerState {
    channel: Channel,
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
        let channel = args.connection.create_channel().await?;
        channel
            .basic_qos(args.prefetch, BasicQosOptions::default())
            .await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let mut consume_args = FieldTable::default();
        consume_args.insert(
            "x-priority".into(),
            AMQPValue::LongInt(args.consumer_priority),
        );
        let tag = format!("overseer-{}-{}", args.ctx.queue, myself.get_id());
        let stream = channel
            .basic_consume(
                args.ctx.queue.as_str().into(),
                tag.as_str().into(),
                BasicConsumeOptions::default(),
                consume_args,
            )
            .await?;
        let cancel = CancellationToken::new();
        let reader = tokio::spawn(read(
            myself,
            stream,
            channel.clone(),
            tag,
            args,
            cancel.clone(),
        ));
        Ok(ConsumerState {
            channel,
            cancel,
            reader: Some(reader),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: ConsumerMessage,
        state: &mut ConsumerState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ConsumerMessage::StreamEnded(why) => {
                Err(format!("delivery stream ended: {why}").into())
            }
            ConsumerMessage::TaskPanicked(why) => Err(format!("a task panicked: {why}").into()),
            ConsumerMessage::Drain { grace, reply } => {
                state.cancel.cancel();
                if let Some(mut reader) = state.reader.take() {
                    // The reader stops consuming at once and waits for in-flight tasks; what is
                    // still running after `grace` is aborted, and closing the channel below
                    // requeues its deliveries.
                    if tokio::time::timeout(grace, &mut reader).await.is_err() {
                        tracing::warn!(
                            "in-flight tasks outlived the grace period; requeueing them"
                        );
                        reader.abort();
                    }
                }
                let _ = state.channel.close(200, "drained".into()).await;
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
        }
        // Closing the channel hands every unacked delivery back to the broker.
        let _ = state.channel.close(200, "consumer stopped".into()).await;
        Ok(())
    }
}

/// The delivery loop: takes deliveries while fewer than `concurrency` are in flight.
async fn read(
    myself: ActorRef<ConsumerMessage>,
    mut stream: lapin::Consumer,
    channel: Channel,
    tag: String,
    args: ConsumerArgs,
    cancel: CancellationToken,
) {
    let queue = args.ctx.queue.clone();
    let mut in_flight: JoinSet<()> = JoinSet::new();
    let gauge = metrics::gauge!(crate::metrics::IN_FLIGHT, "queue" => queue.clone());
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => {
                gauge.decrement(1.0);
                if let Err(e) = joined {
                    if e.is_panic() {
                        let _ = myself.send_message(ConsumerMessage::TaskPanicked(format!("{queue}: {e}")));
                        return;
                    }
                }
            }
            next = stream.next(), if in_flight.len() < args.concurrency => match next {
                Some(Ok(delivery)) => {
                    gauge.increment(1.0);
                    let (channel, args) = (channel.clone(), args.clone());
                    in_flight.spawn(async move {
                        let (outcome, task_id) = args.pipeline.process(&args.ctx, &delivery.data).await;
                        let sink: &dyn EventSink = args.pipeline.sink.as_ref();
                        if let Err(e) = settle(&channel, &delivery, &args.ctx, outcome, task_id.as_deref(), &args.retry, sink).await {
                            tracing::warn!(queue = %args.ctx.queue, task_id = task_id.as_deref().unwrap_or("?"), error = %e, "could not settle a delivery; the broker redelivers it");
                        }
                    });
                }
                Some(Err(e)) => {
                    let _ = myself.send_message(ConsumerMessage::StreamEnded(e.to_string()));
                    return;
                }
                None => {
                    let _ = myself.send_message(ConsumerMessage::StreamEnded("cancelled by the broker".into()));
                    return;
                }
            },
        }
    }
    // Draining: no new deliveries; in-flight tasks get the grace period.
    let _ = channel
        .basic_cancel(tag.as_str().into(), BasicCancelOptions::default())
        .await;
    while let Some(joined) = in_flight.join_next().await {
        gauge.decrement(1.0);
        if let Err(e) = joined {
            tracing::warn!(%queue, error = %e, "task failed while draining");
        }
    }
}
