//! A [`Transport`] in memory, for the embedded demo and unit tests, with RabbitMQ's settlement
//! rules: a consumer holds at most `prefetch` unsettled deliveries; an ack removes one; a
//! requeue puts it back at the head, marked redelivered; a copy "through a retry tier" comes
//! back to the end of its queue after the delay; a dead letter goes to `<queue>.dlq`; closing a
//! session (a consumer stopping or crashing) puts back every delivery it had not settled.
//! Nothing survives the process.

use super::headers;
use super::{Delivery, Session, Transport, TransportError};
use crate::hitl::queues::QueueOut;
use crate::setup::desired::dlq_name;
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::watch;

/// One message with its headers (text values, as overseer writes them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub body: Arc<[u8]>,
    pub headers: BTreeMap<String, String>,
    pub redelivered: bool,
}

impl Message {
    pub fn new(body: impl Into<Arc<[u8]>>) -> Self {
        Self { body: body.into(), headers: BTreeMap::new(), redelivered: false }
    }
}

#[derive(Default)]
struct Queues {
    ready: HashMap<String, VecDeque<Message>>,
    /// Deliveries handed over and not settled, by delivery tag, with their session.
    unsettled: HashMap<u64, (u64, String, Message)>,
}

/// The broker. Cheap to clone (shared).
#[derive(Clone)]
pub struct MemoryBroker {
    inner: Arc<Inner>,
}

struct Inner {
    queues: Mutex<Queues>,
    /// Bumped on every change a waiting consumer may care about.
    changed: watch::Sender<u64>,
    next_tag: AtomicU64,
}

impl Default for MemoryBroker {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                queues: Mutex::default(),
                changed: watch::Sender::new(0),
                next_tag: AtomicU64::new(1),
            }),
        }
    }
}

impl MemoryBroker {
    fn lock(&self) -> MutexGuard<'_, Queues> {
        self.inner.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wake(&self) {
        self.inner.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Appends `message` to `queue`.
    pub fn publish(&self, queue: &str, message: Message) {
        self.lock().ready.entry(queue.to_string()).or_default().push_back(message);
        self.wake();
    }

    /// Messages waiting in `queue` (for `<queue>.dlq`: its dead letters).
    pub fn ready(&self, queue: &str) -> Vec<Message> {
        self.lock().ready.get(queue).map(|q| q.iter().cloned().collect()).unwrap_or_default()
    }

    /// Deliveries of `queue` handed over and not settled.
    pub fn unsettled(&self, queue: &str) -> usize {
        self.lock().unsettled.values().filter(|(_, q, _)| q == queue).count()
    }

    fn tag(&self) -> u64 {
        self.inner.next_tag.fetch_add(1, Ordering::Relaxed)
    }

    /// Settles delivery `tag`: gone, or back to the head of its queue.
    fn settle(&self, tag: u64, back: bool) -> Result<(), TransportError> {
        let mut queues = self.lock();
        let (_, queue, mut message) =
            queues.unsettled.remove(&tag).ok_or_else(|| TransportError("delivery already settled".into()))?;
        if back {
            message.redelivered = true;
            queues.ready.entry(queue).or_default().push_front(message);
        }
        drop(queues);
        self.wake();
        Ok(())
    }
}

#[async_trait]
impl Transport for MemoryBroker {
    async fn session(&self) -> Result<Box<dyn Session>, TransportError> {
        Ok(Box::new(MemorySession { broker: self.clone(), id: self.tag(), consuming: None }))
    }

    async fn outage(&self) -> Option<Duration> {
        None
    }
}

#[async_trait]
impl QueueOut for MemoryBroker {
    async fn send(&self, queue: &str, body: &[u8], _message_id: &str) -> Result<(), String> {
        self.publish(queue, Message::new(body));
        Ok(())
    }
}

struct MemorySession {
    broker: MemoryBroker,
    id: u64,
    /// The queue and prefetch while consuming.
    consuming: Option<(String, usize)>,
}

impl MemorySession {
    /// Takes the next message if one waits and the prefetch allows.
    fn take(&self) -> Option<Arc<dyn Delivery>> {
        let (queue, prefetch) = self.consuming.as_ref()?;
        let mut queues = self.broker.lock();
        let held = queues.unsettled.values().filter(|(s, _, _)| *s == self.id).count();
        if held >= *prefetch {
            return None;
        }
        let message = queues.ready.get_mut(queue)?.pop_front()?;
        let tag = self.broker.tag();
        queues.unsettled.insert(tag, (self.id, queue.clone(), message.clone()));
        Some(Arc::new(MemoryDelivery {
            broker: self.broker.clone(),
            tag,
            queue: queue.clone(),
            message,
            settled: AtomicBool::new(false),
        }))
    }
}

#[async_trait]
impl Session for MemorySession {
    async fn consume(&mut self, queue: &str, prefetch: u16, _priority: i32) -> Result<(), TransportError> {
        self.consuming = Some((queue.to_string(), usize::from(prefetch.max(1))));
        Ok(())
    }

    async fn cancel(&mut self) -> Result<(), TransportError> {
        // Nothing is buffered beyond what `next` handed out.
        self.consuming = None;
        Ok(())
    }

    async fn next(&mut self) -> Option<Result<Arc<dyn Delivery>, TransportError>> {
        if self.consuming.is_none() {
            return std::future::pending().await;
        }
        let mut changed = self.broker.inner.changed.subscribe();
        loop {
            // Marked seen before looking, so a change after the look wakes the wait below.
            changed.borrow_and_update();
            if let Some(delivery) = self.take() {
                return Some(Ok(delivery));
            }
            if changed.changed().await.is_err() {
                return None;
            }
        }
    }

    async fn close(&mut self) {
        self.consuming = None;
        let mut queues = self.broker.lock();
        let mine: Vec<u64> =
            queues.unsettled.iter().filter(|(_, (s, _, _))| *s == self.id).map(|(t, _)| *t).collect();
        for tag in mine {
            if let Some((_, queue, mut message)) = queues.unsettled.remove(&tag) {
                message.redelivered = true;
                queues.ready.entry(queue).or_default().push_front(message);
            }
        }
        drop(queues);
        self.broker.wake();
    }
}

struct MemoryDelivery {
    broker: MemoryBroker,
    tag: u64,
    queue: String,
    message: Message,
    settled: AtomicBool,
}

impl MemoryDelivery {
    fn copy_with(&self, set: &[(&str, String)]) -> Message {
        let mut copy = Message { redelivered: false, ..self.message.clone() };
        for (k, v) in set {
            copy.headers.insert(k.to_string(), v.clone());
        }
        copy
    }

    fn settle(&self, back: bool) -> Result<(), TransportError> {
        if self.settled.swap(true, Ordering::AcqRel) {
            return Err(TransportError("delivery already settled".into()));
        }
        self.broker.settle(self.tag, back)
    }
}

#[async_trait]
impl Delivery for MemoryDelivery {
    fn body(&self) -> &[u8] {
        &self.message.body
    }

    fn redelivered(&self) -> bool {
        self.message.redelivered
    }

    fn attempt(&self) -> u32 {
        self.message.headers.get(headers::ATTEMPT).and_then(|a| a.parse().ok()).unwrap_or(1).max(1)
    }

    async fn ack(&self) -> Result<(), TransportError> {
        self.settle(false)
    }

    async fn requeue(&self) -> Result<(), TransportError> {
        self.settle(true)
    }

    async fn send_later(
        &self,
        delay: Duration,
        attempt: Option<u32>,
        last_error: Option<&str>,
    ) -> Result<bool, TransportError> {
        let mut set = Vec::new();
        if let Some(n) = attempt {
            set.push((headers::ATTEMPT, n.to_string()));
        }
        if let Some(e) = last_error {
            set.push((headers::LAST_ERROR, e.to_string()));
        }
        let copy = self.copy_with(&set);
        let (broker, queue) = (self.broker.clone(), self.queue.clone());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            broker.publish(&queue, copy);
        });
        Ok(true)
    }

    async fn dead_letter(&self, code: &str, reason: &str, attempts: u32) -> Result<bool, TransportError> {
        let set = [
            (headers::REASON, code.to_string()),
            (headers::LAST_ERROR, reason.to_string()),
            (headers::ATTEMPTS, attempts.to_string()),
            (headers::ORIGINAL_QUEUE, self.queue.clone()),
        ];
        self.broker.publish(&dlq_name(&self.queue), self.copy_with(&set));
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn next(session: &mut Box<dyn Session>) -> Option<Arc<dyn Delivery>> {
        match tokio::time::timeout(Duration::from_millis(100), session.next()).await {
            Ok(Some(Ok(d))) => Some(d),
            _ => None,
        }
    }

    #[tokio::test]
    async fn the_prefetch_bounds_what_a_consumer_holds_and_settling_frees_it() {
        let broker = MemoryBroker::default();
        for i in 0..3 {
            broker.publish("q", Message::new(format!("m{i}").into_bytes()));
        }
        let mut s = broker.session().await.expect("session");
        assert!(next(&mut s).await.is_none(), "not consuming yet");
        s.consume("q", 2, 0).await.expect("consume");
        let a = next(&mut s).await.expect("first");
        let b = next(&mut s).await.expect("second");
        assert!(next(&mut s).await.is_none(), "two held: the prefetch is reached");
        assert_eq!((broker.unsettled("q"), broker.ready("q").len()), (2, 1));
        a.ack().await.expect("ack");
        assert!(a.ack().await.is_err(), "settled once only");
        let c = next(&mut s).await.expect("a slot is free");
        assert_eq!(c.body(), b"m2");
        // A requeue goes back to the head, marked redelivered.
        b.requeue().await.expect("requeue");
        c.ack().await.expect("ack");
        let again = next(&mut s).await.expect("redelivered");
        assert_eq!((again.body(), again.redelivered()), (&b"m1"[..], true));
    }

    #[tokio::test]
    async fn a_closed_session_gives_back_what_it_had_not_settled() {
        let broker = MemoryBroker::default();
        broker.publish("q", Message::new(&b"m"[..]));
        let mut s = broker.session().await.expect("session");
        s.consume("q", 5, 0).await.expect("consume");
        let _held = next(&mut s).await.expect("delivery");
        s.close().await;
        let back = broker.ready("q");
        assert_eq!(back.len(), 1);
        assert!(back[0].redelivered);
        assert_eq!(broker.unsettled("q"), 0);
    }

    #[tokio::test]
    async fn retries_come_back_after_their_delay_and_dead_letters_carry_the_reason() {
        let broker = MemoryBroker::default();
        broker.publish("q", Message::new(&b"task"[..]));
        let mut s = broker.session().await.expect("session");
        s.consume("q", 5, 0).await.expect("consume");
        let first = next(&mut s).await.expect("delivery");
        assert_eq!(first.attempt(), 1);
        assert!(first.send_later(Duration::from_millis(150), Some(2), Some("503")).await.expect("later"));
        first.ack().await.expect("ack");
        assert!(next(&mut s).await.is_none(), "not back before its delay");
        let second = tokio::time::timeout(Duration::from_secs(2), s.next()).await;
        let second = second.ok().flatten().and_then(Result::ok).expect("back after the delay");
        assert_eq!((second.attempt(), second.redelivered()), (2, false));
        assert!(second.dead_letter("retries_exhausted", "gave up", 2).await.expect("dead letter"));
        second.ack().await.expect("ack");
        let dead = broker.ready("q.dlq");
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].headers.get(headers::REASON).map(String::as_str), Some("retries_exhausted"));
        assert_eq!(dead[0].headers.get(headers::ORIGINAL_QUEUE).map(String::as_str), Some("q"));
        assert!(broker.ready("q").is_empty() && broker.unsettled("q") == 0);
    }
}
