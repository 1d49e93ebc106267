//! The consumer on the in-memory broker, with a sink that holds every publish until the test
//! lets it through: what a slot covers, and what the prefetch bounds.

use super::consumer::{ConsumerActor, ConsumerArgs};
use crate::control::{Desired, QueueControl};
use crate::events::{EventSink, SinkError};
use crate::health::Health;
use crate::pipeline::testing::{ctx, order, pipeline_with};
use crate::transport::memory::{MemoryBroker, Message};
use crate::transport::plan::RetryPolicy;
use async_trait::async_trait;
use ractor::Actor;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Holds every publish until opened; counts the tasks waiting and the events let through.
struct GatedSink {
    open: watch::Sender<bool>,
    waiting: AtomicUsize,
    published: AtomicUsize,
}

impl GatedSink {
    fn closed() -> Self {
        Self { open: watch::Sender::new(false), waiting: AtomicUsize::new(0), published: AtomicUsize::new(0) }
    }
}

#[async_trait]
impl EventSink for GatedSink {
    async fn publish(&self, topic: &str, key: &str, payload: &[u8]) -> Result<(), SinkError> {
        self.publish_all(key, vec![(topic.to_string(), payload.to_vec())]).await
    }

    async fn publish_all(&self, _key: &str, events: Vec<(String, Vec<u8>)>) -> Result<(), SinkError> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let mut open = self.open.subscribe();
        let opened = open.wait_for(|open| *open).await.is_ok();
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        if !opened {
            return Err(SinkError::Unavailable("gate dropped".into()));
        }
        self.published.fetch_add(events.len(), Ordering::SeqCst);
        Ok(())
    }

    async fn flush(&self, _timeout: Duration) -> Result<(), SinkError> {
        Ok(())
    }
}

async fn until(what: &str, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routed_task_frees_its_slot_while_its_effects_wait_and_the_prefetch_bounds_them() {
    let broker = MemoryBroker::default();
    let sink = Arc::new(GatedSink::closed());
    let (pipeline, _) = pipeline_with(sink.clone()).await;
    // One slot, three deliveries held at most.
    let control = Arc::new(QueueControl::new(Desired::configured(1, 3), None));
    let args = ConsumerArgs {
        ctx: ctx(),
        transport: Arc::new(broker.clone()),
        pipeline: Arc::new(pipeline),
        control: control.clone(),
        consumer_priority: 0,
        retry: RetryPolicy { max_attempts: 3, delays: vec![Duration::from_secs(1)] },
        health: Arc::new(Health::default()),
    };
    let queue = args.ctx.queue.clone();
    for i in 0..4 {
        broker.publish(&queue, Message::new(order(&format!("slot-{i}"), json!({}))));
    }
    let (actor, ended) = Actor::spawn(None, ConsumerActor, args).await.expect("consumer");

    // Every publish is held, yet three tasks got past their model call with one slot: each
    // freed it once routed. The fourth stays in the queue: the prefetch counts them all.
    until("three tasks to wait on their effects", || sink.waiting.load(Ordering::SeqCst) == 3).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sink.waiting.load(Ordering::SeqCst), 3);
    assert_eq!((control.busy(), control.in_flight()), (0, 3));
    assert_eq!(broker.unsettled(&queue), 3);
    assert_eq!(broker.ready(&queue).len(), 1);
    assert_eq!(control.status().utilization, 0.0);

    sink.open.send_replace(true);
    until("every task to be acked", || control.status().done == 4 && broker.unsettled(&queue) == 0).await;
    assert!(broker.ready(&queue).is_empty());
    // Three events per executed task, each task once.
    assert_eq!(sink.published.load(Ordering::SeqCst), 4 * 3);
    actor.stop(None);
    ended.await.expect("consumer stopped");
}
