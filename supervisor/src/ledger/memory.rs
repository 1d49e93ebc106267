//! The ledger in memory, for unit tests and the embedded demo.

use super::{Claim, Ledger};
use crate::hitl::StoreError;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct MemoryLedger {
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug, Clone)]
enum Entry {
    Claimed(Instant),
    Done(String),
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Unavailable("ledger poisoned".into())
}

#[async_trait]
impl Ledger for MemoryLedger {
    async fn claim(&self, task_id: &str, lease: Duration, takeover: bool) -> Result<Claim, StoreError> {
        let mut entries = self.entries.lock().map_err(poisoned)?;
        match entries.get(task_id) {
            Some(Entry::Done(outcome)) => Ok(Claim::Done(outcome.clone())),
            Some(Entry::Claimed(until)) if *until > Instant::now() && !takeover => Ok(Claim::Busy),
            _ => {
                entries.insert(task_id.to_string(), Entry::Claimed(Instant::now() + lease));
                Ok(Claim::Claimed)
            }
        }
    }

    async fn record(&self, task_id: &str, outcome: &str, _retention: Duration) -> Result<(), StoreError> {
        self.entries.lock().map_err(poisoned)?.insert(task_id.to_string(), Entry::Done(outcome.to_string()));
        Ok(())
    }

    async fn release(&self, task_id: &str) -> Result<(), StoreError> {
        let mut entries = self.entries.lock().map_err(poisoned)?;
        if matches!(entries.get(task_id), Some(Entry::Claimed(_))) {
            entries.remove(task_id);
        }
        Ok(())
    }

    async fn forget(&self, task_id: &str) -> Result<(), StoreError> {
        self.entries.lock().map_err(poisoned)?.remove(task_id);
        Ok(())
    }
}
