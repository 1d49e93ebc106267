//! Workflow changes kept in memory, for unit tests and the embedded demo.

use super::WorkflowStore;
use crate::store::StoreError;
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct MemoryWorkflows {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    records: BTreeMap<String, String>,
    version: u64,
    audit: Vec<String>,
    outcomes: BTreeMap<String, Vec<bool>>,
}

impl MemoryWorkflows {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>, StoreError> {
        self.inner.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))
    }
}

#[async_trait]
impl WorkflowStore for MemoryWorkflows {
    async fn seed(&self, ids: &[String], record: &str) -> Result<(), StoreError> {
        let mut inner = self.lock()?;
        for id in ids {
            inner.records.entry(id.clone()).or_insert_with(|| record.to_string());
        }
        inner.version += 1;
        Ok(())
    }

    async fn version(&self) -> Result<u64, StoreError> {
        Ok(self.lock()?.version)
    }

    async fn records(&self) -> Result<BTreeMap<String, String>, StoreError> {
        Ok(self.lock()?.records.clone())
    }

    async fn replace(&self, id: &str, before: &str, after: &str, audit: &str) -> Result<bool, StoreError> {
        let mut inner = self.lock()?;
        if inner.records.get(id).map_or("", String::as_str) != before {
            return Ok(false);
        }
        inner.records.insert(id.to_string(), after.to_string());
        inner.audit.push(audit.to_string());
        inner.version += 1;
        Ok(true)
    }

    async fn audit(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        Ok(self.lock()?.audit.iter().rev().take(limit).cloned().collect())
    }

    async fn push_outcome(&self, id: &str, approved: bool, window: u32) -> Result<Vec<bool>, StoreError> {
        let mut inner = self.lock()?;
        let list = inner.outcomes.entry(id.to_string()).or_default();
        list.insert(0, approved);
        list.truncate(window as usize);
        Ok(list.clone())
    }

    async fn clear_outcomes(&self, id: &str) -> Result<(), StoreError> {
        self.lock()?.outcomes.remove(id);
        Ok(())
    }
}
