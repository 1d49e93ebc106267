//! Decisions kept in memory, for unit tests and the embedded demo.

use super::{
    transition, DecisionIndexes, DecisionStats, Decisions, Outbox, Parked, PendingDecision, StoreError,
    Transition, TransitionError,
};
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
    /// Decided, effects not yet durable: id → decision time (ms).
    outbox: HashMap<String, u64>,
    /// Outbox leases: until when, and the owner's token.
    leases: HashMap<String, (std::time::Instant, String)>,
    /// Decided: (decision time ms, id).
    history: Vec<(u64, String)>,
}

#[async_trait]
impl Decisions for MemoryStore {
    async fn park(&self, decision: &PendingDecision, _retention: Duration) -> Result<Parked, StoreError> {
        let mut inner = self.inner.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        if let Some(existing) = inner.by_task.get(&decision.task_id) {
            return Ok(Parked::Existing(existing.clone()));
        }
        let mut decision = decision.clone();
        while inner.decisions.contains_key(&decision.decision_id) {
            decision = decision.renamed();
        }
        inner.by_task.insert(decision.task_id.clone(), decision.decision_id.clone());
        inner.decisions.insert(decision.decision_id.clone(), decision.clone());
        Ok(Parked::New(decision.decision_id))
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
        let busy = inner.outbox.contains_key(decision_id);
        let decision = inner
            .decisions
            .get_mut(decision_id)
            .ok_or_else(|| TransitionError::NotFound(decision_id.to_string()))?;
        if busy && decision.status == super::Status::Escalated.as_str() {
            return Err(TransitionError::Busy);
        }
        transition::apply(decision, t)?;
        let changed = decision.clone();
        if changed.status != super::Status::Pending.as_str() {
            inner.outbox.insert(decision_id.to_string(), t.now_ms);
            inner.history.push((t.now_ms, decision_id.to_string()));
        }
        Ok(changed)
    }

    async fn get_many(&self, ids: &[String]) -> Result<Vec<PendingDecision>, StoreError> {
        let inner = self.inner.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        Ok(ids.iter().filter_map(|id| inner.decisions.get(id).cloned()).collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn note_notified(
        &self,
        decision_id: &str,
        notified: &super::decision::Notified,
    ) -> Result<(), StoreError> {
        let mut inner = self.inner.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        if let Some(d) = inner.decisions.get_mut(decision_id) {
            d.notified.push(notified.clone());
        }
        Ok(())
    }
}

#[async_trait]
impl DecisionIndexes for MemoryStore {
    async fn due_ids(&self, now_ms: u64, limit: usize) -> Result<Vec<String>, StoreError> {
        let inner = self.inner.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        let mut due: Vec<_> =
            inner.decisions.values().filter(|d| d.status == "pending" && d.expires_at_ms <= now_ms).collect();
        due.sort_by_key(|d| d.expires_at_ms);
        Ok(due.into_iter().take(limit).map(|d| d.decision_id.clone()).collect())
    }

    async fn pending_page(
        &self,
        workflow: Option<&str>,
        after: Option<(u64, String)>,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        let inner = self.inner.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        let mut all: Vec<(u64, String)> = inner
            .decisions
            .values()
            .filter(|d| d.status == "pending" && workflow.is_none_or(|w| w == d.workflow_id))
            .map(|d| (d.expires_at_ms, d.decision_id.clone()))
            .collect();
        all.sort();
        Ok(all.into_iter().filter(|p| after.as_ref().is_none_or(|a| p > a)).take(limit).collect())
    }

    async fn history_page(
        &self,
        before: Option<(u64, String)>,
        limit: usize,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        let inner = self.inner.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        let mut all = inner.history.clone();
        all.sort_by(|a, b| b.cmp(a));
        Ok(all.into_iter().filter(|p| before.as_ref().is_none_or(|b| p < b)).take(limit).collect())
    }

    async fn trim_history(&self, before_ms: u64) -> Result<(), StoreError> {
        let mut inner = self.inner.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        inner.history.retain(|(at, _)| *at >= before_ms);
        Ok(())
    }
}

#[async_trait]
impl DecisionStats for MemoryStore {
    async fn stats(
        &self,
        workflows: &[String],
        samples: bool,
    ) -> Result<std::collections::BTreeMap<String, super::WorkflowStats>, StoreError> {
        let inner = self.inner.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        let ms = |at: &str| humantime::parse_rfc3339(at).map(super::decision::unix_ms).ok();
        let mut out = std::collections::BTreeMap::new();
        for w in workflows {
            let mut s = super::WorkflowStats::default();
            for d in inner.decisions.values().filter(|d| &d.workflow_id == w) {
                if d.status == "pending" {
                    s.pending += 1;
                    let created = ms(&d.created_at);
                    s.oldest_pending_ms = match (s.oldest_pending_ms, created) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                    continue;
                }
                *s.decided.entry(d.status.clone()).or_insert(0) += 1;
                let human = d.status == "approved" || d.status == "rejected";
                if let (true, true, Some(c), Some(at)) =
                    (samples, human, ms(&d.created_at), d.decided_at.as_deref().and_then(ms))
                {
                    s.decision_seconds.push(at.saturating_sub(c) as f64 / 1000.0);
                }
            }
            out.insert(w.clone(), s);
        }
        Ok(out)
    }
}

#[async_trait]
impl Outbox for MemoryStore {
    async fn outbox_due(&self, before_ms: u64, limit: usize) -> Result<Vec<String>, StoreError> {
        let inner = self.inner.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        let mut due: Vec<(u64, String)> = inner
            .outbox
            .iter()
            .filter(|(_, at)| **at <= before_ms)
            .map(|(id, at)| (*at, id.clone()))
            .collect();
        due.sort();
        Ok(due.into_iter().take(limit).map(|(_, id)| id).collect())
    }

    async fn outbox_lease(&self, decision_id: &str, lease: Duration) -> Result<Option<String>, StoreError> {
        let mut inner = self.inner.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        let now = std::time::Instant::now();
        if inner.leases.get(decision_id).is_some_and(|(until, _)| *until > now) {
            return Ok(None);
        }
        let token = uuid::Uuid::new_v4().simple().to_string();
        inner.leases.insert(decision_id.to_string(), (now + lease, token.clone()));
        Ok(Some(token))
    }

    async fn outbox_renew(
        &self,
        decision_id: &str,
        token: &str,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let mut inner = self.inner.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        let now = std::time::Instant::now();
        match inner.leases.get_mut(decision_id) {
            Some((until, held)) if held == token && *until > now => {
                *until = now + lease;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn outbox_release(&self, decision_id: &str, token: &str) -> Result<(), StoreError> {
        let mut inner = self.inner.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        if inner.leases.get(decision_id).is_some_and(|(_, held)| held == token) {
            inner.leases.remove(decision_id);
        }
        Ok(())
    }

    async fn effect_done(&self, decision_id: &str, effect: &str, token: &str) -> Result<bool, StoreError> {
        let mut inner = self.inner.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        let now = std::time::Instant::now();
        if !inner.leases.get(decision_id).is_some_and(|(until, held)| held == token && *until > now) {
            return Ok(false);
        }
        if let Some(d) = inner.decisions.get_mut(decision_id) {
            if !d.effects_done.iter().any(|e| e == effect) {
                d.effects_done.push(effect.to_string());
            }
        }
        Ok(true)
    }

    async fn outbox_done(&self, decision_id: &str, token: &str) -> Result<(), StoreError> {
        let mut inner = self.inner.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        inner.outbox.remove(decision_id);
        if inner.leases.get(decision_id).is_some_and(|(_, held)| held == token) {
            inner.leases.remove(decision_id);
        }
        Ok(())
    }
}
