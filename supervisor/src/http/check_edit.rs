//! `POST /api/brain/hitl/decisions/{id}/check-edit`: the dashboard's editor asks whether an
//! edited proposal would be accepted, before the approver sends it. The HITL service runs the
//! same checks an approval carrying the edit passes (who may decide, the agent's output schema,
//! the action policy); nothing is decided.

use super::caller::Caller;
use super::decide::refused;
use super::error::{ApiError, ErrorBody};
use super::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

/// The edit to check.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct EditCheck {
    /// The changed proposal, as an approval's `edited` would carry it.
    edited: Value,
}

super::schemas::body_schema!(
    /// `POST …/check-edit`'s body.
    EditCheckBody = EditCheck
);

#[utoipa::path(post, path = "/api/brain/hitl/decisions/{id}/check-edit", tag = "decisions", operation_id = "check_edit",
    params(("id" = String, Path)), request_body(content = EditCheckBody, content_type = "application/json"),
    responses((status = 200, description = "ok: true and the proposal as it would execute"), (status = 400, description = "The edit would be refused: detail says why", body = ErrorBody), (status = 403, description = "Not on the workflow's approver list", body = ErrorBody), (status = 404, description = "Unknown id", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn check_edit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let check = EditCheckBody::parse(&body)?;
    let proposal = state.hitl.check_edit(&id, check.edited, &caller.principal).await.map_err(refused)?;
    Ok(Json(json!({"ok": true, "proposal": proposal})))
}
