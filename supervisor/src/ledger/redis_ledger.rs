//! The ledger in Redis: `outcome:<task_id>` holds `claimed:<token>` or `committing:<token>`
//! (with the lease as TTL) or `done:<outcome>` (with the retention as TTL). Every transition
//! is one atomic command: a first claim is a plain `SET NX GET` (Redis 7.0 or later), the
//! others Lua scripts (redis-rs reloads scripts after NOSCRIPT). A script costs Redis about
//! 12 µs a call here against about 3 for a `SET` (docs/benchmarks.md, eleventh round), and
//! nearly every claim is a first one.

use super::{token, Claim, Ledger};
use crate::store::StoreError;
use async_trait::async_trait;
use redis::aio::ConnectionManager;
use std::time::Duration;

/// A redelivery's claim: takes over a plain claim, never a commit or an outcome.
const TAKEOVER: &str = r"
local v = redis.call('GET', KEYS[1])
if v then
  if string.sub(v, 1, 5) == 'done:' then return v end
  if string.sub(v, 1, 11) == 'committing:' then return 'busy' end
end
redis.call('SET', KEYS[1], 'claimed:' .. ARGV[2], 'PX', ARGV[1])
return 'claimed'
";

const COMMIT: &str = r"
if redis.call('GET', KEYS[1]) == 'claimed:' .. ARGV[1] then
  redis.call('SET', KEYS[1], 'committing:' .. ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
";

const RELEASE: &str = r"
local v = redis.call('GET', KEYS[1])
if v == 'claimed:' .. ARGV[1] or v == 'committing:' .. ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

pub struct RedisLedger {
    conn: ConnectionManager,
    /// `<prefix>outcome:`, what every key starts with.
    keys: String,
    takeover: redis::Script,
    commit: redis::Script,
    release: redis::Script,
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// What a key's value (or the takeover script's `busy`) says holds the task: an outcome, or
/// another delivery.
fn holder(value: &str) -> Claim {
    match value.strip_prefix("done:") {
        Some(outcome) => Claim::Done(outcome.to_string()),
        None => Claim::Busy,
    }
}

fn millis(d: Duration) -> u64 {
    d.as_millis().max(1) as u64
}

impl RedisLedger {
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        Self {
            conn,
            keys: format!("{prefix}outcome:"),
            takeover: redis::Script::new(TAKEOVER),
            commit: redis::Script::new(COMMIT),
            release: redis::Script::new(RELEASE),
        }
    }

    fn key(&self, task_id: &str) -> String {
        [self.keys.as_str(), task_id].concat()
    }
}

#[async_trait]
impl Ledger for RedisLedger {
    async fn claim(&self, task_id: &str, lease: Duration, takeover: bool) -> Result<Claim, StoreError> {
        let mut conn = self.conn.clone();
        let token = token();
        if !takeover {
            // Set only when absent; the value found, if any, tells what holds the task.
            let found: Option<String> = redis::cmd("SET")
                .arg(self.key(task_id))
                .arg(["claimed:", &token].concat())
                .arg("NX")
                .arg("PX")
                .arg(millis(lease))
                .arg("GET")
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            return Ok(found.map_or(Claim::Claimed(token), |held| holder(&held)));
        }
        let answer: String = self
            .takeover
            .key(self.key(task_id))
            .arg(millis(lease))
            .arg(&token)
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(match answer.as_str() {
            "claimed" => Claim::Claimed(token),
            held => holder(held),
        })
    }

    async fn commit(&self, task_id: &str, token: &str, lease: Duration) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let done: i64 = self
            .commit
            .key(self.key(task_id))
            .arg(token)
            .arg(millis(lease))
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(done == 1)
    }

    async fn record(&self, task_id: &str, outcome: &str, retention: Duration) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(self.key(task_id))
            .arg(["done:", outcome].concat())
            .arg("EX")
            .arg(retention.as_secs().max(1))
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn release(&self, task_id: &str, token: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        self.release
            .key(self.key(task_id))
            .arg(token)
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
