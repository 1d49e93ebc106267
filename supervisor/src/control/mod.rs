//! What an operator may change on a running replica, per queue, and what the consumers report
//! back: the desired state (paused, concurrency, prefetch) is a `watch` value each consumer
//! follows live; the live figures (consuming or not, in flight, tasks done and their rate)
//! are written by the consumer and read by the supervisor API. Nothing here restarts a
//! process or touches a delivery: the consumer applies a change between deliveries (see
//! `actors::consumer`).

pub mod activity;
pub mod autoscale;
pub mod command;
mod rate;
pub mod remembered;
pub mod tree;

use autoscale::{Bounds, Move};
pub use rate::RateMeter;
use remembered::{Change, RememberedControl};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

/// Most concurrent tasks per queue an operator may ask for.
pub const MAX_CONCURRENCY: usize = 1024;

/// What a queue's consumer should be doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Desired {
    /// Not consuming: in-flight tasks finish and are acked; nothing new is taken.
    pub paused: bool,
    /// Slots: tasks deciding at once (until their result is routed).
    pub concurrency: usize,
    /// Unacked deliveries RabbitMQ hands this consumer ahead (basic_qos).
    pub prefetch: u16,
    /// An operator set the concurrency: autoscaling leaves it alone until cleared.
    pub pinned: bool,
}

impl Desired {
    /// As configured: consuming, not pinned.
    pub fn configured(concurrency: usize, prefetch: u16) -> Self {
        Self { paused: false, concurrency, prefetch, pinned: false }
    }

    /// `n` tasks at once; the prefetch is raised to it when lower (more tasks at once than
    /// RabbitMQ hands over ahead would never run).
    pub fn scale_to(&mut self, n: usize) {
        self.concurrency = n;
        self.prefetch = self.prefetch.max(u16::try_from(n).unwrap_or(u16::MAX));
    }
}

/// The queue's backlog as last sampled (all replicas' consumers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Backlog {
    /// Tasks waiting to be delivered.
    pub ready: u64,
    /// Delivered and not yet acknowledged (from the management API; absent without it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unacked: Option<u64>,
    pub consumers: u32,
}

/// A queue's autoscaling: its bounds and its last move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AutoscaleStatus {
    pub min: usize,
    pub max: usize,
    /// False while an operator's concurrency stands (until cleared).
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_move: Option<LastMove>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastMove {
    #[serde(flatten)]
    pub change: Move,
    /// RFC 3339.
    pub at: String,
}

/// What the monitor last saw and did.
#[derive(Debug, Default)]
struct Observed {
    backlog: Option<Backlog>,
    last_move: Option<LastMove>,
}

/// One queue's control: the desired state and the consumer's live figures.
#[derive(Debug)]
pub struct QueueControl {
    desired: watch::Sender<Desired>,
    /// What the configuration asks (a clear goes back to it).
    configured: Desired,
    autoscale: Option<Bounds>,
    consuming: AtomicBool,
    in_flight: AtomicUsize,
    /// Tasks holding one of the `concurrency` slots: from delivery until their result is
    /// routed (the model call included); committing, publishing and the ack come after.
    busy: AtomicUsize,
    /// Told each time a slot is freed (the consumer waits on it while every slot is busy).
    freed: Notify,
    /// The most slots busy at once since the monitor last looked.
    peak: AtomicUsize,
    done: AtomicU64,
    rate: RateMeter,
    observed: Mutex<Observed>,
    activity: activity::Activity,
}

impl QueueControl {
    /// A queue as configured (an autoscaled queue starts within its bounds).
    pub fn new(mut configured: Desired, autoscale: Option<Bounds>) -> Self {
        if let Some(b) = autoscale {
            configured.scale_to(b.clamp(configured.concurrency));
        }
        Self {
            desired: watch::Sender::new(configured.clone()),
            configured,
            autoscale,
            consuming: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            freed: Notify::new(),
            peak: AtomicUsize::new(0),
            done: AtomicU64::new(0),
            rate: RateMeter::default(),
            observed: Mutex::default(),
            activity: activity::Activity::default(),
        }
    }

    pub fn configured(&self) -> &Desired {
        &self.configured
    }

    pub fn autoscale(&self) -> Option<Bounds> {
        self.autoscale
    }

    /// Back to the configuration: consuming, the configured concurrency and prefetch, and
    /// autoscaling again where configured.
    pub fn reset(&self) -> Desired {
        let configured = self.configured.clone();
        self.change(|d| *d = configured)
    }

    /// Applies an autoscaling move unless an operator pinned the concurrency meanwhile; true
    /// when applied.
    pub fn autoscaled(&self, change: Move) -> bool {
        let mut applied = false;
        self.desired.send_if_modified(|d| {
            applied = !d.pinned && d.concurrency == change.from;
            if applied {
                d.scale_to(change.to);
            }
            applied
        });
        if applied {
            let at = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
            self.observe(|o| o.last_move = Some(LastMove { change, at }));
        }
        applied
    }

    /// The most slots busy at once since the last call (and starts counting again).
    pub fn take_peak(&self) -> usize {
        self.peak.swap(self.busy(), Ordering::Relaxed)
    }

    /// Notes the queue's backlog as sampled.
    pub fn sampled(&self, backlog: Backlog) {
        self.observe(|o| o.backlog = Some(backlog));
    }

    fn observe<T>(&self, f: impl FnOnce(&mut Observed) -> T) -> T {
        let mut o = self.observed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut o)
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
    /// grace period: then its delivery goes back to the queue), holding a slot until
    /// [`InFlight::free_slot`] or the drop.
    pub fn track(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let now = self.busy.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        InFlight { control: self.clone(), slot: true }
    }

    /// Tasks holding a slot now.
    pub fn busy(&self) -> usize {
        self.busy.load(Ordering::Relaxed)
    }

    /// Resolves once a slot has been freed since the last time it resolved (or at once, if
    /// one was freed meanwhile).
    pub async fn slot_freed(&self) {
        self.freed.notified().await
    }

    /// What became of this queue's tasks on this replica.
    pub fn activity(&self) -> &activity::Activity {
        &self.activity
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The queue's figures as the tree shows them.
    pub fn status(&self) -> QueueStatus {
        let desired = self.desired();
        let (backlog, last_move) = self.observe(|o| (o.backlog, o.last_move.clone()));
        let autoscale = self.autoscale.map(|b| AutoscaleStatus {
            min: b.min,
            max: b.max,
            active: !desired.pinned,
            last_move,
        });
        let busy = self.busy();
        QueueStatus {
            consuming: self.consuming.load(Ordering::Relaxed),
            in_flight: self.in_flight(),
            busy,
            utilization: busy as f64 / desired.concurrency.max(1) as f64,
            done: self.done.load(Ordering::Relaxed),
            per_second_1m: self.rate.per_second(),
            backlog,
            autoscale,
            desired,
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
pub struct InFlight {
    control: Arc<QueueControl>,
    slot: bool,
}

impl InFlight {
    /// The task's result is routed: its slot takes the next delivery while it commits,
    /// publishes and is acked (bounded by the prefetch, as every unacked delivery).
    pub fn free_slot(&mut self) {
        if std::mem::take(&mut self.slot) {
            self.control.busy.fetch_sub(1, Ordering::Relaxed);
            // One consumer waits per queue and replica: a stored permit wakes it at most once
            // for nothing.
            self.control.freed.notify_one();
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.free_slot();
        let c = &self.control;
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
    /// Tasks holding a slot (admitted, result not yet routed), at most `concurrency`.
    pub busy: usize,
    /// Busy slots over concurrency, now (0..1).
    pub utilization: f64,
    /// Tasks finished since start (settled, or handed back past a drain's grace period).
    pub done: u64,
    /// Tasks finished per second over the last minute.
    pub per_second_1m: f64,
    /// The queue's backlog as last sampled.
    pub backlog: Option<Backlog>,
    /// Autoscaling, where configured.
    pub autoscale: Option<AutoscaleStatus>,
}

/// Every consumed queue's control, the replica-wide drain request, and where the cluster's
/// desired state is remembered.
#[derive(Default)]
pub struct Controls {
    queues: BTreeMap<String, Arc<QueueControl>>,
    drain: CancellationToken,
    remembered: Option<Arc<dyn RememberedControl>>,
    replica: Option<command::Replica>,
    tree: Arc<tree::ActorTree>,
}

impl Controls {
    pub fn new(queues: impl IntoIterator<Item = (String, Arc<QueueControl>)>) -> Self {
        Self {
            queues: queues.into_iter().collect(),
            drain: CancellationToken::new(),
            remembered: None,
            replica: Some(command::Replica::fresh()),
            tree: Arc::default(),
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

    /// The replica's live actor tree.
    pub fn tree(&self) -> &Arc<tree::ActorTree> {
        &self.tree
    }

    fn store(&self) -> Result<&Arc<dyn RememberedControl>, crate::store::StoreError> {
        self.remembered
            .as_ref()
            .ok_or_else(|| crate::store::StoreError::Unavailable("no cluster state store here".into()))
    }

    /// Remembers `changes` to `queue` for the whole cluster, by `by`, and applies them here
    /// when this replica consumes it.
    pub async fn change_cluster(
        &self,
        queue: &str,
        changes: &[Change],
        by: &str,
    ) -> Result<(), crate::store::StoreError> {
        remembered::remember_now(self.store()?.as_ref(), queue, changes, by).await?;
        if let Some(control) = self.queue(queue) {
            control.change(|d| changes.iter().for_each(|c| c.apply(d)));
        }
        Ok(())
    }

    /// Clears what the cluster asks of `queue` (noting `by` and when): every replica goes back
    /// to its configuration, this one at once.
    pub async fn clear_cluster(&self, queue: &str, by: &str) -> Result<(), crate::store::StoreError> {
        remembered::clear_now(self.store()?.as_ref(), queue, by).await?;
        if let Some(control) = self.queue(queue) {
            control.reset();
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
        Desired::configured(4, 8)
    }

    #[tokio::test]
    async fn a_change_reaches_subscribers_and_settling_waits_for_in_flight_work() {
        let control = Arc::new(QueueControl::new(desired(), None));
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

    #[test]
    fn autoscaling_starts_within_bounds_yields_to_an_operator_and_a_reset_restores_it() {
        let control = QueueControl::new(desired(), Some(Bounds { min: 6, max: 10 }));
        assert_eq!(control.desired().concurrency, 6, "the configured 4 is below min");
        assert!(control.autoscaled(Move { from: 6, to: 9, why: "backlog" }));
        let status = control.status();
        assert_eq!((status.desired.concurrency, status.desired.prefetch), (9, 9), "the prefetch follows");
        assert!(status.autoscale.as_ref().is_some_and(|a| a.active && a.last_move.is_some()));
        assert!(!control.autoscaled(Move { from: 6, to: 7, why: "backlog" }), "a stale move is dropped");
        control.change(|d| remembered::Change::Concurrency(3).apply(d));
        assert!(!control.autoscaled(Move { from: 3, to: 6, why: "bounds" }), "pinned by the operator");
        assert!(control.status().autoscale.is_some_and(|a| !a.active));
        let back = control.reset();
        assert_eq!((back.concurrency, back.pinned, back.paused), (6, false, false));
        assert!(control.autoscaled(Move { from: 6, to: 8, why: "backlog" }), "autoscaling again");
    }

    #[test]
    fn the_peak_counts_the_most_at_once_since_the_last_look() {
        let control = Arc::new(QueueControl::new(desired(), None));
        let (a, b) = (control.track(), control.track());
        drop(a);
        assert_eq!(control.take_peak(), 2);
        assert_eq!(control.take_peak(), 1, "one still runs");
        drop(b);
        assert_eq!(control.take_peak(), 1);
        assert_eq!(control.take_peak(), 0);
    }
}
