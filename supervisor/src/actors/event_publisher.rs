//! EventPublisher: owns the event sink (the rdkafka producer in production). Consumers hand it
//! events through a [`PublisherHandle`]; each publish is awaited on a task of its own, so the
//! mailbox never waits on a delivery report and many events are in flight at once (batched by
//! the producer's linger). The number in flight is bounded upstream by the consumers'
//! concurrency.

use crate::events::{EventSink, SinkError};
use async_trait::async_trait;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::sync::Arc;
use std::time::Duration;

pub struct EventPublisher;

pub enum PublisherMessage {
    Publish { topic: String, key: String, payload: Vec<u8>, reply: RpcReplyPort<Result<(), SinkError>> },
    Flush { timeout: Duration, reply: RpcReplyPort<Result<(), SinkError>> },
}

impl Actor for EventPublisher {
    type Msg = PublisherMessage;
    type State = Arc<dyn EventSink>;
    type Arguments = Arc<dyn EventSink>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        sink: Arc<dyn EventSink>,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(sink)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        sink: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        let sink = sink.clone();
        match message {
            PublisherMessage::Publish { topic, key, payload, reply } => {
                tokio::spawn(async move {
                    let _ = reply.send(sink.publish(&topic, &key, &payload).await);
                });
            }
            PublisherMessage::Flush { timeout, reply } => {
                let _ = reply.send(sink.flush(timeout).await);
            }
        }
        Ok(())
    }
}

/// The [`EventSink`] the pipeline uses: every call goes through the EventPublisher actor.
#[derive(Clone)]
pub struct PublisherHandle {
    pub actor: ActorRef<PublisherMessage>,
    /// Longest wait for a delivery report before the event counts as not delivered.
    pub timeout: Duration,
}

#[async_trait]
impl EventSink for PublisherHandle {
    async fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> Result<(), SinkError> {
        let (topic, key, payload) = (topic.to_string(), key.to_string(), payload.to_vec());
        match self
            .actor
            .call(|reply| PublisherMessage::Publish { topic, key, payload, reply }, Some(self.timeout))
            .await
        {
            Ok(ractor::rpc::CallResult::Success(result)) => result,
            Ok(_) => Err(SinkError::Unavailable("no delivery report in time".into())),
            Err(e) => Err(SinkError::Unavailable(format!("event publisher unavailable: {e}"))),
        }
    }

    async fn flush(&self, timeout: Duration) -> Result<(), SinkError> {
        match self
            .actor
            .call(|reply| PublisherMessage::Flush { timeout, reply }, Some(timeout + Duration::from_secs(1)))
            .await
        {
            Ok(ractor::rpc::CallResult::Success(result)) => result,
            Ok(_) => Err(SinkError::Unavailable("flush timed out".into())),
            Err(e) => Err(SinkError::Unavailable(format!("event publisher unavailable: {e}"))),
        }
    }
}
