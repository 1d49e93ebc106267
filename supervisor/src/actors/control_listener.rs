//! ControlListener: this replica's ear on the `overseer.control` fanout exchange. It binds an
//! exclusive queue of its own, carries out each command addressed to it
//! ([`crate::control::command`]) and replies to the sender (RabbitMQ direct reply-to, with the
//! command's id as correlation id). Every few seconds it notes itself in the replica registry,
//! so `overseer ctl` can name replicas that did not answer. It reconnects by itself after a
//! broker outage.

use crate::control::command::{execute, Command, Replica, Reply};
use crate::control::remembered::RememberedControl;
use crate::control::Controls;
use crate::setup::desired::CONTROL_EXCHANGE;
use crate::transport::link::AmqpLink;
use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often a replica notes itself in the registry.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// How long the listener waits for its channel to close when stopped.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

pub struct ControlListener;

#[derive(Clone)]
pub struct ListenerArgs {
    pub link: Arc<AmqpLink>,
    pub controls: Arc<Controls>,
    pub replica: Replica,
    pub registry: Option<Arc<dyn RememberedControl>>,
    /// Cancelled by the root when the replica drains, so the listener neither answers nor
    /// reconnects once the replica's connection is closed.
    pub stop: CancellationToken,
}

/// The listener takes no messages; it is only stopped.
pub enum ListenerMessage {
    #[allow(dead_code)]
    Never,
}

pub struct ListenerState {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Actor for ControlListener {
    type Msg = ListenerMessage;
    type State = ListenerState;
    type Arguments = ListenerArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: ListenerArgs,
    ) -> Result<ListenerState, ActorProcessingErr> {
        let stop = args.stop.clone();
        let task = tokio::spawn(listen(args, stop.clone()));
        Ok(ListenerState { stop, task })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut ListenerState,
    ) -> Result<(), ActorProcessingErr> {
        state.stop.cancel();
        // The listener closes its channel before the replica closes the connection (a channel
        // dropped by an aborted task is closed later, on a closing connection: lapin logs that
        // as a connection error).
        if tokio::time::timeout(CLOSE_WAIT, &mut state.task).await.is_err() {
            state.task.abort();
        }
        Ok(())
    }
}

/// Serves commands until stopped, reconnecting after failures.
async fn listen(args: ListenerArgs, stop: CancellationToken) {
    while !stop.is_cancelled() {
        if let Err(e) = serve(&args, &stop).await {
            tracing::warn!(error = %e, "control listener lost RabbitMQ; listening again shortly");
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}

async fn serve(args: &ListenerArgs, stop: &CancellationToken) -> Result<(), String> {
    let conn = args.link.connection().await.map_err(|e| e.to_string())?;
    let channel = conn.create_channel().await.map_err(|e| e.to_string())?;
    let options = QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() };
    let queue =
        channel.queue_declare("".into(), options, FieldTable::default()).await.map_err(|e| e.to_string())?;
    let name = queue.name().clone();
    channel
        .queue_bind(
            name.clone(),
            CONTROL_EXCHANGE.into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| e.to_string())?;
    let options = BasicConsumeOptions { no_ack: true, ..Default::default() };
    let mut commands = channel
        .basic_consume(name, "".into(), options, FieldTable::default())
        .await
        .map_err(|e| e.to_string())?;
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    loop {
        tokio::select! {
            _ = stop.cancelled() => {
                let _ = tokio::time::timeout(CLOSE_WAIT, channel.close(200, "replica stopping".into())).await;
                return Ok(());
            }
            _ = heartbeat.tick() => {
                if let Some(registry) = &args.registry {
                    let now = crate::hitl::decision::unix_ms(std::time::SystemTime::now());
                    if let Err(e) = registry.heartbeat(&args.replica.id, now).await {
                        tracing::debug!(error = %e, "replica registry not updated");
                    }
                }
            }
            next = commands.next() => match next {
                Some(Ok(delivery)) => answer(args, &channel, &delivery).await,
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("control consumer cancelled".into()),
            },
        }
    }
}

/// Carries out one command and replies; a body that is not a command is logged and dropped.
async fn answer(args: &ListenerArgs, channel: &Channel, delivery: &lapin::message::Delivery) {
    let command: Command = match serde_json::from_slice(&delivery.data) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "not a control command; ignored");
            return;
        }
    };
    if !command.addresses(&args.replica) {
        return;
    }
    tracing::info!(id = %command.id, verb = ?command.verb, queue = ?command.queue, "control command");
    let (outcome, result) = match execute(&args.controls, &command) {
        Ok(result) => ("ok", result),
        Err(why) => ("error", serde_json::json!({"error": why})),
    };
    let Some(reply_to) = delivery.properties.reply_to().clone() else { return };
    let reply = Reply { replica: args.replica.clone(), outcome: outcome.into(), result };
    let Ok(body) = serde_json::to_vec(&reply) else { return };
    let props = BasicProperties::default()
        .with_correlation_id(command.id.as_str().into())
        .with_content_type("application/json".into());
    if let Err(e) =
        channel.basic_publish("".into(), reply_to, BasicPublishOptions::default(), &body, props).await
    {
        tracing::warn!(error = %e, "control reply not sent");
    }
}
