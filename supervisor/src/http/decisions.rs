//! The seed's decision read endpoints: `GET /api/brain/hitl/decisions/pending` and
//! `GET /api/brain/hitl/decisions/{id}`, with its field names (decision_id, workflow_id,
//! confidence, status, created_at, expires_at, decision_data).

use super::error::ApiError;
use super::AppState;
use crate::hitl::PendingDecision;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// Most decisions one list returns.
const MAX_LIMIT: usize = 500;

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    limit: Option<usize>,
}

/// A decision as the API shows it.
fn view(d: &PendingDecision) -> Value {
    json!({
        "decision_id": d.decision_id,
        "task_id": d.task_id,
        "workflow_id": d.workflow_id,
        "queue": d.queue,
        "agent": d.agent,
        "confidence": d.confidence,
        "confidence_parts": d.confidence_parts,
        "reasons": d.reasons,
        "status": d.status,
        "created_at": d.created_at,
        "expires_at": d.expires_at,
        "payload_hash": d.payload_hash,
        "decision_data": d.decision_data,
        "decided_at": d.decided_at,
        "decided_by": d.decided_by,
        "feedback": d.feedback,
        "edited": d.edited,
    })
}

/// Pending decisions, soonest deadline first.
pub(super) async fn pending(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_request(format!("limit must be 1..{MAX_LIMIT}")));
    }
    let ids =
        state.store.pending_ids(limit).await.map_err(|e| ApiError::unavailable("the decision store", e))?;
    let mut decisions = Vec::with_capacity(ids.len());
    for id in ids {
        // A decision decided or expired between the two reads is simply left out.
        if let Some(d) =
            state.store.get(&id).await.map_err(|e| ApiError::unavailable("the decision store", e))?
        {
            if d.status == "pending" {
                decisions.push(view(&d));
            }
        }
    }
    Ok(Json(json!({"count": decisions.len(), "decisions": decisions})))
}

pub(super) async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    match state.store.get(&id).await.map_err(|e| ApiError::unavailable("the decision store", e))? {
        Some(d) => Ok(Json(view(&d))),
        None => Err(ApiError::not_found(format!("no decision `{id}`"))),
    }
}
