//! Onboarding sessions: Redis (`onboarding:<session_id>`, JSON, kept for the workflow's pending
//! TTL plus the history period) in production, memory in tests and the demo.

use crate::hitl::StoreError;
use async_trait::async_trait;
use overseer_agents::onboarding::OnboardingRequest;
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
    pub recommendations: Vec<String>,
    pub next_steps: Vec<String>,
    pub estimated_timeline: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hitl_decision_id: Option<String>,
    pub created_at: String,
    pub request: OnboardingRequest,
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn put(&self, session: &Session, keep: Duration) -> Result<(), StoreError>;
    async fn get(&self, session_id: &str) -> Result<Option<Session>, StoreError>;
}

pub struct RedisSessions {
    conn: ConnectionManager,
    prefix: String,
}

impl RedisSessions {
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        Self { conn, prefix: prefix.to_string() }
    }
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
}

#[derive(Debug, Default)]
pub struct MemorySessions {
    sessions: Mutex<HashMap<String, Session>>,
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
}
