//! Workflows as they are now: the configured defaults (config/workflows.toml) with the changes
//! people made through the API (toggle, threshold, autonomy) and the adaptive level's moves
//! laid over them. Changes persist in a [`WorkflowStore`] (Redis in production) with an audit
//! entry each (who, from where, before, after); every replica keeps a [`WorkflowRegistry`],
//! a read-only snapshot that the WorkflowWatcher actor refreshes when the store's version
//! moves, so a change made on one replica routes the next task on every replica.

pub mod memory;
pub mod redis_workflows;

use crate::events::contract::{self, About, Envelope, WorkflowChanged};
use crate::store::StoreError;
use async_trait::async_trait;
use overseer_agents::workflow::{AutonomyLevel, WorkflowConfig};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// The fields people change at runtime, as stored (absent = the configured default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Overrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hitl_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence_threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autonomy_level: Option<AutonomyLevel>,
    pub created_at: String,
    pub last_updated: String,
}

/// A workflow as it is now.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    pub id: String,
    pub config: WorkflowConfig,
    pub created_at: String,
    pub last_updated: String,
}

impl Workflow {
    fn from_parts(id: &str, defaults: &WorkflowConfig, o: &Overrides) -> Self {
        let mut config = defaults.clone();
        if let Some(v) = o.hitl_enabled {
            config.hitl_enabled = v;
        }
        if let Some(v) = o.confidence_threshold {
            config.confidence_threshold = v;
        }
        if let Some(v) = o.autonomy_level {
            config.autonomy_level = v;
        }
        Self { id: id.into(), config, created_at: o.created_at.clone(), last_updated: o.last_updated.clone() }
    }

    /// The seed's workflow JSON (workflow_id, hitl_enabled, confidence_threshold,
    /// autonomy_level, service, description, created_at, last_updated) and overseer's extras.
    pub fn view(&self) -> Value {
        let c = &self.config;
        json!({
            "workflow_id": self.id,
            "hitl_enabled": c.hitl_enabled,
            "confidence_threshold": c.confidence_threshold,
            "autonomy_level": c.autonomy_level,
            "autonomy_level_number": c.autonomy_level.level(),
            "service": c.service,
            "description": c.description,
            "created_at": self.created_at,
            "last_updated": self.last_updated,
            "pending_ttl_seconds": c.pending_ttl.as_secs(),
            "expiry_policy": c.expiry_policy,
            "required_approvals": c.required_approvals,
            "approvers": c.approvers,
        })
    }
}

/// One change asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Change {
    Toggle(bool),
    Threshold(f64),
    Autonomy(AutonomyLevel),
}

impl Change {
    pub fn field(&self) -> &'static str {
        match self {
            Self::Toggle(_) => "hitl_enabled",
            Self::Threshold(_) => "confidence_threshold",
            Self::Autonomy(_) => "autonomy_level",
        }
    }
}

/// Who made a change and from where (the audit's subject).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// One audited change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub audit_id: String,
    pub at: String,
    pub by: Actor,
    pub workflow_id: String,
    pub field: String,
    pub before: Value,
    pub after: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error("no workflow `{0}`")]
    Unknown(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the workflow changed concurrently too often; try again")]
    Contended,
    #[error("the threshold moved meanwhile")]
    Moved,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where the changes live.
#[async_trait]
pub trait WorkflowStore: Send + Sync {
    /// Writes `record` for each id that has none (never overwrites a runtime change).
    async fn seed(&self, ids: &[String], record: &str) -> Result<(), StoreError>;
    /// A counter that moves on every change.
    async fn version(&self) -> Result<u64, StoreError>;
    /// Every workflow's stored record (JSON of [`Overrides`]).
    async fn records(&self) -> Result<BTreeMap<String, String>, StoreError>;
    /// Replaces `id`'s record when it is still `before` (compare-and-set), appends `audit`
    /// to the audit log and moves the version; false when `before` no longer holds.
    async fn replace(&self, id: &str, before: &str, after: &str, audit: &str) -> Result<bool, StoreError>;
    /// The newest audit entries (JSON), newest first.
    async fn audit(&self, limit: usize) -> Result<Vec<String>, StoreError>;
    /// Adds one human decision (true = approved) to the workflow's rolling window of `window`
    /// decisions; returns the window, newest first.
    async fn push_outcome(&self, id: &str, approved: bool, window: u32) -> Result<Vec<bool>, StoreError>;
    /// Empties the workflow's window (after the threshold moved).
    async fn clear_outcomes(&self, id: &str) -> Result<(), StoreError>;
}

/// Who the adaptive level's moves are audited as.
pub const ADAPTIVE_ACTOR: &str = "overseer-adaptive";

/// An audit entry as the `audit.trail` event.
pub fn audit_event(entry: &AuditEntry) -> WorkflowChanged {
    WorkflowChanged {
        envelope: Envelope::about(
            "audit.workflow_changed",
            About::Workflow { workflow_id: entry.workflow_id.clone() },
        ),
        audit_id: entry.audit_id.clone(),
        by: contract::Actor { user: Some(entry.by.user.clone()), from: entry.by.from.clone() },
        field: entry.field.clone(),
        before: entry.before.clone(),
        after: entry.after.clone(),
        reason: entry.reason.clone(),
    }
}

/// The live view of the workflows, shared by the pipeline, the sweeper and the API.
pub struct WorkflowRegistry {
    defaults: BTreeMap<String, WorkflowConfig>,
    store: Arc<dyn WorkflowStore>,
    live: RwLock<Arc<BTreeMap<String, Arc<Workflow>>>>,
    version: AtomicU64,
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl WorkflowRegistry {
    /// Seeds the store with the configured workflows and loads the current state.
    pub async fn open(
        defaults: BTreeMap<String, WorkflowConfig>,
        store: Arc<dyn WorkflowStore>,
    ) -> Result<Self, StoreError> {
        let registry = Self {
            defaults,
            store,
            live: RwLock::new(Arc::new(BTreeMap::new())),
            version: AtomicU64::new(u64::MAX),
        };
        registry.seed_and_load().await?;
        Ok(registry)
    }

    /// A registry of the configured defaults over an in-memory store (tests, the demo).
    pub async fn in_memory(defaults: BTreeMap<String, WorkflowConfig>) -> Self {
        let registry = Self {
            defaults,
            store: Arc::new(memory::MemoryWorkflows::default()),
            live: RwLock::new(Arc::new(BTreeMap::new())),
            version: AtomicU64::new(u64::MAX),
        };
        // The memory store does not fail.
        let _ = registry.seed_and_load().await;
        registry
    }

    async fn seed_and_load(&self) -> Result<(), StoreError> {
        let now = crate::events::event::now();
        let fresh = Overrides { created_at: now.clone(), last_updated: now, ..Overrides::default() };
        let ids: Vec<String> = self.defaults.keys().cloned().collect();
        self.store.seed(&ids, &serde_json::to_string(&fresh).map_err(corrupt)?).await?;
        self.refresh().await.map(|_| ())
    }

    /// The workflow as it is now.
    pub fn get(&self, id: &str) -> Option<Arc<Workflow>> {
        self.snapshot().get(id).cloned()
    }

    /// All workflows as they are now.
    pub fn snapshot(&self) -> Arc<BTreeMap<String, Arc<Workflow>>> {
        match self.live.read() {
            Ok(live) => live.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Reloads from the store when its version moved; true when it did.
    pub async fn refresh(&self) -> Result<bool, StoreError> {
        let version = self.store.version().await?;
        if version == self.version.load(Ordering::Acquire) {
            return Ok(false);
        }
        let records = self.store.records().await?;
        let mut next = BTreeMap::new();
        for (id, defaults) in &self.defaults {
            let o: Overrides = match records.get(id) {
                Some(raw) => serde_json::from_str(raw).map_err(corrupt)?,
                None => Overrides::default(),
            };
            next.insert(id.clone(), Arc::new(Workflow::from_parts(id, defaults, &o)));
        }
        match self.live.write() {
            Ok(mut live) => *live = Arc::new(next),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(next),
        }
        self.version.store(version, Ordering::Release);
        Ok(true)
    }

    /// Applies a change (compare-and-set, retried on contention), audited; returns the
    /// audit entry (the caller emits it) and the workflow as changed.
    pub async fn change(
        &self,
        id: &str,
        change: Change,
        by: Actor,
        reason: Option<String>,
    ) -> Result<(AuditEntry, Workflow), ChangeError> {
        self.change_from(id, change, by, reason, None).await
    }

    /// [`change`](Self::change), refused with `Moved` unless the threshold is still `expected`.
    async fn change_from(
        &self,
        id: &str,
        change: Change,
        by: Actor,
        reason: Option<String>,
        expected: Option<f64>,
    ) -> Result<(AuditEntry, Workflow), ChangeError> {
        let defaults = self.defaults.get(id).ok_or_else(|| ChangeError::Unknown(id.to_string()))?;
        if let Change::Threshold(t) = change {
            if !(0.0..=1.0).contains(&t) || !t.is_finite() {
                return Err(ChangeError::Invalid(format!("threshold {t} is outside 0..1")));
            }
        }
        for _ in 0..8 {
            let records = self.store.records().await?;
            let raw_before = records.get(id).cloned().unwrap_or_default();
            let before: Overrides = if raw_before.is_empty() {
                Overrides::default()
            } else {
                serde_json::from_str(&raw_before).map_err(corrupt)?
            };
            let old = Workflow::from_parts(id, defaults, &before);
            if expected.is_some_and(|t| t != old.config.confidence_threshold) {
                return Err(ChangeError::Moved);
            }
            let now = crate::events::event::now();
            let mut after = before.clone();
            if after.created_at.is_empty() {
                after.created_at = now.clone();
            }
            after.last_updated = now.clone();
            let (old_value, new_value) = match change {
                Change::Toggle(v) => {
                    after.hitl_enabled = Some(v);
                    (json!(old.config.hitl_enabled), json!(v))
                }
                Change::Threshold(v) => {
                    after.confidence_threshold = Some(v);
                    (json!(old.config.confidence_threshold), json!(v))
                }
                Change::Autonomy(v) => {
                    after.autonomy_level = Some(v);
                    (json!(old.config.autonomy_level), json!(v))
                }
            };
            let entry = AuditEntry {
                audit_id: uuid::Uuid::new_v4().to_string(),
                at: now,
                by: by.clone(),
                workflow_id: id.to_string(),
                field: change.field().to_string(),
                before: old_value,
                after: new_value,
                reason: reason.clone(),
            };
            let raw_after = serde_json::to_string(&after).map_err(corrupt)?;
            let audit = serde_json::to_string(&entry).map_err(corrupt)?;
            if self.store.replace(id, &raw_before, &raw_after, &audit).await? {
                // This replica sees its own change at once; the others at their next poll.
                self.refresh().await?;
                return Ok((entry, Workflow::from_parts(id, defaults, &after)));
            }
        }
        Err(ChangeError::Contended)
    }

    /// Counts a person's decision for an adaptive workflow and moves its threshold when the
    /// rolling approval rate calls for it (one replica wins a move; the window then starts
    /// afresh). Returns the move's audit entry; nothing for other levels.
    pub async fn record_human_decision(
        &self,
        id: &str,
        approved: bool,
    ) -> Result<Option<AuditEntry>, ChangeError> {
        let Some(current) = self.get(id) else { return Ok(None) };
        if current.config.autonomy_level != AutonomyLevel::Adaptive {
            return Ok(None);
        }
        let rule = &current.config.adaptive;
        let window = self.store.push_outcome(id, approved, rule.window).await?;
        let threshold = current.config.confidence_threshold;
        let Some((next, rate)) = rule.next_threshold(threshold, &window) else { return Ok(None) };
        let reason = format!("approval rate {rate:.2} over the last {} decisions", window.len());
        let by = Actor { user: ADAPTIVE_ACTOR.into(), from: None };
        match self.change_from(id, Change::Threshold(next), by, Some(reason), Some(threshold)).await {
            Ok((entry, _)) => {
                self.store.clear_outcomes(id).await?;
                Ok(Some(entry))
            }
            Err(ChangeError::Moved) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The newest audited changes, newest first.
    pub async fn audit(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.store.audit(limit).await?.iter().map(|raw| serde_json::from_str(raw).map_err(corrupt)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn registry() -> WorkflowRegistry {
        let config = crate::config::Config::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../config"
        )))
        .expect("shipped config loads");
        WorkflowRegistry::in_memory(config.workflows).await
    }

    fn ada() -> Actor {
        Actor { user: "ada".into(), from: Some("127.0.0.1".into()) }
    }

    #[tokio::test]
    async fn changes_lay_over_the_defaults_and_are_audited() {
        let r = registry().await;
        let before = r.get("lead_processing").expect("seeded");
        assert_eq!(before.config.confidence_threshold, 0.85);
        assert!(!before.created_at.is_empty());
        let (entry, after) =
            r.change("lead_processing", Change::Threshold(0.7), ada(), None).await.expect("ok");
        assert_eq!(after.config.confidence_threshold, 0.7);
        assert_eq!(r.get("lead_processing").expect("there").config.confidence_threshold, 0.7);
        assert_eq!((entry.before, entry.after), (json!(0.85), json!(0.7)));
        r.change("lead_processing", Change::Toggle(false), ada(), None).await.expect("ok");
        let now = r.get("lead_processing").expect("there");
        assert!(!now.config.hitl_enabled);
        assert_eq!(now.config.confidence_threshold, 0.7, "earlier change kept");
        assert_eq!(now.config.service, "django-crm", "defaults kept");
        let log = r.audit(10).await.expect("audit");
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].field, "hitl_enabled");
        assert_eq!(log[0].by, ada());
    }

    #[tokio::test]
    async fn an_adaptive_workflow_moves_its_threshold_with_the_approval_rate() {
        let r = registry().await;
        assert_eq!(
            r.record_human_decision("lead_processing", true).await.expect("ok"),
            None,
            "assisted: no move"
        );
        r.change("lead_processing", Change::Autonomy(AutonomyLevel::Adaptive), ada(), None)
            .await
            .expect("ok");
        let window = r.get("lead_processing").expect("there").config.adaptive.min_samples;
        let mut moved = None;
        for _ in 0..window {
            moved = r.record_human_decision("lead_processing", true).await.expect("ok");
        }
        let entry = moved.expect("the last approval moved the threshold");
        assert_eq!(entry.by.user, ADAPTIVE_ACTOR);
        assert_eq!((entry.before.clone(), entry.after.clone()), (json!(0.85), json!(0.83)));
        assert!(entry.reason.as_deref().is_some_and(|r| r.contains("approval rate 1.00")), "{entry:?}");
        assert_eq!(r.get("lead_processing").expect("there").config.confidence_threshold, 0.83);
        assert_eq!(
            r.record_human_decision("lead_processing", true).await.expect("ok"),
            None,
            "a fresh window"
        );
    }

    #[tokio::test]
    async fn bad_changes_are_refused_and_change_nothing() {
        let r = registry().await;
        assert!(matches!(
            r.change("nope", Change::Toggle(true), ada(), None).await,
            Err(ChangeError::Unknown(_))
        ));
        assert!(matches!(
            r.change("lead_processing", Change::Threshold(1.5), ada(), None).await,
            Err(ChangeError::Invalid(_))
        ));
        assert!(r.audit(10).await.expect("audit").is_empty());
    }
}
