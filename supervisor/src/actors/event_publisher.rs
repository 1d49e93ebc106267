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
    Publish {
        topic: String,
        key: String,
        payload: Vec<u8>,
        reply: RpcReplyPort<Result<(), SinkError>>,
    },
    /// A task's events, published together.
    PublishAll {
        key: String,
        events: Vec<(String, Vec<u8>)>,
        reply: RpcReplyPort<Result<(), SinkError>>,
    },
    Flush {
        timeout: Duration,
        reply: RpcReplyPort<Result<(), SinkError>>,
    },
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
            PublisherMessage::PublishAll { key, events, reply } => {
                tokio::spawn(async move {
                    let _ = reply.send(sink.publish_all(&key, events).await);
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

impl PublisherHandle {
    /// One publish request to the actor, answered by its delivery report(s).
    async fn ask(
        &self,
        message: impl FnOnce(RpcReplyPort<Result<(), SinkError>>) -> PublisherMessage,
    ) -> Result<(), SinkError> {
        match self.actor.call(message, Some(self.timeout)).await {
            Ok(ractor::rpc::CallResult::Success(result)) => result,
            Ok(_) => Err(SinkError::Unavailable("no delivery report in time".into())),
            Err(e) => Err(SinkError::Unavailable(format!("event publisher unavailable: {e}"))),
        }
    }
}

#[async_trait]
impl EventSink for PublisherHandle {
    async fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> Result<(), SinkError> {
        let (topic, key, payload) = (topic.to_string(), key.to_string(), payload.to_vec());
        self.ask(|reply| PublisherMessage::Publish { topic, key, payload, reply }).await
    }

    async fn publish_all(&self, key: &str, events: Vec<(String, Vec<u8>)>) -> Result<(), SinkError> {
        let key = key.to_string();
        self.ask(|reply| PublisherMessage::PublishAll { key, events, reply }).await
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::memory::MemorySink;

    #[tokio::test]
    async fn a_tasks_events_go_over_in_one_message_and_the_first_error_is_answered() {
        let sink = Arc::new(MemorySink::default());
        let (actor, _done) = Actor::spawn(None, EventPublisher, sink.clone()).await.expect("spawn");
        let handle = PublisherHandle { actor: actor.clone(), timeout: Duration::from_secs(5) };
        let events = vec![
            ("ai.completions".to_string(), br#"{"n":1}"#.to_vec()),
            ("domain.orders".to_string(), br#"{"n":2}"#.to_vec()),
            ("ai.decisions".to_string(), br#"{"n":3}"#.to_vec()),
        ];
        handle.publish_all("t-1", events).await.expect("published");
        let seen = sink.events();
        assert_eq!(seen.len(), 3);
        assert!(seen.iter().all(|(_, key, _)| key == "t-1"), "{seen:?}");
        let topics: Vec<&str> = seen.iter().map(|(t, _, _)| t.as_str()).collect();
        assert_eq!(topics, ["ai.completions", "domain.orders", "ai.decisions"]);
        // The memory sink refuses what is not JSON: the batch answers that refusal.
        let bad = vec![
            ("ai.completions".to_string(), b"{}".to_vec()),
            ("ai.decisions".to_string(), b"nope".to_vec()),
        ];
        assert!(matches!(handle.publish_all("t-2", bad).await, Err(SinkError::Refused(_))));
        actor.stop(None);
    }
}
