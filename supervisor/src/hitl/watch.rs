//! The live feed of pending decisions for the dashboard: while anyone watches, the pending
//! index is read every [`POLL`] and the ids that came and went are broadcast. It reads the
//! shared store, so a decision parked or decided on any replica shows on every replica's
//! dashboard; nobody watching costs nothing.

use super::DecisionStore;
use serde::Serialize;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// How often the pending index is read while someone watches.
pub const POLL: Duration = Duration::from_millis(400);
/// Most pending ids compared per read (more pending than this: the newest beyond it show on
/// the next full reload, which every (re)connect does).
const WINDOW: usize = 1000;

/// What changed in the pending index since the previous read.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PendingChange {
    /// Decisions now pending that were not before.
    pub added: Vec<String>,
    /// Decisions no longer pending (decided, expired or escalated).
    pub removed: Vec<String>,
    /// How many are pending now (up to the window).
    pub pending: usize,
}

pub struct PendingWatch {
    changes: broadcast::Sender<PendingChange>,
    /// How many reads of the index finished (a subscriber waits for one after it subscribed).
    reads: tokio::sync::watch::Sender<u64>,
    stop: CancellationToken,
}

impl PendingWatch {
    /// Starts reading `store` whenever someone subscribes, until `stop`.
    pub fn start(store: Arc<dyn DecisionStore>, stop: CancellationToken) -> Arc<Self> {
        let (changes, _) = broadcast::channel(64);
        let reads = tokio::sync::watch::Sender::new(0);
        let watch = Arc::new(Self { changes: changes.clone(), reads: reads.clone(), stop: stop.clone() });
        tokio::spawn(async move {
            let mut known: Option<HashSet<String>> = None;
            let mut tick = tokio::time::interval(POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => {}
                }
                if changes.receiver_count() == 0 {
                    // A later subscriber starts from a fresh read (it reloads the list anyway).
                    known = None;
                    continue;
                }
                let now: HashSet<String> = match store.pending_ids(WINDOW).await {
                    Ok(ids) => ids.into_iter().collect(),
                    Err(e) => {
                        tracing::debug!(error = %e, "the live feed could not read the pending index");
                        continue;
                    }
                };
                if let Some(change) = known.as_ref().and_then(|before| diff(before, &now)) {
                    // Nobody left listening between the check and here is fine.
                    let _ = changes.send(change);
                }
                known = Some(now);
                reads.send_modify(|n| *n += 1);
            }
        });
        watch
    }

    /// The changes from now on, once the index was read after subscribing: a decision parked
    /// after this returns is in a change; one parked before is in a list read after it.
    pub async fn subscribe(&self) -> broadcast::Receiver<PendingChange> {
        let changes = self.changes.subscribe();
        let mut reads = self.reads.subscribe();
        let before = *reads.borrow_and_update();
        // Bounded: a store that does not answer must not hold the stream (it retries anyway).
        tokio::select! {
            _ = self.stop.cancelled() => {}
            _ = tokio::time::timeout(POLL * 5, reads.wait_for(|n| *n > before)) => {}
        }
        changes
    }

    /// Cancelled when the replica stops: open streams end so the HTTP server can drain.
    pub fn stopping(&self) -> CancellationToken {
        self.stop.clone()
    }
}

/// The change from `before` to `now`, or None when nothing changed.
fn diff(before: &HashSet<String>, now: &HashSet<String>) -> Option<PendingChange> {
    let mut added: Vec<String> = now.difference(before).cloned().collect();
    let mut removed: Vec<String> = before.difference(now).cloned().collect();
    if added.is_empty() && removed.is_empty() {
        return None;
    }
    added.sort();
    removed.sort();
    Some(PendingChange { added, removed, pending: now.len() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hitl::memory::MemoryStore;
    use crate::hitl::{Decisions, PendingDecision};

    fn set(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_change_names_what_came_and_went() {
        assert_eq!(diff(&set(&["a", "b"]), &set(&["a", "b"])), None);
        assert_eq!(
            diff(&set(&["a", "b"]), &set(&["b", "d", "c"])),
            Some(PendingChange {
                added: vec!["c".into(), "d".into()],
                removed: vec!["a".into()],
                pending: 3
            })
        );
    }

    #[tokio::test]
    async fn a_subscriber_hears_of_a_decision_parked_after_it_subscribed() {
        let store = Arc::new(MemoryStore::default());
        let stop = CancellationToken::new();
        let watch = PendingWatch::start(store.clone(), stop.clone());
        let mut feed = watch.subscribe().await;
        let d = PendingDecision::new(
            "t-1",
            "order_processing",
            "auto_orders",
            "order",
            overseer_agents::confidence::Confidence::combine(0.5, 0.5, None),
            vec!["low_confidence".into()],
            serde_json::json!({"proposal": {"actions": []}}),
            Duration::from_secs(600),
        );
        let parked = store.park(&d, Duration::from_secs(600)).await.expect("park");
        let change = tokio::time::timeout(Duration::from_secs(3), feed.recv())
            .await
            .expect("in time")
            .expect("a change");
        assert_eq!(change.added, vec![parked.decision_id().to_string()]);
        assert_eq!(change.pending, 1);
        stop.cancel();
    }
}
