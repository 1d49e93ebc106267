//! `GET /api/brain/hitl/analytics/confidence`: the admin UI's confidence chart. Per workflow,
//! the confidence of the decisions that came to people (pending and decided, as kept in
//! Redis: `hitl.history`), in time buckets by when they were parked: count, average, min,
//! max, and how many were approved. At most `SCAN` decisions are read per request, newest
//! first; `truncated` says when the range held more.

use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::hitl::PendingDecision;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Most decisions one request reads.
const SCAN: usize = 5000;
/// Decisions read per store call.
const PAGE: usize = 500;

#[derive(Debug, Deserialize)]
pub(super) struct ChartQuery {
    workflow: Option<String>,
    /// Hours back from now (1..720, default 24), unless `from` is given.
    hours: Option<u64>,
    from: Option<String>,
    to: Option<String>,
    /// `hour` (default) or `day`.
    bucket: Option<String>,
}

#[derive(Debug, Default, Serialize)]
struct Bucket {
    start: String,
    count: u64,
    average: f64,
    min: f64,
    max: f64,
    approved: u64,
    #[serde(skip)]
    sum: f64,
}

fn time(field: &str, raw: &str) -> Result<u64, ApiError> {
    super::times::instant(field, raw).map(crate::hitl::decision::unix_ms)
}

#[utoipa::path(get, path = "/api/brain/hitl/analytics/confidence", tag = "decisions", operation_id = "confidence_analytics",
    params(("workflow" = Option<String>, Query), ("hours" = Option<u64>, Query, minimum = 1, maximum = 720, description = "1..720, default 24 (ignored with from)"),
        ("from" = Option<String>, Query, format = DateTime, description = "RFC 3339"), ("to" = Option<String>, Query, format = DateTime, description = "RFC 3339, default now"),
        ("bucket" = Option<String>, Query, pattern = "^(hour|day)$", description = "hour (default) or day")),
    responses((status = 200, description = "from, to, bucket, truncated, workflows: {id: [{start, count, average, min, max, approved}]}"), (status = 400, description = "Bad input", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn confidence(
    State(state): State<AppState>,
    q: Result<Query<ChartQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = q?.0;
    let width: u64 = match q.bucket.as_deref().unwrap_or("hour") {
        "hour" => 3_600_000,
        "day" => 86_400_000,
        other => return Err(ApiError::bad_request(format!("bucket must be hour or day, not `{other}`"))),
    };
    let now = crate::hitl::decision::unix_ms(std::time::SystemTime::now());
    let to = q.to.as_deref().map(|t| time("to", t)).transpose()?.unwrap_or(now);
    if q.hours.is_some_and(|h| !(1..=720).contains(&h)) {
        return Err(ApiError::bad_request("hours must be 1..720"));
    }
    let from = match (q.from.as_deref(), q.hours) {
        (Some(f), _) => time("from", f)?,
        (None, h) => to.saturating_sub(h.unwrap_or(24) * 3_600_000),
    };
    // A range that ends before it starts holds nothing: an empty chart, not an error.
    let empty_range = from > to;
    let store = state.hitl.store();
    let down = |e| ApiError::unavailable("the decision store", e);
    let mut ids: Vec<String> = Vec::new();
    let mut position = None;
    // Pending ones first, then the history newest first, within the scan budget.
    let mut more_pending = !empty_range;
    while more_pending {
        let page = store.pending_page(q.workflow.as_deref(), position.clone(), PAGE).await.map_err(down)?;
        ids.extend(page.iter().map(|(_, id)| id.clone()));
        position = page.last().cloned();
        more_pending = page.len() == PAGE && ids.len() < SCAN;
    }
    let mut before = None;
    while !empty_range && ids.len() < SCAN {
        let page = store.history_page(before.clone(), PAGE).await.map_err(down)?;
        ids.extend(page.iter().map(|(_, id)| id.clone()));
        before = page.last().cloned();
        // Decided before `from` means parked before it too.
        if page.len() < PAGE || before.as_ref().is_some_and(|(ms, _)| *ms < from) {
            break;
        }
    }
    let truncated = ids.len() >= SCAN;
    ids.truncate(SCAN);
    let mut charts: BTreeMap<String, BTreeMap<u64, Bucket>> = BTreeMap::new();
    for chunk in ids.chunks(PAGE) {
        for d in store.get_many(chunk).await.map_err(down)? {
            add(&mut charts, &d, q.workflow.as_deref(), from, to, width);
        }
    }
    let workflows: BTreeMap<String, Vec<Bucket>> = charts
        .into_iter()
        .map(|(id, buckets)| {
            let list = buckets
                .into_values()
                .map(|mut b| {
                    b.average = ((b.sum / b.count.max(1) as f64) * 10_000.0).round() / 10_000.0;
                    b
                })
                .collect();
            (id, list)
        })
        .collect();
    let iso = |ms: u64| {
        humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
            .to_string()
    };
    Ok(Json(json!({
        "from": iso(from),
        "to": iso(to),
        "bucket": if width == 3_600_000 { "hour" } else { "day" },
        "truncated": truncated,
        "workflows": workflows,
    })))
}

fn add(
    charts: &mut BTreeMap<String, BTreeMap<u64, Bucket>>,
    d: &PendingDecision,
    workflow: Option<&str>,
    from: u64,
    to: u64,
    width: u64,
) {
    let Some(at) = humantime::parse_rfc3339_weak(&d.created_at).ok().map(crate::hitl::decision::unix_ms)
    else {
        return;
    };
    if at < from || at > to || workflow.is_some_and(|w| w != d.workflow_id) {
        return;
    }
    let start = at - at % width;
    let bucket = charts.entry(d.workflow_id.clone()).or_default().entry(start).or_insert_with(|| Bucket {
        start: humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(start),
        )
        .to_string(),
        min: f64::MAX,
        max: f64::MIN,
        ..Default::default()
    });
    bucket.count += 1;
    bucket.sum += d.confidence;
    bucket.min = bucket.min.min(d.confidence);
    bucket.max = bucket.max.max(d.confidence);
    bucket.approved += u64::from(d.status == "approved");
}
