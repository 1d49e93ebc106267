//! Decisions kept in memory, for unit tests and the embedded demo.

use super::{transition, DecisionStore, Parked, PendingDecision, StoreError, Transition, TransitionError};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    decisions: HashMap<String, PendingDecision>,
    by_task: HashMap<String, String>,
}

#[async_trait]
impl DecisionStore for MemoryStore {
    async fn park(&self, decision: &PendingDecision, _retention: Duration) -> Result<Parked, StoreError> {
        let mut inner = self.inner.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        if let Some(existing) = inner.by_task.get(&decision.task_id) {
            return Ok(Parked::Existing(existing.clone()));
        }
        inner.by_task.insert(decision.task_id.clone(), decision.decision_id.clone());
        inner.decisions.insert(decision.decision_id.clone(), decision.clone());
        Ok(Parked::New(decision.decision_id.clone()))
    }

    async fn get(&self, decision_id: &str) -> Result<Option<PendingDecision>, StoreError> {
        let inner = self.inner.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        Ok(inner.decisions.get(decision_id).cloned())
    }

    async fn transition(
        &self,
        decision_id: &str,
        t: &Transition,
    ) -> Result<PendingDecision, TransitionError> {
        let mut inner = self.inner.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        let decision = inner
            .decisions
            .get_mut(decision_id)
            .ok_or_else(|| TransitionError::NotFound(decision_id.to_string()))?;
        transition::apply(decision, t)?;
        Ok(decision.clone())
    }

    async fn due_ids(&self, now_ms: u64, limit: usize) -> Result<Vec<String>, StoreError> {
        let inner = self.inner.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        let mut due: Vec<_> =
            inner.decisions.values().filter(|d| d.status == "pending" && d.expires_at_ms <= now_ms).collect();
        due.sort_by_key(|d| d.expires_at_ms);
        Ok(due.into_iter().take(limit).map(|d| d.decision_id.clone()).collect())
    }

    async fn pending_page(
        &self,
        after: Option<(u64, String)>,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        let inner = self.inner.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        let mut all: Vec<(u64, String)> = inner
            .decisions
            .values()
            .filter(|d| d.status == "pending")
            .map(|d| (d.expires_at_ms, d.decision_id.clone()))
            .collect();
        all.sort();
        Ok(all.into_iter().filter(|p| after.as_ref().is_none_or(|a| p > a)).take(limit).collect())
    }

    async fn get_many(&self, ids: &[String]) -> Result<Vec<PendingDecision>, StoreError> {
        let inner = self.inner.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        Ok(ids.iter().filter_map(|id| inner.decisions.get(id).cloned()).collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
