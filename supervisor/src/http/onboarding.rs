//! `POST /onboarding/start` (body: the seed's onboarding request) and
//! `GET /onboarding/status/{session_id}`; the logic is in [`crate::onboarding`].

use super::error::ApiError;
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

pub(super) async fn start(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let request: OnboardingRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("not an onboarding request: {e}")))?;
    service(&state)?.start(request).await.map(Json).map_err(failed)
}

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
