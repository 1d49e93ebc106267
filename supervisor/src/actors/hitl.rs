//! HitlActor: receives results that need a person and parks each through the HITL service
//! (the decision in the store with its TTL, then its `hitl.requests` announcement). Replies
//! only once both are durable, so the consumer acks after them.

use crate::hitl::service::{HitlService, ParkError};
use crate::hitl::{Parked, PendingDecision};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::sync::Arc;
use std::time::Duration;

pub struct HitlActor;

pub enum HitlMessage {
    Park {
        decision: Box<PendingDecision>,
        retention: Duration,
        reply: RpcReplyPort<Result<Parked, ParkError>>,
    },
}

impl Actor for HitlActor {
    type Msg = HitlMessage;
    type State = Arc<HitlService>;
    type Arguments = Arc<HitlService>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        service: Arc<HitlService>,
    ) -> Result<Arc<HitlService>, ActorProcessingErr> {
        Ok(service)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        service: &mut Arc<HitlService>,
    ) -> Result<(), ActorProcessingErr> {
        let HitlMessage::Park { decision, retention, reply } = message;
        let service = service.clone();
        tokio::spawn(async move {
            let _ = reply.send(service.park(&decision, retention).await);
        });
        Ok(())
    }
}

/// What the pipeline holds to park decisions through the HitlActor.
#[derive(Clone)]
pub struct HitlHandle {
    pub actor: ActorRef<HitlMessage>,
    pub timeout: Duration,
}

#[async_trait::async_trait]
impl crate::hitl::Parking for HitlHandle {
    async fn park(&self, decision: PendingDecision, retention: Duration) -> Result<Parked, String> {
        let decision = Box::new(decision);
        match self
            .actor
            .call(|reply| HitlMessage::Park { decision, retention, reply }, Some(self.timeout))
            .await
        {
            Ok(ractor::rpc::CallResult::Success(result)) => result.map_err(|e| e.0),
            Ok(_) => Err("the decision store did not answer in time".into()),
            Err(e) => Err(format!("HITL actor unavailable: {e}")),
        }
    }
}
