//! The decision outbox in Redis: `outbox` (a sorted set of decided ids by decision time, until
//! their effects are durable) and `outbox:lease:<id>` (the token of the one run that may work
//! on a decision now, with a TTL). Renewing, releasing, marking an effect and leaving the
//! outbox are Lua scripts that first check the caller still holds the lease
//! (`redis_scripts.rs`).

use super::redis_store::{unavailable, RedisStore};
use super::{Outbox, StoreError};
use async_trait::async_trait;
use std::time::Duration;

#[async_trait]
impl Outbox for RedisStore {
    async fn outbox_due(&self, before_ms: u64, limit: usize) -> Result<Vec<String>, StoreError> {
        self.scored_up_to("outbox", before_ms, limit).await
    }

    async fn outbox_lease(&self, decision_id: &str, lease: Duration) -> Result<Option<String>, StoreError> {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let mut conn = self.conn.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(self.lease_key(decision_id))
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(lease.as_millis().max(1) as u64)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(set.map(|_| token))
    }

    async fn outbox_renew(
        &self,
        decision_id: &str,
        token: &str,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        self.renew
            .key(self.lease_key(decision_id))
            .arg(token)
            .arg(lease.as_millis().max(1) as u64)
            .invoke_async::<i64>(&mut conn)
            .await
            .map(|n| n == 1)
            .map_err(unavailable)
    }

    async fn outbox_release(&self, decision_id: &str, token: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        self.release
            .key(self.lease_key(decision_id))
            .arg(token)
            .invoke_async::<i64>(&mut conn)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn effect_done(&self, decision_id: &str, effect: &str, token: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        self.mark
            .key(self.lease_key(decision_id))
            .key(self.key(&format!("decision:{decision_id}")))
            .arg(token)
            .arg(effect)
            .arg(crate::events::event::now())
            .invoke_async::<i64>(&mut conn)
            .await
            .map(|n| n == 1)
            .map_err(unavailable)
    }

    async fn outbox_done(&self, decision_id: &str, token: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        self.done
            .key(self.lease_key(decision_id))
            .key(self.key("outbox"))
            .arg(token)
            .arg(decision_id)
            .invoke_async::<i64>(&mut conn)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}
