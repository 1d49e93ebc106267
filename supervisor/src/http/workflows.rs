//! The seed's workflow endpoints: `GET /api/brain/hitl/workflows`, `GET …/workflows/{id}`,
//! `POST …/{id}/toggle?enabled=`, `PUT …/{id}/confidence?threshold=`,
//! `PUT …/{id}/autonomy?level=` (a name or 1..5), and `GET /api/hitl/audit` (the newest audited
//! changes). A change persists in Redis, reaches every replica within `hitl.workflow_poll`, and
//! is audited (who, from where, before, after) in Redis and on `audit.trail`.

use super::caller::Caller;
use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::audit::AuditDetail;
use crate::events::event::topic;
use crate::workflows::{audit_event, AuditEntry, Change, ChangeError};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use overseer_agents::workflow::AutonomyLevel;
use serde::Deserialize;
use serde_json::{json, Value};

/// The seed's answer (`total`, `workflows`: the ids, sorted) and each workflow in full
/// (`details`, in the same order).
#[utoipa::path(get, path = "/api/brain/hitl/workflows", tag = "workflows", operation_id = "list_workflows",
    responses((status = 200, description = "total, workflows (ids, sorted), details (each workflow as GET /api/brain/hitl/workflows/{id} answers)")))]
pub(super) async fn list(State(state): State<AppState>) -> Json<Value> {
    // The snapshot is a BTreeMap: sorted by id.
    let snapshot = state.workflows.snapshot();
    let ids: Vec<&String> = snapshot.keys().collect();
    let details: Vec<Value> = snapshot.values().map(|w| w.view()).collect();
    Json(json!({"total": ids.len(), "workflows": ids, "details": details}))
}

#[utoipa::path(get, path = "/api/brain/hitl/workflows/{id}", tag = "workflows", operation_id = "get_workflow",
    params(("id" = String, Path)), responses((status = 200, description = "The workflow"), (status = 404, description = "Unknown workflow", body = ErrorBody)))]
pub(super) async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.workflows.get(&id).map(|w| Json(w.view())).ok_or_else(|| unknown(&id))
}

fn unknown(id: &str) -> ApiError {
    ApiError::not_found(format!("no workflow `{id}`"))
}

#[derive(Debug, Deserialize)]
pub(super) struct ToggleQuery {
    enabled: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ThresholdQuery {
    threshold: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub(super) struct AutonomyQuery {
    level: Option<String>,
}

#[utoipa::path(post, path = "/api/brain/hitl/workflows/{id}/toggle", tag = "workflows", operation_id = "toggle_workflow",
    params(("id" = String, Path), ("enabled" = bool, Query)),
    responses((status = 200, description = "The workflow as changed, with message and audit_id"), (status = 404, description = "Unknown workflow", body = ErrorBody), (status = 400, description = "Bad input", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn toggle(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    q: Result<Query<ToggleQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let raw = q?.0.enabled.ok_or_else(|| ApiError::bad_request("enabled=true|false is required"))?;
    let enabled = match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "on" => true,
        "false" | "0" | "off" => false,
        _ => return Err(ApiError::bad_request(format!("enabled must be true or false, not `{raw}`"))),
    };
    apply(&state, &id, Change::Toggle(enabled), caller).await
}

#[utoipa::path(put, path = "/api/brain/hitl/workflows/{id}/confidence", tag = "workflows", operation_id = "set_threshold",
    params(("id" = String, Path), ("threshold" = f64, Query, minimum = 0, maximum = 1, description = "0..1")),
    responses((status = 200, description = "The workflow as changed, with message and audit_id"), (status = 404, description = "Unknown workflow", body = ErrorBody), (status = 400, description = "Bad input", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn confidence(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    q: Result<Query<ThresholdQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let threshold = q?.0.threshold.ok_or_else(|| ApiError::bad_request("threshold=0..1 is required"))?;
    apply(&state, &id, Change::Threshold(threshold), caller).await
}

#[utoipa::path(put, path = "/api/brain/hitl/workflows/{id}/autonomy", tag = "workflows", operation_id = "set_autonomy",
    params(("id" = String, Path), ("level" = String, Query, pattern = "^(supervised|assisted|monitored|autonomous|adaptive|[1-5])$", description = "supervised, assisted, monitored, autonomous, adaptive, or 1..5")),
    responses((status = 200, description = "The workflow as changed, with message and audit_id"), (status = 404, description = "Unknown workflow", body = ErrorBody), (status = 400, description = "Bad input", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn autonomy(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    q: Result<Query<AutonomyQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let raw = q?.0.level.ok_or_else(|| ApiError::bad_request("level is required"))?;
    let level = AutonomyLevel::parse(&raw).ok_or_else(|| {
        ApiError::bad_request(format!(
            "level must be one of supervised, assisted, monitored, autonomous, adaptive (or 1..5), not `{raw}`"
        ))
    })?;
    apply(&state, &id, Change::Autonomy(level), caller).await
}

async fn apply(state: &AppState, id: &str, change: Change, caller: Caller) -> Result<Response, ApiError> {
    let (entry, workflow) =
        state.workflows.change(id, change, caller.actor(), None).await.map_err(|e| match e {
            ChangeError::Unknown(_) => unknown(id),
            ChangeError::Invalid(detail) => ApiError::bad_request(detail),
            ChangeError::Contended | ChangeError::Moved => {
                ApiError::new(axum::http::StatusCode::CONFLICT, "conflict", e.to_string())
            }
            ChangeError::Store(e) => ApiError::unavailable("the workflow store", e),
        })?;
    emit_audit(state, &entry).await;
    let mut body = workflow.view();
    // The seed's messages, word for word.
    body["message"] = match change {
        Change::Toggle(true) => format!("HITL enabled for {id}"),
        Change::Toggle(false) => format!("HITL disabled for {id}"),
        Change::Threshold(_) => "Confidence threshold updated".into(),
        Change::Autonomy(_) => "Autonomy level updated".into(),
    }
    .into();
    body["change"] = format!("{} changed from {} to {}", entry.field, entry.before, entry.after).into();
    body["audit_id"] = entry.audit_id.clone().into();
    let mut response = Json(body).into_response();
    response.extensions_mut().insert(AuditDetail {
        before: Some(json!({entry.field.clone(): entry.before})),
        after: Some(json!({entry.field.clone(): entry.after})),
    });
    Ok(response)
}

/// The audit entry on `audit.trail` (the Redis audit log already holds it).
pub(super) async fn emit_audit(state: &AppState, entry: &AuditEntry) {
    let Some(sink) = &state.sink else { return };
    if let Err(e) =
        crate::events::publish(sink.as_ref(), topic::AUDIT, &entry.workflow_id, &audit_event(entry)).await
    {
        tracing::warn!(audit_id = %entry.audit_id, error = %e, "audit event not delivered; the entry is in the Redis audit log");
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct AuditQuery {
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/hitl/audit", tag = "workflows", operation_id = "audit_log",
    params(("limit" = Option<usize>, Query, minimum = 1, maximum = 1000, description = "1..1000, default 100")),
    responses((status = 200, description = "The newest audited changes, newest first"), (status = 400, description = "Bad input", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn audit(
    State(state): State<AppState>,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let limit = q?.0.limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::bad_request("limit must be 1..1000"));
    }
    let entries =
        state.workflows.audit(limit).await.map_err(|e| ApiError::unavailable("the audit log", e))?;
    Ok(Json(json!({"count": entries.len(), "entries": entries})))
}
