//! HitlActor: receives results that need a person, parks each as a pending decision in the
//! decision store (with its TTL), then announces it with a `hitl.requests` event. Replies only
//! once both are durable, so the consumer acks after them. The full HITL service (decisions,
//! expiry, notifications) grows from here.

use crate::config::hitl::NotifyEvent;
use crate::events::contract::{Envelope, HitlRequest, Origin};
use crate::events::event::topic;
use crate::events::EventSink;
use crate::hitl::{DecisionStore, Parked, PendingDecision};
use crate::notify::{Notification, Notifier};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::sync::Arc;
use std::time::Duration;

pub struct HitlActor;

#[derive(Clone)]
pub struct HitlArgs {
    pub store: Arc<dyn DecisionStore>,
    pub sink: Arc<dyn EventSink>,
    /// Tells people about each new pending decision.
    pub notifier: Notifier,
}

/// Why a decision could not be parked; the task is requeued.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct HitlError(pub String);

pub enum HitlMessage {
    Park {
        decision: Box<PendingDecision>,
        retention: Duration,
        reply: RpcReplyPort<Result<Parked, HitlError>>,
    },
}

impl Actor for HitlActor {
    type Msg = HitlMessage;
    type State = HitlArgs;
    type Arguments = HitlArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: HitlArgs,
    ) -> Result<HitlArgs, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut HitlArgs,
    ) -> Result<(), ActorProcessingErr> {
        let HitlMessage::Park { decision, retention, reply } = message;
        let state = state.clone();
        tokio::spawn(async move {
            let parked = park_and_announce(
                state.store.as_ref(),
                state.sink.as_ref(),
                &state.notifier,
                &decision,
                retention,
            )
            .await;
            let _ = reply.send(parked);
        });
        Ok(())
    }
}

/// Parks `decision` (kept `retention`) and announces it on `hitl.requests`; what the actor
/// does for the workers, and what other intakes (onboarding) call directly.
pub async fn park_and_announce(
    store: &dyn DecisionStore,
    sink: &dyn EventSink,
    notifier: &Notifier,
    decision: &PendingDecision,
    retention: Duration,
) -> Result<Parked, HitlError> {
    let parked = store.park(decision, retention).await.map_err(|e| HitlError(e.to_string()))?;
    let request = HitlRequest {
        envelope: Envelope::new("hitl.request", &decision.task_id),
        decision_id: parked.decision_id().to_string(),
        origin: Origin {
            queue: decision.queue.clone(),
            agent: decision.agent.clone(),
            workflow: decision.workflow_id.clone(),
        },
        confidence: decision.confidence,
        reasons: decision.reasons.clone(),
        expires_at: decision.expires_at.clone(),
    };
    crate::events::publish(sink, topic::HITL_REQUESTS, &decision.task_id, &request)
        .await
        .map_err(|e| HitlError(e.to_string()))?;
    if let (Parked::New(id), true) = (&parked, notifier.enabled()) {
        // The store may have given it a fresh id (the first was taken).
        let stored = PendingDecision { decision_id: id.clone(), ..decision.clone() };
        notifier.notify(Notification::about(NotifyEvent::Pending, &stored));
    }
    Ok(parked)
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
        self.call_park(decision, retention).await.map_err(|e| e.0)
    }
}

impl HitlHandle {
    async fn call_park(&self, decision: PendingDecision, retention: Duration) -> Result<Parked, HitlError> {
        let decision = Box::new(decision);
        match self
            .actor
            .call(|reply| HitlMessage::Park { decision, retention, reply }, Some(self.timeout))
            .await
        {
            Ok(ractor::rpc::CallResult::Success(result)) => result,
            Ok(_) => Err(HitlError("the decision store did not answer in time".into())),
            Err(e) => Err(HitlError(format!("HITL actor unavailable: {e}"))),
        }
    }
}
