//! What an operator may change on a running replica, per queue, and what the consumers report
//! back: the desired state (paused, concurrency, prefetch) is a `watch` value each consumer
//! follows live; the live figures (consuming or not, in flight, tasks done and their rate)
//! are written by the consumer and read by the supervisor API. Nothing here restarts a
//! process or touches a delivery: the consumer applies a change between deliveries (see
//! `actors::consumer`).

pub mod command;
mod rate;
pub mod remembered;

pub use rate::RateMeter;
use remembered::{Change, RememberedControl};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Most concurrent tasks per queue an operator may ask for.
pub const MAX_CONCURRENCY: usize = 1024;

/// What a queue's consumer should be doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Desired {
    /// Not consuming: in-flight tasks finish and are acked; nothing new is taken.
    pub paused: bool,
    /// Tasks processed at once.
    pub concurrency: usize,
    /// Unacked deliveries RabbitMQ hands this consumer ahead (basic_qos).
    pub prefetch: u16,
}

/// One queue's control: the desired state and the consumer's live figures.
#[derive(Debug)]
pub struct QueueControl {
    desired: watch::Sender<Desired>,
    consuming: AtomicBool,
    in_flight: AtomicUsize,
    done: AtomicU64,
    rate: RateMeter,
}

impl QueueControl {
    pub fn new(initial: Desired) -> Self {
        Self {
            desired: watch::Sender::new(initial),
            consuming: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            done: AtomicU64::new(0),
            rate: RateMeter::default(),
        }
    }

    pub fn desired(&self) -> Desired {
        self.desired.borrow().clone()
    }

    /// Changes the desired state; consumers see it at once. Answers the new state.
    pub fn change(&self, edit: impl FnOnce(&mut Desired)) -> Desired {
        self.desired.send_modify(edit);
        self.desired()
    }

    /// What the consumer follows.
    pub fn subscribe(&self) -> watch::Receiver<Desired> {
        self.desired.subscribe()
    }

    pub fn set_consuming(&self, on: bool) {
        self.consuming.store(on, Ordering::Relaxed);
    }

    /// Counts one task in flight until the guard is dropped (finished, or aborted past the
    /// grace period: then its delivery goes back to the queue).
    pub fn track(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The queue's figures as the tree shows them.
    pub fn status(&self) -> QueueStatus {
        QueueStatus {
            desired: self.desired(),
            consuming: self.consuming.load(Ordering::Relaxed),
            in_flight: self.in_flight(),
            done: self.done.load(Ordering::Relaxed),
            per_second_1m: self.rate.per_second(),
        }
    }

    /// Waits until nothing is in flight, at most `limit`; true when it got there.
    pub async fn settled(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while self.in_flight() > 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }
}

/// One task in flight (see [`QueueControl::track`]).
#[derive(Debug)]
pub struct InFlight(Arc<QueueControl>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let c = &self.0;
        c.in_flight.fetch_sub(1, Ordering::Relaxed);
        c.done.fetch_add(1, Ordering::Relaxed);
        c.rate.tick();
    }
}

/// A queue's desired state and live figures.
#[derive(Debug, Clone, Serialize)]
pub struct QueueStatus {
    pub desired: Desired,
    /// A consumer is registered with RabbitMQ now.
    pub consuming: bool,
    pub in_flight: usize,
    /// Tasks finished since start (settled, or handed back past a drain's grace period).
    pub done: u64,
    /// Tasks finished per second over the last minute.
    pub per_second_1m: f64,
}

/// Every consumed queue's control, the replica-wide drain request, and where the cluster's
/// desired state is remembered.
#[derive(Default)]
pub struct Controls {
    queues: BTreeMap<String, Arc<QueueControl>>,
    drain: CancellationToken,
    remembered: Option<Arc<dyn RememberedControl>>,
    replica: Option<command::Replica>,
}

impl Controls {
    pub fn new(queues: impl IntoIterator<Item = (String, Arc<QueueControl>)>) -> Self {
        Self {
            queues: queues.into_iter().collect(),
            drain: CancellationToken::new(),
            remembered: None,
            replica: Some(command::Replica::fresh()),
        }
    }

    /// Who this replica is (in the tree, in control replies, in the registry).
    pub fn replica(&self) -> command::Replica {
        self.replica.clone().unwrap_or_else(command::Replica::fresh)
    }

    /// Cluster-wide changes are remembered in `store` (and every replica follows them).
    pub fn remembering(mut self, store: Arc<dyn RememberedControl>) -> Self {
        self.remembered = Some(store);
        self
    }

    pub fn remembered(&self) -> Option<&Arc<dyn RememberedControl>> {
        self.remembered.as_ref()
    }

    /// Remembers `changes` to `queue` for the whole cluster, by `by`, and applies them here
    /// when this replica consumes it.
    pub async fn change_cluster(
        &self,
        queue: &str,
        changes: &[Change],
        by: &str,
    ) -> Result<(), crate::store::StoreError> {
        let store = self
            .remembered
            .as_ref()
            .ok_or_else(|| crate::store::StoreError::Unavailable("no cluster state store here".into()))?;
        remembered::remember_now(store.as_ref(), queue, changes, by).await?;
        if let Some(control) = self.queue(queue) {
            control.change(|d| changes.iter().for_each(|c| c.apply(d)));
        }
        Ok(())
    }

    pub fn queue(&self, name: &str) -> Option<&Arc<QueueControl>> {
        self.queues.get(name)
    }

    pub fn queues(&self) -> impl Iterator<Item = (&String, &Arc<QueueControl>)> {
        self.queues.iter()
    }

    /// Asks the replica to drain and exit, as SIGTERM does.
    pub fn request_drain(&self) {
        self.drain.cancel();
    }

    /// Resolves once a drain was requested.
    pub async fn drain_requested(&self) {
        self.drain.cancelled().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desired() -> Desired {
        Desired { paused: false, concurrency: 4, prefetch: 8 }
    }

    #[tokio::test]
    async fn a_change_reaches_subscribers_and_settling_waits_for_in_flight_work() {
        let control = Arc::new(QueueControl::new(desired()));
        let mut seen = control.subscribe();
        let now = control.change(|d| d.paused = true);
        assert!(now.paused);
        seen.changed().await.expect("changed");
        assert!(seen.borrow().paused);
        let task = control.track();
        assert!(!control.settled(Duration::from_millis(60)).await, "one task still runs");
        drop(task);
        assert!(control.settled(Duration::from_millis(60)).await);
        let status = control.status();
        assert_eq!((status.in_flight, status.done), (0, 1));
    }
}
