//! RootSupervisor: starts one queue supervisor per consumed queue and drains them all on
//! shutdown. Queue supervisors handle their own consumers' failures; if one of them fails
//! itself, the root starts it again.

use super::queue_supervisor::{QueueSupervisor, QueueSupervisorArgs, QueueSupervisorMessage};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use std::time::Duration;

pub struct RootSupervisor;

pub enum RootMessage {
    /// Drain every queue within `grace`, then stop.
    Drain {
        grace: Duration,
        reply: RpcReplyPort<()>,
    },
}

pub struct RootState {
    children: Vec<(QueueSupervisorArgs, ActorRef<QueueSupervisorMessage>)>,
    draining: bool,
}

impl Actor for RootSupervisor {
    type Msg = RootMessage;
    type State = RootState;
    type Arguments = Vec<QueueSupervisorArgs>;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        queues: Vec<QueueSupervisorArgs>,
    ) -> Result<RootState, ActorProcessingErr> {
        let mut children = Vec::new();
        for args in queues {
            let (child, _) =
                Actor::spawn_linked(None, QueueSupervisor, args.clone(), myself.get_cell()).await?;
            children.push((args, child));
        }
        Ok(RootState {
            children,
            draining: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: RootMessage,
        state: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            RootMessage::Drain { grace, reply } => {
                state.draining = true;
                let drains = state.children.iter().map(|(_, child)| {
                    child.call(
                        |r| QueueSupervisorMessage::Drain { grace, reply: r },
                        Some(grace + Duration::from_secs(10)),
                    )
                });
                futures_util::future::join_all(drains).await;
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
        state: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        if state.draining {
            return Ok(());
        }
        let gone = match &event {
            SupervisionEvent::ActorFailed(cell, _)
            | SupervisionEvent::ActorTerminated(cell, _, _) => cell.get_id(),
            _ => return Ok(()),
        };
        if let Some(index) = state.children.iter().position(|(_, c)| c.get_id() == gone) {
            let args = state.children[index].0.clone();
            tracing::error!(queue = %args.consumer.ctx.queue, "queue supervisor stopped; starting it again");
            let (child, _) =
                Actor::spawn_linked(None, QueueSupervisor, args.clone(), myself.get_cell()).await?;
            state.children[index] = (args, child);
        }
        Ok(())
    }
}
