//! Workflow changes in Redis. Keys (with the configured prefix): `workflows` (a hash: workflow
//! id → JSON of its runtime changes), `workflows:version` (a counter every change moves; the
//! replicas poll it), `adaptive:<id>` (the adaptive level's rolling window of human decisions,
//! 1 = approved, newest first), `audit` (a list of audit entries, newest first, capped). A change is one
//! Lua compare-and-set that also appends the audit entry and moves the version, so a change
//! without its audit entry cannot exist.

use super::WorkflowStore;
use crate::store::StoreError;
use async_trait::async_trait;
use redis::aio::ConnectionManager;
use std::collections::BTreeMap;

/// Audit entries kept in Redis (the `audit.trail` topic keeps them all).
const AUDIT_KEEP: usize = 10_000;

const SEED: &str = r"
local added = 0
for i = 1, #ARGV - 1 do
  added = added + redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[#ARGV])
end
if added > 0 then redis.call('INCR', KEYS[2]) end
return added
";

const REPLACE: &str = r"
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if current ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('LPUSH', KEYS[3], ARGV[4])
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[5]) - 1)
redis.call('INCR', KEYS[2])
return 1
";

pub struct RedisWorkflows {
    conn: ConnectionManager,
    prefix: String,
    seed: redis::Script,
    replace: redis::Script,
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl RedisWorkflows {
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        Self {
            conn,
            prefix: prefix.to_string(),
            seed: redis::Script::new(SEED),
            replace: redis::Script::new(REPLACE),
        }
    }

    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }
}

#[async_trait]
impl WorkflowStore for RedisWorkflows {
    async fn seed(&self, ids: &[String], record: &str) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        let mut call = self.seed.key(self.key("workflows"));
        call.key(self.key("workflows:version"));
        for id in ids {
            call.arg(id);
        }
        call.arg(record);
        call.invoke_async::<i64>(&mut conn).await.map(|_| ()).map_err(unavailable)
    }

    async fn version(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        let v: Option<u64> = redis::cmd("GET")
            .arg(self.key("workflows:version"))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(v.unwrap_or(0))
    }

    async fn records(&self) -> Result<BTreeMap<String, String>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("HGETALL").arg(self.key("workflows")).query_async(&mut conn).await.map_err(unavailable)
    }

    async fn replace(&self, id: &str, before: &str, after: &str, audit: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let done: i64 = self
            .replace
            .key(self.key("workflows"))
            .key(self.key("workflows:version"))
            .key(self.key("audit"))
            .arg(id)
            .arg(before)
            .arg(after)
            .arg(audit)
            .arg(AUDIT_KEEP)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(done == 1)
    }

    async fn push_outcome(&self, id: &str, approved: bool, window: u32) -> Result<Vec<bool>, StoreError> {
        let mut conn = self.conn.clone();
        let key = self.key(&format!("adaptive:{id}"));
        let (list,): (Vec<String>,) = redis::pipe()
            .atomic()
            .cmd("LPUSH")
            .arg(&key)
            .arg(u8::from(approved))
            .ignore()
            .cmd("LTRIM")
            .arg(&key)
            .arg(0)
            .arg(window.max(1) - 1)
            .ignore()
            .cmd("LRANGE")
            .arg(&key)
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(list.into_iter().map(|v| v == "1").collect())
    }

    async fn clear_outcomes(&self, id: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("DEL")
            .arg(self.key(&format!("adaptive:{id}")))
            .query_async::<i64>(&mut conn)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn audit(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        redis::cmd("LRANGE")
            .arg(self.key("audit"))
            .arg(0)
            .arg(limit - 1)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)
    }
}
