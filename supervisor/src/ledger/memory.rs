//! The ledger in memory, for unit tests and the embedded demo.

use super::{token, Claim, Ledger};
use crate::store::StoreError;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct MemoryLedger {
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Entry {
    Claimed { token: String, until: Instant },
    Committing { token: String, until: Instant },
    Done(String),
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Unavailable("ledger poisoned".into())
}

#[async_trait]
impl Ledger for MemoryLedger {
    async fn claim(&self, task_id: &str, lease: Duration, takeover: bool) -> Result<Claim, StoreError> {
        let mut entries = self.entries.lock().map_err(poisoned)?;
        let now = Instant::now();
        match entries.get(task_id) {
            Some(Entry::Done(outcome)) => return Ok(Claim::Done(outcome.clone())),
            Some(Entry::Committing { until, .. }) if *until > now => return Ok(Claim::Busy),
            Some(Entry::Claimed { until, .. }) if *until > now && !takeover => return Ok(Claim::Busy),
            _ => {}
        }
        let token = token();
        entries.insert(task_id.to_string(), Entry::Claimed { token: token.clone(), until: now + lease });
        Ok(Claim::Claimed(token))
    }

    async fn commit(&self, task_id: &str, token: &str, lease: Duration) -> Result<bool, StoreError> {
        let mut entries = self.entries.lock().map_err(poisoned)?;
        match entries.get(task_id) {
            Some(Entry::Claimed { token: held, .. }) if held == token => {
                let until = Instant::now() + lease;
                entries.insert(task_id.to_string(), Entry::Committing { token: token.to_string(), until });
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn record(&self, task_id: &str, outcome: &str, _retention: Duration) -> Result<(), StoreError> {
        self.entries.lock().map_err(poisoned)?.insert(task_id.to_string(), Entry::Done(outcome.to_string()));
        Ok(())
    }

    async fn release(&self, task_id: &str, token: &str) -> Result<(), StoreError> {
        let mut entries = self.entries.lock().map_err(poisoned)?;
        let held = match entries.get(task_id) {
            Some(Entry::Claimed { token: t, .. } | Entry::Committing { token: t, .. }) => t == token,
            _ => false,
        };
        if held {
            entries.remove(task_id);
        }
        Ok(())
    }

    async fn forget(&self, task_id: &str) -> Result<(), StoreError> {
        self.entries.lock().map_err(poisoned)?.remove(task_id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_taken_over_claim_cannot_commit_and_a_commit_blocks_takeover() {
        let ledger = MemoryLedger::default();
        let lease = Duration::from_secs(60);
        let Claim::Claimed(first) = ledger.claim("t", lease, false).await.expect("claim") else { panic!() };
        assert_eq!(ledger.claim("t", lease, false).await.expect("busy"), Claim::Busy);
        let Claim::Claimed(second) = ledger.claim("t", lease, true).await.expect("takeover") else {
            panic!()
        };
        assert!(!ledger.commit("t", &first, lease).await.expect("commit"), "the old holder may not commit");
        assert!(ledger.commit("t", &second, lease).await.expect("commit"));
        assert_eq!(
            ledger.claim("t", lease, true).await.expect("busy"),
            Claim::Busy,
            "no takeover of a commit"
        );
        ledger.release("t", &first).await.expect("release");
        assert_eq!(
            ledger.claim("t", lease, true).await.expect("still busy"),
            Claim::Busy,
            "a stale token releases nothing"
        );
        ledger.record("t", "executed", lease).await.expect("record");
        assert_eq!(ledger.claim("t", lease, true).await.expect("done"), Claim::Done("executed".into()));
    }
}
