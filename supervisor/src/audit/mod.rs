//! The access audit: every mutating request and every authentication or authorization failure
//! (who, with which role, what, on which target, before/after where known, from where, when,
//! the outcome; never a token). Each record goes to a queryable [`AuditLog`] (Redis streams in
//! production, memory in tests) and to `audit.trail` as an `audit.access` event.
//!
//! Two streams, each capped: `actions` (requests by verified callers) and `denied`
//! (authentication and authorization failures). A flood of bad requests only rotates `denied`
//! (and an address past its failed-authentication pace stops reaching it at all), so it cannot
//! flush the record of what verified people did; verified callers are rate-limited per subject.

pub mod memory;
pub mod redis_audit;

use crate::events::contract::{About, AuditAccess, Envelope};
use crate::events::event::topic;
use crate::events::EventSink;
use crate::store::StoreError;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

/// Which stream a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// What verified callers did (and what was refused to them for bad input).
    Actions,
    /// Requests refused for missing or bad credentials or a missing role.
    Denied,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Actions => "actions",
            Self::Denied => "denied",
        }
    }
}

/// One audited request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessRecord {
    /// The record's position in its stream (set when stored).
    #[serde(default)]
    pub audit_id: String,
    /// RFC 3339 time of the request.
    pub at: String,
    /// The verified subject (none when the credentials did not verify).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Method and route, e.g. `POST /api/brain/hitl/decisions/{id}/approve`.
    pub action: String,
    /// The concrete path acted on.
    pub target: String,
    /// `ok`, `refused` (4xx), `failed` (5xx), `unauthenticated` or `forbidden`.
    pub outcome: String,
    pub status: u16,
    /// Why it was refused (a short code or the answer's detail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    /// The client address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

/// What a handler adds to its request's audit record (as a response extension).
#[derive(Debug, Clone, Default)]
pub struct AuditDetail {
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Where records are kept, newest readable first.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends a record; returns its id.
    async fn append(&self, stream: Stream, record: &AccessRecord) -> Result<String, StoreError>;
    /// Records older than `before` (an id; none: from the newest), newest first.
    async fn page(
        &self,
        stream: Stream,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AccessRecord>, StoreError>;
}

/// A query of the audit log.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub subject: Option<String>,
    pub outcome: Option<String>,
    /// A part of the action, e.g. `approve` or `/workflows/`.
    pub action: Option<String>,
    /// RFC 3339 bounds (inclusive), compared as text (all records use one format).
    pub since: Option<String>,
    pub until: Option<String>,
}

impl Filter {
    fn keeps(&self, r: &AccessRecord) -> bool {
        self.subject.as_ref().is_none_or(|s| r.subject.as_ref() == Some(s))
            && self.outcome.as_ref().is_none_or(|o| &r.outcome == o)
            && self.action.as_ref().is_none_or(|a| r.action.contains(a.as_str()))
            && self.since.as_ref().is_none_or(|s| r.at.as_str() >= s.as_str())
            && self.until.as_ref().is_none_or(|u| r.at.as_str() <= u.as_str())
    }
}

/// Most records one query reads, whatever its filter matches (a bounded amount of work).
pub const MAX_SCAN: usize = 5_000;

/// A page of matching records (newest first) and the cursor of the next page, reading at most
/// [`MAX_SCAN`] records.
pub async fn query(
    log: &dyn AuditLog,
    stream: Stream,
    filter: &Filter,
    before: Option<String>,
    limit: usize,
) -> Result<(Vec<AccessRecord>, Option<String>), StoreError> {
    let mut out = Vec::new();
    let mut cursor = before;
    let mut scanned = 0;
    let batch = 500;
    while out.len() < limit && scanned < MAX_SCAN {
        let page = log.page(stream, cursor.as_deref(), batch).await?;
        let done = page.len() < batch;
        for r in page {
            scanned += 1;
            cursor = Some(r.audit_id.clone());
            if filter.keeps(&r) {
                out.push(r);
                if out.len() == limit {
                    return Ok((out, cursor));
                }
            }
        }
        if done {
            return Ok((out, None));
        }
    }
    Ok((out, cursor))
}

/// Records to the log and to `audit.trail`.
pub struct Auditor {
    pub log: Arc<dyn AuditLog>,
    pub sink: Option<Arc<dyn EventSink>>,
}

impl Auditor {
    /// Stores the record (awaited) and publishes it (in the background). A store failure is
    /// logged, not answered: the request's own outcome stands.
    pub async fn record(&self, stream: Stream, mut record: AccessRecord) {
        match self.log.append(stream, &record).await {
            Ok(id) => record.audit_id = id,
            Err(e) => {
                tracing::warn!(error = %e, action = %record.action, "audit record not stored; it still goes to audit.trail")
            }
        }
        let Some(sink) = self.sink.clone() else { return };
        let key = record.subject.clone().unwrap_or_else(|| "unauthenticated".into());
        let event = AuditAccess {
            envelope: Envelope::about("audit.access", About::Itself {}),
            record,
            stream: stream.as_str(),
        };
        tokio::spawn(async move {
            if let Err(e) = crate::events::publish(sink.as_ref(), topic::AUDIT, &key, &event).await {
                tracing::warn!(error = %e, "audit.access event not delivered; the record is in the audit log");
            }
        });
    }
}
