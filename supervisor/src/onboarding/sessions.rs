//! Onboarding sessions: Redis (`onboarding:<session_id>`, JSON, kept for the workflow's pending
//! TTL plus the history period) in production, memory in tests and the demo. Beside them, the
//! figures of every session ever started (`onboarding:stats`, a hash all replicas add to):
//! how many, their confidence (sum, min, max), how many scored high and how many went to a
//! person.

use crate::hitl::StoreError;
use async_trait::async_trait;
use overseer_agents::onboarding::{OnboardingRequest, Recommendation};
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// One lead's session as stored when it started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub session_id: String,
    /// `completed` or `pending_approval` when it started.
    pub status: String,
    pub confidence: f64,
    pub recommendations: Vec<Recommendation>,
    pub next_steps: Vec<String>,
    pub estimated_timeline: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hitl_decision_id: Option<String>,
    pub created_at: String,
    pub request: OnboardingRequest,
}

/// The figures of every session started, across replicas.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionStats {
    pub total: u64,
    pub confidence_sum: f64,
    pub min_confidence: Option<f64>,
    pub max_confidence: Option<f64>,
    /// Scored at or above the workflow's threshold when they started.
    pub high_confidence: u64,
    /// Parked for a person.
    pub requiring_hitl: u64,
    /// Completed without a person.
    pub completed_autonomously: u64,
}

/// What one started session adds to the figures.
#[derive(Debug, Clone, Copy)]
pub struct Started {
    pub confidence: f64,
    pub high: bool,
    pub parked: bool,
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn put(&self, session: &Session, keep: Duration) -> Result<(), StoreError>;
    async fn get(&self, session_id: &str) -> Result<Option<Session>, StoreError>;
    /// Adds a started session to the figures.
    async fn count(&self, started: Started) -> Result<(), StoreError>;
    async fn stats(&self) -> Result<SessionStats, StoreError>;
}

/// Adds one session to `onboarding:stats` atomically (min and max need a compare).
const COUNT: &str = r"
local c = tonumber(ARGV[1])
redis.call('HINCRBY', KEYS[1], 'total', 1)
redis.call('HINCRBYFLOAT', KEYS[1], 'sum', ARGV[1])
local min = tonumber(redis.call('HGET', KEYS[1], 'min'))
if (not min) or c < min then redis.call('HSET', KEYS[1], 'min', ARGV[1]) end
local max = tonumber(redis.call('HGET', KEYS[1], 'max'))
if (not max) or c > max then redis.call('HSET', KEYS[1], 'max', ARGV[1]) end
if ARGV[2] == '1' then redis.call('HINCRBY', KEYS[1], 'high', 1) end
if ARGV[3] == '1' then redis.call('HINCRBY', KEYS[1], 'hitl', 1) else redis.call('HINCRBY', KEYS[1], 'autonomous', 1) end
return 1
";

pub struct RedisSessions {
    conn: ConnectionManager,
    prefix: String,
    count: redis::Script,
}

impl RedisSessions {
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        Self { conn, prefix: prefix.to_string(), count: redis::Script::new(COUNT) }
    }
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

#[async_trait]
impl SessionStore for RedisSessions {
    async fn put(&self, session: &Session, keep: Duration) -> Result<(), StoreError> {
        let json = serde_json::to_string(session).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(format!("{}onboarding:{}", self.prefix, session.session_id))
            .arg(json)
            .arg("EX")
            .arg(keep.as_secs().max(1))
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    }

    async fn get(&self, session_id: &str) -> Result<Option<Session>, StoreError> {
        let mut conn = self.conn.clone();
        let raw: Option<String> = redis::cmd("GET")
            .arg(format!("{}onboarding:{session_id}", self.prefix))
            .query_async(&mut conn)
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        raw.map(|r| serde_json::from_str(&r).map_err(|e| StoreError::Corrupt(e.to_string()))).transpose()
    }

    async fn count(&self, started: Started) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        self.count
            .key(format!("{}onboarding:stats", self.prefix))
            .arg(started.confidence)
            .arg(if started.high { "1" } else { "0" })
            .arg(if started.parked { "1" } else { "0" })
            .invoke_async::<i64>(&mut conn)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn stats(&self) -> Result<SessionStats, StoreError> {
        let mut conn = self.conn.clone();
        let raw: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(format!("{}onboarding:stats", self.prefix))
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let int = |k: &str| raw.get(k).and_then(|v| v.parse().ok()).unwrap_or(0);
        let float = |k: &str| raw.get(k).and_then(|v| v.parse::<f64>().ok());
        Ok(SessionStats {
            total: int("total"),
            confidence_sum: float("sum").unwrap_or(0.0),
            min_confidence: float("min"),
            max_confidence: float("max"),
            high_confidence: int("high"),
            requiring_hitl: int("hitl"),
            completed_autonomously: int("autonomous"),
        })
    }
}

#[derive(Debug, Default)]
pub struct MemorySessions {
    sessions: Mutex<HashMap<String, Session>>,
    stats: Mutex<SessionStats>,
}

#[async_trait]
impl SessionStore for MemorySessions {
    async fn put(&self, session: &Session, _keep: Duration) -> Result<(), StoreError> {
        let mut all = self.sessions.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        all.insert(session.session_id.clone(), session.clone());
        Ok(())
    }

    async fn get(&self, session_id: &str) -> Result<Option<Session>, StoreError> {
        let all = self.sessions.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        Ok(all.get(session_id).cloned())
    }

    async fn count(&self, started: Started) -> Result<(), StoreError> {
        let mut s = self.stats.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        s.total += 1;
        s.confidence_sum += started.confidence;
        s.min_confidence = Some(s.min_confidence.map_or(started.confidence, |m| m.min(started.confidence)));
        s.max_confidence = Some(s.max_confidence.map_or(started.confidence, |m| m.max(started.confidence)));
        s.high_confidence += u64::from(started.high);
        if started.parked {
            s.requiring_hitl += 1;
        } else {
            s.completed_autonomously += 1;
        }
        Ok(())
    }

    async fn stats(&self) -> Result<SessionStats, StoreError> {
        Ok(self.stats.lock().map_err(|_| StoreError::Unavailable("poisoned".into()))?.clone())
    }
}
