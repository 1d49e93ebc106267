//! Decision reads: the seed's `GET /api/brain/hitl/decisions/pending` and
//! `GET /api/brain/hitl/decisions/{id}` with its field names (decision_id, workflow_id,
//! confidence, status, created_at, expires_at, decision_data), and `GET /api/hitl/pending` with
//! filters (workflow, confidence range, age) and a cursor that stays stable while decisions
//! come and go (it is a position in the deadline index: `<deadline ms>:<decision id>`).

use super::error::{ApiError, ErrorBody};
use super::times::TimeOrDay;
use super::AppState;
use crate::hitl::PendingDecision;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Most decisions one list returns.
const MAX_LIMIT: usize = 500;

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    limit: Option<usize>,
}

/// A decision as the API shows it: the seed's fields and overseer's, serialized straight from
/// the stored decision (no intermediate JSON tree).
#[derive(Serialize)]
pub(super) struct View<'a> {
    decision_id: &'a str,
    task_id: &'a str,
    workflow_id: &'a str,
    queue: &'a str,
    agent: &'a str,
    confidence: f64,
    confidence_parts: &'a overseer_agents::confidence::Confidence,
    reasons: &'a [String],
    status: &'a str,
    created_at: &'a str,
    expires_at: &'a str,
    payload_hash: &'a str,
    decision_data: &'a Value,
    decided_at: &'a Option<String>,
    decided_by: &'a Option<String>,
    feedback: &'a Option<String>,
    edited: &'a Option<Value>,
    approvals: &'a [String],
    /// Effects of the decision already durable (completion, decision event, audit…).
    effects_done: &'a [String],
    /// Notifications about it that got through: {event, via, at}.
    notified: &'a [crate::hitl::decision::Notified],
}

impl<'a> View<'a> {
    pub(super) fn of(d: &'a PendingDecision) -> Self {
        Self {
            decision_id: &d.decision_id,
            task_id: &d.task_id,
            workflow_id: &d.workflow_id,
            queue: &d.queue,
            agent: &d.agent,
            confidence: d.confidence,
            confidence_parts: &d.confidence_parts,
            reasons: &d.reasons,
            // The seed's clients read `pending_approval` for a decision that waits.
            status: if d.status == "pending" { "pending_approval" } else { &d.status },
            created_at: &d.created_at,
            expires_at: &d.expires_at,
            payload_hash: &d.payload_hash,
            decision_data: &d.decision_data,
            decided_at: &d.decided_at,
            decided_by: &d.decided_by,
            feedback: &d.feedback,
            edited: &d.edited,
            approvals: &d.approvals,
            effects_done: &d.effects_done,
            notified: &d.notified,
        }
    }
}

/// A page of decisions as the JSON body; `next_cursor` None leaves the field out (the seed's
/// list has none), Some(None) says there is no next page.
pub(super) fn page(decisions: &[PendingDecision], next_cursor: Option<Option<String>>) -> Response {
    #[derive(Serialize)]
    struct Page<'a> {
        /// The seed's name for the count.
        total: usize,
        count: usize,
        decisions: Vec<View<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        next_cursor: Option<Option<String>>,
    }
    let body = Page {
        total: decisions.len(),
        count: decisions.len(),
        decisions: decisions.iter().map(View::of).collect(),
        next_cursor,
    };
    match serde_json::to_vec(&body) {
        Ok(bytes) => ([(axum::http::header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => ApiError::unavailable("serialization", e).into_response(),
    }
}

fn store_down(e: crate::hitl::StoreError) -> ApiError {
    ApiError::unavailable("the decision store", e)
}

/// Pending decisions, soonest deadline first.
#[utoipa::path(get, path = "/api/brain/hitl/decisions/pending", tag = "decisions", operation_id = "pending_decisions",
    params(("limit" = Option<usize>, Query, minimum = 1, maximum = 500, description = "1..500, default 100")),
    responses((status = 200, description = "Pending decisions, soonest deadline first"), (status = 400, description = "Bad input", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn pending(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_request(format!("limit must be 1..{MAX_LIMIT}")));
    }
    let ids = state.hitl.store().pending_ids(limit).await.map_err(store_down)?;
    // A decision decided or expired between the two reads is simply left out.
    let mut decisions = state.hitl.store().get_many(&ids).await.map_err(store_down)?;
    decisions.retain(|d| d.status == "pending");
    Ok(page(&decisions, None))
}

/// The largest `older_than` (a year: no decision waits longer).
const MAX_AGE_SECS: u64 = 31_536_000;

#[derive(Debug, Deserialize)]
pub(super) struct FilterQuery {
    workflow: Option<String>,
    /// History only: approved, rejected, expired, escalated.
    status: Option<String>,
    min_confidence: Option<f64>,
    max_confidence: Option<f64>,
    /// Pending only: decisions waiting at least this many seconds.
    older_than: Option<u64>,
    /// From this time on (RFC 3339, or a date `YYYY-MM-DD`, UTC): decided then (history) or
    /// parked then (pending).
    from: Option<String>,
    /// Up to this time (a date includes its whole day).
    to: Option<String>,
    /// History only: decided by this subject.
    decided_by: Option<String>,
    /// Text to find (case-insensitive) in the decision id, task id, workflow, agent, the
    /// model's summary, the feedback or who decided.
    q: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

/// Longest search text.
const MAX_SEARCH: usize = 200;

/// Whether `needle` (lower case) is in one of `d`'s searchable texts.
fn mentions(d: &PendingDecision, needle: &str) -> bool {
    let summary = d.decision_data["proposal"]["summary"].as_str();
    [
        Some(d.decision_id.as_str()),
        Some(d.task_id.as_str()),
        Some(d.workflow_id.as_str()),
        Some(d.agent.as_str()),
        summary,
        d.feedback.as_deref(),
        d.decided_by.as_deref(),
    ]
    .into_iter()
    .flatten()
    .any(|text| text.to_lowercase().contains(needle))
}

fn parse_cursor(raw: &str) -> Result<(u64, String), ApiError> {
    let bad = || ApiError::bad_request("cursor must be a next_cursor value from an earlier page");
    let (ms, id) = raw.split_once(':').ok_or_else(bad)?;
    Ok((ms.parse().map_err(|_| bad())?, id.to_string()))
}

/// Unix ms of an RFC 3339 time or a `YYYY-MM-DD` date (its start, or its end with `end_of_day`).
fn parse_time(field: &str, raw: &str, end_of_day: bool) -> Result<u64, ApiError> {
    super::times::instant_or_day(field, raw, end_of_day).map(crate::hitl::decision::unix_ms)
}

fn ms_of(time: Option<&str>) -> Option<u64> {
    time.and_then(|t| humantime::parse_rfc3339_weak(t).ok()).map(crate::hitl::decision::unix_ms)
}

fn age_secs(d: &PendingDecision, now: std::time::SystemTime) -> u64 {
    humantime::parse_rfc3339(&d.created_at)
        .ok()
        .and_then(|created| now.duration_since(created).ok())
        .map_or(0, |age| age.as_secs())
}

/// Which index a listing walks.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Index {
    /// Pending decisions, soonest deadline first.
    Pending,
    /// Decided decisions, newest decision first.
    History,
}

/// `GET /api/hitl/pending`: pending decisions, filtered, paged.
#[utoipa::path(get, path = "/api/hitl/pending", tag = "decisions", operation_id = "pending_filtered",
    params(("workflow" = Option<String>, Query), ("min_confidence" = Option<f64>, Query, minimum = 0, maximum = 1), ("max_confidence" = Option<f64>, Query, minimum = 0, maximum = 1),
        ("older_than" = Option<u64>, Query, minimum = 0, maximum = 31536000, description = "Seconds waited at least (up to a year)"),
        ("from" = Option<TimeOrDay>, Query, description = "Parked at or after (RFC 3339 or YYYY-MM-DD, UTC)"), ("to" = Option<TimeOrDay>, Query, description = "Parked at or before (a date includes its day)"),
        ("q" = Option<String>, Query, max_length = 200, description = "Text in the decision or task id, workflow, agent or the model's summary (case-insensitive)"),
        ("cursor" = Option<String>, Query, pattern = "^[0-9]{1,19}:.+$", description = "next_cursor of the previous page"),
        ("limit" = Option<usize>, Query, minimum = 1, maximum = 500, description = "1..500, default 50")),
    responses((status = 200, description = "A page of pending decisions with next_cursor"), (status = 400, description = "Bad input", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn filtered(
    State(state): State<AppState>,
    q: Result<Query<FilterQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    list(&state, Index::Pending, q?.0).await
}

/// `GET /api/brain/hitl/decisions/history`: decided decisions (kept `hitl.history`), newest
/// first, filtered by workflow, status and confidence, paged.
#[utoipa::path(get, path = "/api/brain/hitl/decisions/history", tag = "decisions", operation_id = "decision_history",
    params(("workflow" = Option<String>, Query), ("status" = Option<String>, Query, pattern = "^(approved|rejected|expired|escalated)$", description = "approved, rejected, expired or escalated"),
        ("min_confidence" = Option<f64>, Query, minimum = 0, maximum = 1), ("max_confidence" = Option<f64>, Query, minimum = 0, maximum = 1),
        ("from" = Option<TimeOrDay>, Query, description = "Decided at or after (RFC 3339 or YYYY-MM-DD, UTC)"), ("to" = Option<TimeOrDay>, Query, description = "Decided at or before (a date includes its day)"),
        ("decided_by" = Option<String>, Query, description = "Decided by this subject"), ("q" = Option<String>, Query, max_length = 200, description = "Text in the decision or task id, workflow, agent, the model's summary, the feedback or who decided (case-insensitive)"),
        ("cursor" = Option<String>, Query, pattern = "^[0-9]{1,19}:.+$", description = "next_cursor of the previous page"), ("limit" = Option<usize>, Query, minimum = 1, maximum = 500, description = "1..500, default 50")),
    responses((status = 200, description = "Decided decisions, newest first, with next_cursor"), (status = 400, description = "Bad input", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn history(
    State(state): State<AppState>,
    q: Result<Query<FilterQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    list(&state, Index::History, q?.0).await
}

/// Most decisions one listing request reads (filters are applied after reading).
const SCAN_BUDGET: usize = 1000;

async fn list(state: &AppState, index: Index, q: FilterQuery) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_request(format!("limit must be 1..{MAX_LIMIT}")));
    }
    for c in [q.min_confidence, q.max_confidence].into_iter().flatten() {
        if !(0.0..=1.0).contains(&c) {
            return Err(ApiError::bad_request("confidence bounds must be within 0..1"));
        }
    }
    let decided = ["approved", "rejected", "expired", "escalated"];
    if let Some(status) = &q.status {
        if index == Index::Pending || !decided.contains(&status.as_str()) {
            return Err(ApiError::bad_request(format!(
                "status filters the history: one of {}",
                decided.join(", ")
            )));
        }
    }
    if index == Index::Pending && q.decided_by.is_some() {
        return Err(ApiError::bad_request("decided_by filters the history"));
    }
    if q.q.as_ref().is_some_and(|t| t.len() > MAX_SEARCH) {
        return Err(ApiError::bad_request(format!("q is longer than {MAX_SEARCH} bytes")));
    }
    let needle = q.q.as_deref().map(str::to_lowercase).filter(|t| !t.is_empty());
    if q.older_than.is_some_and(|s| s > MAX_AGE_SECS) {
        return Err(ApiError::bad_request(format!("older_than must be 0..{MAX_AGE_SECS} seconds")));
    }
    let from = q.from.as_deref().map(|t| parse_time("from", t, false)).transpose()?;
    let to = q.to.as_deref().map(|t| parse_time("to", t, true)).transpose()?;
    let mut position = q.cursor.as_deref().map(parse_cursor).transpose()?;
    if let (Index::History, None, Some(to)) = (index, &position, to) {
        // The history is ordered by decision time, newest first: start right after `to`.
        position = Some((to.saturating_add(1), String::new()));
    }
    let now = std::time::SystemTime::now();
    let keep = |d: &PendingDecision| {
        let (in_index, at) = match index {
            Index::Pending => (d.status == "pending", ms_of(Some(&d.created_at))),
            Index::History => (d.status != "pending", ms_of(d.decided_at.as_deref())),
        };
        in_index
            && from.is_none_or(|f| at.is_some_and(|a| a >= f))
            && to.is_none_or(|t| at.is_some_and(|a| a <= t))
            && q.workflow.as_ref().is_none_or(|w| *w == d.workflow_id)
            && q.status.as_ref().is_none_or(|s| *s == d.status)
            && q.min_confidence.is_none_or(|m| d.confidence >= m)
            && q.max_confidence.is_none_or(|m| d.confidence <= m)
            && q.older_than.is_none_or(|s| age_secs(d, now) >= s)
            && q.decided_by.as_ref().is_none_or(|by| d.decided_by.as_ref() == Some(by))
            && needle.as_deref().is_none_or(|n| mentions(d, n))
    };
    let mut decisions = Vec::new();
    let mut exhausted = false;
    // Bounded work per request, whatever the filter matches: at most SCAN_BUDGET decisions are
    // read; the cursor goes on from where this request stopped.
    let mut read = 0;
    loop {
        let page = match index {
            Index::Pending => {
                state.hitl.store().pending_page(q.workflow.as_deref(), position.clone(), limit).await
            }
            Index::History => state.hitl.store().history_page(position.clone(), limit).await,
        }
        .map_err(store_down)?;
        if page.len() < limit {
            exhausted = true;
        }
        read += page.len();
        let ids: Vec<String> = page.iter().map(|(_, id)| id.clone()).collect();
        let mut found: std::collections::HashMap<String, PendingDecision> = state
            .hitl
            .store()
            .get_many(&ids)
            .await
            .map_err(store_down)?
            .into_iter()
            .map(|d| (d.decision_id.clone(), d))
            .collect();
        for (entry, d) in page.iter().filter_map(|entry| found.remove(&entry.1).map(|d| (entry, d))) {
            position = Some(entry.clone());
            if keep(&d) {
                decisions.push(d);
                if decisions.len() == limit {
                    break;
                }
            }
        }
        if let Some(last) = page.last() {
            if decisions.len() < limit {
                position = Some(last.clone());
            }
            // Older than `from`: nothing further down the history can match.
            if index == Index::History && from.is_some_and(|f| last.0 < f) {
                exhausted = true;
            }
        }
        if exhausted || decisions.len() == limit || read >= SCAN_BUDGET {
            break;
        }
    }
    let next = (!exhausted || decisions.len() == limit)
        .then(|| position.map(|(ms, id)| format!("{ms}:{id}")))
        .flatten();
    Ok(page(&decisions, Some(next)))
}

#[utoipa::path(get, path = "/api/brain/hitl/decisions/{id}", tag = "decisions", operation_id = "get_decision",
    params(("id" = String, Path, description = "dec_YYYYMMDD_HHMMSS_xxxxxx")),
    responses((status = 200, description = "The decision"), (status = 404, description = "Unknown id", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    match state.hitl.store().get(&id).await.map_err(store_down)? {
        Some(d) => Ok(Json(
            serde_json::to_value(View::of(&d)).map_err(|e| ApiError::unavailable("serialization", e))?,
        )),
        None => Err(ApiError::not_found(format!("no decision `{id}`"))),
    }
}
