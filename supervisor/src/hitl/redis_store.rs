//! Decisions in Redis. Parking is one Lua script (atomic; redis-rs reloads it after NOSCRIPT,
//! e.g. after a Redis restart): the task's decision pointer, the decision document and its
//! entry in the pending index (a sorted set scored by deadline) are written together, or
//! not at all when the task already has a decision.
//!
//! Keys (with the configured prefix): `decision:<id>` (JSON), `task:<task_id>:decision` (id),
//! `pending` (sorted set of ids by expires_at_ms).

use super::{DecisionStore, Parked, PendingDecision, StoreError};
use async_trait::async_trait;
use redis::aio::ConnectionManager;
use std::time::Duration;

const PARK: &str = r"
local existing = redis.call('GET', KEYS[1])
if existing then return {0, existing} end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
return {1, ARGV[1]}
";

pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    park: redis::Script,
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl RedisStore {
    pub async fn connect(url: &str, prefix: &str, timeout: Duration) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let conn = tokio::time::timeout(timeout, ConnectionManager::new_with_config(client, config))
            .await
            .map_err(|_| StoreError::Unavailable(format!("no answer within {timeout:?}")))?
            .map_err(unavailable)?;
        Ok(Self { conn, prefix: prefix.to_string(), park: redis::Script::new(PARK) })
    }

    /// The multiplexed connection (it reconnects by itself), for other Redis users to share.
    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }
}

#[async_trait]
impl DecisionStore for RedisStore {
    async fn park(&self, decision: &PendingDecision, retention: Duration) -> Result<Parked, StoreError> {
        let json = serde_json::to_string(decision).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut conn = self.conn.clone();
        let (created, id): (i64, String) = self
            .park
            .key(self.key(&format!("task:{}:decision", decision.task_id)))
            .key(self.key(&format!("decision:{}", decision.decision_id)))
            .key(self.key("pending"))
            .arg(&decision.decision_id)
            .arg(json)
            .arg(retention.as_secs().max(1))
            .arg(decision.expires_at_ms)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(if created == 1 { Parked::New(id) } else { Parked::Existing(id) })
    }

    async fn get(&self, decision_id: &str) -> Result<Option<PendingDecision>, StoreError> {
        let mut conn = self.conn.clone();
        let json: Option<String> = redis::cmd("GET")
            .arg(self.key(&format!("decision:{decision_id}")))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        json.map(|j| serde_json::from_str(&j).map_err(|e| StoreError::Corrupt(e.to_string()))).transpose()
    }

    async fn pending_ids(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("ZRANGE")
            .arg(self.key("pending"))
            .arg(0)
            .arg(limit.saturating_sub(1) as i64)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("PING").query_async::<String>(&mut conn).await.map(|_| ()).map_err(unavailable)
    }
}
