//! `POST /onboarding/start` (body: the seed's onboarding request),
//! `GET /onboarding/status/{session_id}`, `POST /onboarding/approve/{session_id}` (decides the
//! session's decision through the HITL service, as any approval) and
//! `GET /agents/confidence-stats`; the logic is in [`crate::onboarding`].

use super::caller::Caller;
use super::decide::refused;
use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::hitl::service::{Decider, Request, Verdict};
use crate::onboarding::{Onboarding, OnboardingError};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use overseer_agents::onboarding::OnboardingRequest;
use serde_json::{json, Value};
use std::sync::Arc;

fn service(state: &AppState) -> Result<&Arc<Onboarding>, ApiError> {
    state
        .onboarding
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("onboarding", "not configured in this process"))
}

super::schemas::body_schema!(
    /// `POST /onboarding/start`'s body ([`OnboardingRequest`]).
    OnboardingBody = OnboardingRequest
);

fn failed(e: OnboardingError) -> ApiError {
    ApiError::unavailable("onboarding", e)
}

#[utoipa::path(post, path = "/onboarding/start", tag = "onboarding", operation_id = "start_onboarding",
    request_body(content = OnboardingBody, description = "business_data, requested_services, priority_level (default standard)"),
    responses((status = 200, description = "session_id, status, recommendations, next_steps, estimated_timeline, confidence, hitl_decision_id"), (status = 400, description = "Bad input", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn start(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let request = OnboardingBody::parse(&body)?;
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

/// What approving a session may carry: no edit (a lead's plan has no agent schema to check an
/// edit against).
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SessionApproval {
    #[serde(default)]
    feedback: Option<String>,
    #[serde(default)]
    payload_hash: Option<String>,
}

super::schemas::body_schema!(
    /// `POST /onboarding/approve/{session_id}`'s body (may be empty).
    SessionApprovalBody = SessionApproval, optional
);

#[utoipa::path(post, path = "/onboarding/approve/{session_id}", tag = "onboarding", operation_id = "approve_onboarding",
    params(("session_id" = String, Path)), request_body(content = SessionApprovalBody, description = "Optional: feedback, payload_hash"),
    responses((status = 200, description = "The session as it is after the approval"), (status = 403, description = "Not on the workflow's approver list", body = ErrorBody), (status = 404, description = "Unknown session", body = ErrorBody), (status = 409, description = "Already decided, or completed without a person", body = ErrorBody), (status = 400, description = "Bad input", body = ErrorBody), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn approve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = SessionApprovalBody::parse(&body)?;
    let request = Request { feedback: body.feedback, edited: None, payload_hash: body.payload_hash };
    let by = Decider { principal: &caller.principal, from: caller.from.clone() };
    service(&state)?
        .decide(&id, Verdict::Approve, request, by)
        .await
        .map_err(refused)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no onboarding session `{id}`")))
}

#[utoipa::path(get, path = "/agents/confidence-stats", tag = "onboarding", operation_id = "onboarding_confidence_stats",
    responses((status = 200, description = "total_sessions, average_confidence, min_confidence, max_confidence, sessions_with_high_confidence, sessions_requiring_hitl (every session started, all replicas)"), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn confidence_stats(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let s = service(&state)?.figures().await.map_err(failed)?.sessions;
    let average = if s.total == 0 { 0.0 } else { s.confidence_sum / s.total as f64 };
    Ok(Json(json!({
        "total_sessions": s.total,
        "average_confidence": (average * 10_000.0).round() / 10_000.0,
        "min_confidence": s.min_confidence.unwrap_or(0.0),
        "max_confidence": s.max_confidence.unwrap_or(0.0),
        "sessions_with_high_confidence": s.high_confidence,
        "sessions_requiring_hitl": s.requiring_hitl,
    })))
}
