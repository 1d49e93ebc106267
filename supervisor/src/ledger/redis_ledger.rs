//! The ledger in Redis: `outcome:<task_id>` holds `claimed` (with the lease as its TTL) or
//! `done:<outcome>` (with the retention as its TTL). Claiming is one Lua script.

use super::{Claim, Ledger};
use crate::hitl::StoreError;
use async_trait::async_trait;
use redis::aio::ConnectionManager;
use std::time::Duration;

const CLAIM: &str = r"
local v = redis.call('GET', KEYS[1])
if v then
  if string.sub(v, 1, 5) == 'done:' then return v end
  if ARGV[2] ~= '1' then return 'busy' end
end
redis.call('SET', KEYS[1], 'claimed', 'PX', ARGV[1])
return 'claimed'
";

const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == 'claimed' then return redis.call('DEL', KEYS[1]) end
return 0
";

pub struct RedisLedger {
    conn: ConnectionManager,
    prefix: String,
    claim: redis::Script,
    release: redis::Script,
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl RedisLedger {
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        Self {
            conn,
            prefix: prefix.to_string(),
            claim: redis::Script::new(CLAIM),
            release: redis::Script::new(RELEASE),
        }
    }

    fn key(&self, task_id: &str) -> String {
        format!("{}outcome:{task_id}", self.prefix)
    }
}

#[async_trait]
impl Ledger for RedisLedger {
    async fn claim(&self, task_id: &str, lease: Duration, takeover: bool) -> Result<Claim, StoreError> {
        let mut conn = self.conn.clone();
        let answer: String = self
            .claim
            .key(self.key(task_id))
            .arg(lease.as_millis().max(1) as u64)
            .arg(if takeover { "1" } else { "0" })
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(match answer.as_str() {
            "claimed" => Claim::Claimed,
            "busy" => Claim::Busy,
            done => Claim::Done(done.trim_start_matches("done:").to_string()),
        })
    }

    async fn record(&self, task_id: &str, outcome: &str, retention: Duration) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(self.key(task_id))
            .arg(format!("done:{outcome}"))
            .arg("EX")
            .arg(retention.as_secs().max(1))
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn release(&self, task_id: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        self.release
            .key(self.key(task_id))
            .invoke_async::<i64>(&mut conn)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn forget(&self, task_id: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("DEL")
            .arg(self.key(task_id))
            .query_async::<i64>(&mut conn)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }
}
