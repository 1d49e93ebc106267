//! The cluster's desired queue state, remembered in Redis: one hash per queue,
//! `control:queue:<queue>` (with the configured prefix), holding only what an operator changed
//! for the whole cluster (`paused`, `concurrency`, `prefetch`) and who changed it last, when.
//! Each field is written on its own (HSET), so two operators changing different things of one
//! queue do not undo each other. Every replica applies it at start, before it consumes (so a
//! replica started later comes up paused or scaled as the cluster is), and follows changes
//! (actors::control_watcher). Clearing a queue's record leaves only who cleared it and when:
//! every replica then goes back to its configuration.

use super::{Desired, MAX_CONCURRENCY};
use crate::store::StoreError;
use async_trait::async_trait;
use redis::aio::ConnectionManager;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// What the cluster asks of one queue beyond its configuration, and who asked last.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Override {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefetch: Option<u16>,
    /// The verified subject of the last change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// When (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

impl Override {
    /// `desired` with what this override sets (concurrency before prefetch, as [`Change::apply`]
    /// raises the prefetch with the concurrency and an explicit prefetch then stands).
    /// Asks nothing (never set, or cleared): the configuration stands.
    pub fn is_cleared(&self) -> bool {
        self.paused.is_none() && self.concurrency.is_none() && self.prefetch.is_none()
    }

    pub fn applied_to(&self, mut desired: Desired) -> Desired {
        let changes = [
            self.paused.map(Change::Paused),
            self.concurrency.map(Change::Concurrency),
            self.prefetch.map(Change::Prefetch),
        ];
        changes.iter().flatten().for_each(|c| c.apply(&mut desired));
        desired
    }

    fn from_fields(fields: &HashMap<String, String>) -> Self {
        Self {
            paused: fields.get("paused").map(|v| v == "true"),
            concurrency: fields.get("concurrency").and_then(|v| v.parse().ok()),
            prefetch: fields.get("prefetch").and_then(|v| v.parse().ok()),
            by: fields.get("by").cloned(),
            at: fields.get("at").cloned(),
        }
    }
}

/// One change an operator makes for the whole cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Paused(bool),
    Concurrency(usize),
    Prefetch(u16),
}

impl Change {
    /// A new concurrency, checked (1..[`MAX_CONCURRENCY`]).
    pub fn concurrency(value: u64) -> Result<Self, String> {
        usize::try_from(value)
            .ok()
            .filter(|n| (1..=MAX_CONCURRENCY).contains(n))
            .map(Self::Concurrency)
            .ok_or_else(|| format!("concurrency must be 1..{MAX_CONCURRENCY}"))
    }

    /// A new prefetch, checked (1..65535).
    pub fn prefetch(value: u64) -> Result<Self, String> {
        u16::try_from(value)
            .ok()
            .filter(|n| *n >= 1)
            .map(Self::Prefetch)
            .ok_or_else(|| "prefetch must be 1..65535".to_string())
    }

    /// The change made to `desired`. A concurrency raises the prefetch to it when lower (see
    /// [`Desired::scale_to`]) and pins it: autoscaling leaves it alone until cleared.
    pub fn apply(&self, desired: &mut Desired) {
        match *self {
            Self::Paused(p) => desired.paused = p,
            Self::Concurrency(n) => {
                desired.scale_to(n);
                desired.pinned = true;
            }
            Self::Prefetch(p) => desired.prefetch = p,
        }
    }

    fn field(&self) -> (&'static str, String) {
        match self {
            Self::Paused(p) => ("paused", p.to_string()),
            Self::Concurrency(c) => ("concurrency", c.to_string()),
            Self::Prefetch(p) => ("prefetch", p.to_string()),
        }
    }
}

/// Remembers `changes` to `queue` in `store`, by `by`, now.
pub async fn remember_now(
    store: &dyn RememberedControl,
    queue: &str,
    changes: &[Change],
    by: &str,
) -> Result<(), StoreError> {
    store.remember(queue, changes, by, &stamp()).await
}

/// Clears what the cluster asks of `queue`, by `by`, now.
pub async fn clear_now(store: &dyn RememberedControl, queue: &str, by: &str) -> Result<(), StoreError> {
    store.clear(queue, by, &stamp()).await
}

fn stamp() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

#[async_trait]
pub trait RememberedControl: Send + Sync {
    /// The overrides of these queues (queues without one are left out).
    async fn load(&self, queues: &[String]) -> Result<BTreeMap<String, Override>, StoreError>;
    /// Remembers `changes` to `queue`, by `by` at `at`.
    async fn remember(&self, queue: &str, changes: &[Change], by: &str, at: &str) -> Result<(), StoreError>;
    /// Drops every change to `queue`, keeping who cleared it (`by`) and when (`at`).
    async fn clear(&self, queue: &str, by: &str, at: &str) -> Result<(), StoreError>;
    /// Notes that `replica` was alive at `at_ms` (the replica registry).
    async fn heartbeat(&self, replica: &str, at_ms: u64) -> Result<(), StoreError>;
    /// Every replica noted, with when it was last alive (Unix ms).
    async fn replicas(&self) -> Result<BTreeMap<String, u64>, StoreError>;
    /// Takes a replica that stopped on purpose out of the registry.
    async fn forget_replica(&self, replica: &str) -> Result<(), StoreError>;
}

pub struct RedisControl {
    conn: ConnectionManager,
    prefix: String,
}

impl RedisControl {
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        Self { conn, prefix: prefix.to_string() }
    }

    fn key(&self, queue: &str) -> String {
        format!("{}control:queue:{queue}", self.prefix)
    }

    fn replicas_key(&self) -> String {
        format!("{}control:replicas", self.prefix)
    }
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

#[async_trait]
impl RememberedControl for RedisControl {
    async fn load(&self, queues: &[String]) -> Result<BTreeMap<String, Override>, StoreError> {
        let mut pipe = redis::pipe();
        for q in queues {
            pipe.hgetall(self.key(q));
        }
        let mut conn = self.conn.clone();
        let all: Vec<HashMap<String, String>> = pipe.query_async(&mut conn).await.map_err(unavailable)?;
        Ok(queues
            .iter()
            .zip(all)
            .filter(|(_, fields)| !fields.is_empty())
            .map(|(q, fields)| (q.clone(), Override::from_fields(&fields)))
            .collect())
    }

    async fn remember(&self, queue: &str, changes: &[Change], by: &str, at: &str) -> Result<(), StoreError> {
        let mut fields: Vec<(&str, String)> = changes.iter().map(Change::field).collect();
        fields.push(("by", by.to_string()));
        fields.push(("at", at.to_string()));
        let mut conn = self.conn.clone();
        redis::cmd("HSET")
            .arg(self.key(queue))
            .arg(fields)
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn clear(&self, queue: &str, by: &str, at: &str) -> Result<(), StoreError> {
        let key = self.key(queue);
        let mut conn = self.conn.clone();
        redis::pipe()
            .atomic()
            .del(&key)
            .hset_multiple(&key, &[("by", by), ("at", at)])
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn forget_replica(&self, replica: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("HDEL")
            .arg(self.replicas_key())
            .arg(replica)
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn heartbeat(&self, replica: &str, at_ms: u64) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let key = self.replicas_key();
        redis::cmd("HSET")
            .arg(key)
            .arg(replica)
            .arg(at_ms)
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn replicas(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        let mut conn = self.conn.clone();
        let key = self.replicas_key();
        let all: HashMap<String, u64> =
            redis::cmd("HGETALL").arg(key).query_async(&mut conn).await.map_err(unavailable)?;
        Ok(all.into_iter().collect())
    }
}

/// The same in memory (unit tests, one process).
#[derive(Default)]
pub struct MemoryControl {
    queues: Mutex<BTreeMap<String, HashMap<String, String>>>,
    replicas: Mutex<BTreeMap<String, u64>>,
}

#[async_trait]
impl RememberedControl for MemoryControl {
    async fn load(&self, queues: &[String]) -> Result<BTreeMap<String, Override>, StoreError> {
        let all = self.queues.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        Ok(queues.iter().filter_map(|q| all.get(q).map(|f| (q.clone(), Override::from_fields(f)))).collect())
    }

    async fn remember(&self, queue: &str, changes: &[Change], by: &str, at: &str) -> Result<(), StoreError> {
        let mut all = self.queues.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        let fields = all.entry(queue.to_string()).or_default();
        for c in changes {
            let (k, v) = c.field();
            fields.insert(k.into(), v);
        }
        fields.insert("by".into(), by.into());
        fields.insert("at".into(), at.into());
        Ok(())
    }

    async fn clear(&self, queue: &str, by: &str, at: &str) -> Result<(), StoreError> {
        let mut all = self.queues.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        all.insert(queue.to_string(), HashMap::from([("by".into(), by.into()), ("at".into(), at.into())]));
        Ok(())
    }

    async fn forget_replica(&self, replica: &str) -> Result<(), StoreError> {
        self.replicas.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?.remove(replica);
        Ok(())
    }

    async fn heartbeat(&self, replica: &str, at_ms: u64) -> Result<(), StoreError> {
        let mut seen = self.replicas.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        seen.insert(replica.to_string(), at_ms);
        Ok(())
    }

    async fn replicas(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        Ok(self.replicas.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn changes_merge_field_by_field_and_apply_over_the_configuration() {
        let store = MemoryControl::default();
        let queues = vec!["q".to_string(), "other".to_string()];
        store.remember("q", &[Change::Paused(true)], "ada", "t1").await.expect("remember");
        store.remember("q", &[Change::Concurrency(4)], "bob", "t2").await.expect("remember");
        let loaded = store.load(&queues).await.expect("load");
        assert_eq!(loaded.len(), 1, "queues nobody changed have no override");
        let o = &loaded["q"];
        assert_eq!(
            (o.paused, o.concurrency, o.prefetch, o.by.as_deref()),
            (Some(true), Some(4), None, Some("bob"))
        );
        let configured = Desired::configured(16, 32);
        let pinned = Desired { paused: true, concurrency: 4, prefetch: 32, pinned: true };
        assert_eq!(o.applied_to(configured), pinned);
        store.clear("q", "cy", "t3").await.expect("clear");
        let cleared = &store.load(&queues).await.expect("load")["q"];
        assert!(cleared.is_cleared() && cleared.by.as_deref() == Some("cy"), "{cleared:?}");
    }
}
