//! `POST /onboarding/start` (body: the seed's onboarding request) and
//! `GET /onboarding/status/{session_id}`; the logic is in [`crate::onboarding`].

use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::onboarding::{Onboarding, OnboardingError};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use overseer_agents::onboarding::OnboardingRequest;
use serde_json::Value;
use std::sync::Arc;

fn service(state: &AppState) -> Result<&Arc<Onboarding>, ApiError> {
    state
        .onboarding
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("onboarding", "not configured in this process"))
}

fn failed(e: OnboardingError) -> ApiError {
    ApiError::unavailable("onboarding", e)
}

#[utoipa::path(post, path = "/onboarding/start", tag = "onboarding", operation_id = "start_onboarding",
    request_body(content_type = "application/json", description = "business_data, requested_services, priority_level"),
    responses((status = 200, description = "session_id, status, recommendations, next_steps, estimated_timeline, confidence, hitl_decision_id"), (status = 400, description = "Bad input", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn start(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let request: OnboardingRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("not an onboarding request: {e}")))?;
    service(&state)?.start(request).await.map(Json).map_err(failed)
}

#[utoipa::path(get, path = "/onboarding/status/{session_id}", tag = "onboarding", operation_id = "onboarding_status",
    params(("session_id" = String, Path)),
    responses((status = 200, description = "The session as it is now"), (status = 404, description = "Unknown session", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn status(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    service(&state)?
        .status(&id)
        .await
        .map_err(failed)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no onboarding session `{id}`")))
}
