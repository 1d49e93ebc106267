//! `GET /api/audit` (admin): the access audit log, newest first, with filters and a cursor.
//! `stream=actions` (default) holds what verified callers did; `stream=denied` the
//! authentication and authorization failures. One request reads a bounded number of records
//! whatever its filter matches ([`crate::audit::MAX_SCAN`]); `next_cursor` goes on from there.

use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::audit::{query, Filter, Stream};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditQuery {
    /// `actions` (default) or `denied`.
    #[param(pattern = "^(actions|denied)$")]
    stream: Option<String>,
    /// Only this verified subject.
    subject: Option<String>,
    /// `ok`, `refused`, `failed`, `unauthenticated` or `forbidden`.
    outcome: Option<String>,
    /// A part of the action (`approve`, `/workflows/`).
    action: Option<String>,
    /// RFC 3339 lower bound of the time.
    #[param(format = DateTime)]
    since: Option<String>,
    /// RFC 3339 upper bound of the time.
    #[param(format = DateTime)]
    until: Option<String>,
    /// 1..500, default 100.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[0-9]{1,19}-[0-9]{1,19}$")]
    cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/audit", tag = "auth", operation_id = "access_audit", params(AuditQuery),
    responses((status = 200, description = "count, records (newest first), next_cursor"), (status = 400, description = "Bad input", body = ErrorBody), (status = 401, description = "No valid token", body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn log(
    State(state): State<AppState>,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = q?.0;
    let stream = match q.stream.as_deref() {
        None | Some("actions") => Stream::Actions,
        Some("denied") => Stream::Denied,
        Some(other) => {
            return Err(ApiError::bad_request(format!("stream must be actions or denied, not `{other}`")))
        }
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1..500"));
    }
    if q.cursor.as_deref().is_some_and(|c| !is_cursor(c)) {
        return Err(ApiError::bad_request("cursor must be a next_cursor value from an earlier page"));
    }
    let filter = Filter {
        subject: q.subject,
        outcome: q.outcome,
        action: q.action,
        since: q.since.as_deref().map(|t| normal_time("since", t)).transpose()?,
        until: q.until.as_deref().map(|t| normal_time("until", t)).transpose()?,
    };
    let log = state.security.auditor.log.as_ref();
    let (records, next) = query(log, stream, &filter, q.cursor, limit)
        .await
        .map_err(|e| ApiError::unavailable("the audit log", e))?;
    Ok(Json(json!({"count": records.len(), "records": records, "next_cursor": next})))
}

/// An audit record's id as `next_cursor` gives it: `<ms>-<n>` (a Redis stream id).
fn is_cursor(raw: &str) -> bool {
    let digits = |s: &str| (1..=19).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    raw.split_once('-').is_some_and(|(ms, n)| digits(ms) && digits(n))
}

/// A time bound in the records' own format (RFC 3339 with milliseconds, UTC), so that bounds
/// compare as text.
fn normal_time(field: &str, raw: &str) -> Result<String, ApiError> {
    super::times::instant(field, raw).map(|t| humantime::format_rfc3339_millis(t).to_string())
}
