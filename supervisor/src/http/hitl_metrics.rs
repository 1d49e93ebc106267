//! `GET /api/hitl/metrics`: per workflow and in total, from the decision store (so every
//! replica answers the same): pending count and oldest pending age, decided counts by outcome,
//! approval rate (approved / (approved + rejected)), p50/p95 time-to-decision over the latest
//! (up to 1000) human decisions, expiries (expired + escalated), and the workflow's current
//! threshold and autonomy level.

use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::hitl::decision::unix_ms;
use crate::hitl::WorkflowStats;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::SystemTime;

/// The nearest-rank percentile `p` (0..100) of `samples`, or `None` for none.
fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank - 1).copied()
}

fn figures(s: &WorkflowStats, now_ms: u64) -> Value {
    let count = |k: &str| s.decided.get(k).copied().unwrap_or(0);
    let (approved, rejected) = (count("approved"), count("rejected"));
    let rate = (approved + rejected > 0).then(|| approved as f64 / (approved + rejected) as f64);
    json!({
        "pending": s.pending,
        "oldest_pending_seconds": s.oldest_pending_ms.map(|ms| now_ms.saturating_sub(ms) as f64 / 1000.0),
        "decided": s.decided,
        "approval_rate": rate,
        "time_to_decision_seconds": {
            "p50": percentile(&s.decision_seconds, 50.0),
            "p95": percentile(&s.decision_seconds, 95.0),
            "samples": s.decision_seconds.len(),
        },
        "expiries": count("expired") + count("escalated"),
    })
}

#[utoipa::path(get, path = "/api/hitl/metrics", tag = "decisions", operation_id = "hitl_metrics",
    responses((status = 200, description = "Per workflow and in total: pending, decided, approval rate, time to decision, expiries"), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn metrics(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let workflows = state.workflows.snapshot();
    let ids: Vec<String> = workflows.keys().cloned().collect();
    let stats = state
        .hitl
        .store()
        .stats(&ids, true)
        .await
        .map_err(|e| ApiError::unavailable("the decision store", e))?;
    let now_ms = unix_ms(SystemTime::now());
    let mut total = WorkflowStats::default();
    let mut per: BTreeMap<String, Value> = BTreeMap::new();
    for (id, s) in &stats {
        let mut f = figures(s, now_ms);
        if let Some(w) = workflows.get(id) {
            f["confidence_threshold"] = w.config.confidence_threshold.into();
            f["autonomy_level"] = w.config.autonomy_level.name().into();
            f["hitl_enabled"] = w.config.hitl_enabled.into();
        }
        per.insert(id.clone(), f);
        total.pending += s.pending;
        total.oldest_pending_ms = match (total.oldest_pending_ms, s.oldest_pending_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for (k, v) in &s.decided {
            *total.decided.entry(k.clone()).or_insert(0) += v;
        }
        total.decision_seconds.extend_from_slice(&s.decision_seconds);
    }
    Ok(Json(json!({
        "generated_at": crate::events::event::now(),
        "totals": figures(&total, now_ms),
        "workflows": per,
    })))
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank_percentiles() {
        let s: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&s, 50.0), Some(50.0));
        assert_eq!(percentile(&s, 95.0), Some(95.0));
        assert_eq!(percentile(&[7.0], 95.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
