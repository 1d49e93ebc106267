//! EventPublisher: owns the event sink (the rdkafka producer in production) for the tree: it
//! is started before anything publishes, and on drain the root has it flush the sink, so every
//! event of a finished task is delivered before the process exits.
//!
//! Publishing does not go through its mailbox. The producer is thread-safe and batches on its
//! own (`linger.ms`), so a [`PublisherHandle`] hands events to the sink from the task that made
//! them and awaits their delivery reports there; a message, a spawned task and a reply per
//! task cost about a tenth of the pipeline's own instructions and a thread wake-up
//! (docs/benchmarks.md, fifth round). The number in flight is bounded upstream by the
//! consumers' prefetch.

use crate::events::{EventSink, SinkError};
use async_trait::async_trait;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub struct EventPublisher;

pub enum PublisherMessage {
    /// Waits until everything handed to the sink is delivered or `timeout` passes.
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
        match message {
            PublisherMessage::Flush { timeout, reply } => {
                let _ = reply.send(sink.flush(timeout).await);
            }
        }
        Ok(())
    }
}

/// The [`EventSink`] the pipeline uses: publishes go to the publisher's sink, each bounded by
/// `timeout`; a flush goes through the actor.
#[derive(Clone)]
pub struct PublisherHandle {
    pub actor: ActorRef<PublisherMessage>,
    /// The sink the actor owns.
    pub sink: Arc<dyn EventSink>,
    /// Longest wait for a delivery report before the event counts as not delivered.
    pub timeout: Duration,
}

impl PublisherHandle {
    async fn bounded(&self, publish: impl Future<Output = Result<(), SinkError>>) -> Result<(), SinkError> {
        tokio::time::timeout(self.timeout, publish)
            .await
            .unwrap_or_else(|_| Err(SinkError::Unavailable("no delivery report in time".into())))
    }
}

#[async_trait]
impl EventSink for PublisherHandle {
    async fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> Result<(), SinkError> {
        self.bounded(self.sink.publish(topic, key, payload)).await
    }

    async fn publish_all(&self, key: &str, events: Vec<(String, Vec<u8>)>) -> Result<(), SinkError> {
        self.bounded(self.sink.publish_all(key, events)).await
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

    /// A sink whose delivery reports never come.
    struct Silent;

    #[async_trait]
    impl EventSink for Silent {
        async fn publish(&self, _: &str, _: &str, _: &[u8]) -> Result<(), SinkError> {
            std::future::pending().await
        }

        async fn flush(&self, _: Duration) -> Result<(), SinkError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_tasks_events_reach_the_sink_and_the_first_error_is_answered() {
        let sink = Arc::new(MemorySink::default());
        let (actor, _done) = Actor::spawn(None, EventPublisher, sink.clone()).await.expect("spawn");
        let handle =
            PublisherHandle { actor: actor.clone(), sink: sink.clone(), timeout: Duration::from_secs(5) };
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
        handle.flush(Duration::from_secs(1)).await.expect("flushed through the actor");
        actor.stop(None);
    }

    #[tokio::test]
    async fn a_publish_without_a_delivery_report_in_time_is_unavailable() {
        let sink: Arc<dyn EventSink> = Arc::new(Silent);
        let (actor, _done) = Actor::spawn(None, EventPublisher, sink.clone()).await.expect("spawn");
        let handle = PublisherHandle { actor: actor.clone(), sink, timeout: Duration::from_millis(50) };
        let outcome = handle.publish("ai.completions", "t-1", b"{}").await;
        assert!(
            matches!(outcome, Err(SinkError::Unavailable(ref why)) if why.contains("in time")),
            "{outcome:?}"
        );
        actor.stop(None);
    }
}
