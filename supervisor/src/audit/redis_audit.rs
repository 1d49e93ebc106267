//! The audit log in Redis: two capped streams, `audit:actions` and `audit:denied` (with the
//! configured prefix), each entry one field `r` holding the record's JSON; the stream id is the
//! record's `audit_id`, so pages are `XREVRANGE` from an exclusive id.

use super::{AccessRecord, AuditLog, Stream};
use crate::store::StoreError;
use async_trait::async_trait;
use redis::aio::ConnectionManager;

/// Records kept per stream (roughly: trimming is `MAXLEN ~`). `audit.trail` keeps them all.
pub const KEEP_ACTIONS: usize = 100_000;
pub const KEEP_DENIED: usize = 20_000;

pub struct RedisAudit {
    conn: ConnectionManager,
    prefix: String,
}

impl RedisAudit {
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        Self { conn, prefix: prefix.to_string() }
    }

    fn key(&self, s: Stream) -> String {
        format!("{}audit:{}", self.prefix, s.as_str())
    }
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

#[async_trait]
impl AuditLog for RedisAudit {
    async fn append(&self, stream: Stream, record: &AccessRecord) -> Result<String, StoreError> {
        let keep = match stream {
            Stream::Actions => KEEP_ACTIONS,
            Stream::Denied => KEEP_DENIED,
        };
        let json = serde_json::to_string(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut conn = self.conn.clone();
        redis::cmd("XADD")
            .arg(self.key(stream))
            .arg("MAXLEN")
            .arg("~")
            .arg(keep)
            .arg("*")
            .arg("r")
            .arg(json)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn page(
        &self,
        stream: Stream,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AccessRecord>, StoreError> {
        // Nothing is before the first possible id (and Redis refuses `(0-0` as an end).
        let first = |b: &str| b.split('-').all(|part| part.bytes().all(|c| c == b'0'));
        if before.is_some_and(first) {
            return Ok(Vec::new());
        }
        let end = before.map_or_else(|| "+".to_string(), |b| format!("({b}"));
        let mut conn = self.conn.clone();
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XREVRANGE")
            .arg(self.key(stream))
            .arg(end)
            .arg("-")
            .arg("COUNT")
            .arg(limit)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        entries
            .into_iter()
            .map(|(id, fields)| {
                let raw = fields.into_iter().find(|(k, _)| k == "r").map(|(_, v)| v).unwrap_or_default();
                let mut r: AccessRecord =
                    serde_json::from_str(&raw).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                r.audit_id = id;
                Ok(r)
            })
            .collect()
    }
}
