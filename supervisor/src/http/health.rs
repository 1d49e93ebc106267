//! `GET /health` (liveness and dependencies, public) and `GET /agents/health` (the agents and
//! the onboarding sessions), with the fields the earlier system's two services answered
//! (`status` `healthy`, `services_registered`, `hitl_enabled`, `timestamp`, `brain_gateway`;
//! `agents_available`, `active_sessions`, `completed_sessions`, `pending_approval`) beside
//! overseer's own (the tree's queues, restarts, the LLM, each dependency).

use super::error::{ApiError, ErrorBody};
use super::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Where this gateway answers, as the caller reached it (the earlier agents service named the
/// separate gateway it called; here both are this server).
fn gateway(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    format!("http://{host}")
}

/// Whether any workflow sends results to people.
fn hitl_enabled(state: &AppState) -> bool {
    state.workflows.snapshot().values().any(|w| w.config.hitl_enabled)
}

/// 200 `healthy` while every queue has a working supervisor and the dependencies answer; 503
/// `degraded` when a queue is in meltdown or a dependency is down, so the orchestrator can act.
#[utoipa::path(get, path = "/health", tag = "runtime", responses((status = 200, description = "status healthy, services_registered, hitl_enabled, timestamp, brain_gateway; the tree and its dependencies"), (status = 503, description = "status degraded: a queue is in meltdown or a dependency is down")))]
pub(super) async fn health(State(state): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    let queues = state.health.queues();
    // Public route: states only, never error text (the log has the details).
    let redis = match state.hitl.store().ping().await {
        Ok(()) => "ok",
        Err(e) => {
            tracing::warn!(error = %e, "health: Redis does not answer");
            "unavailable"
        }
    };
    let amqp = match &state.amqp {
        Some(link) if link.is_up().await => "ok",
        Some(_) => "unavailable",
        None => "not used",
    };
    let restarts: u64 = queues.values().map(|q| q.restarts).sum();
    let healthy = queues.values().all(|q| !q.failed) && redis == "ok" && amqp != "unavailable";
    let queues: BTreeMap<&String, Value> = queues
        .iter()
        .map(|(name, q)| {
            (name, json!({"consumers": q.consumers, "restarts": q.restarts, "failed": q.failed}))
        })
        .collect();
    let body = json!({
        "status": if healthy { "healthy" } else { "degraded" },
        // The agents this replica serves, and the onboarding intake.
        "services_registered": state.hitl.edits.agents.len() + usize::from(state.onboarding.is_some()),
        "hitl_enabled": hitl_enabled(&state),
        "timestamp": crate::events::event::now(),
        "brain_gateway": gateway(&headers),
        "llm": state.health.llm(),
        "dependencies": {"redis": redis, "rabbitmq": amqp},
        "actor_restarts": restarts,
        "queues": queues,
    });
    let code = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(body))
}

/// The agents and the onboarding sessions, counted across replicas (Redis).
#[utoipa::path(get, path = "/agents/health", tag = "onboarding", operation_id = "agents_health",
    responses((status = 200, description = "status, agents_available, active_sessions, completed_sessions, pending_approval, hitl_enabled, brain_gateway, timestamp"), (status = 503, description = "A backing service is down", body = ErrorBody)))]
pub(super) async fn agents(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let onboarding = state
        .onboarding
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("onboarding", "not configured in this process"))?;
    let figures = onboarding.figures().await.map_err(|e| ApiError::unavailable("onboarding", e))?;
    let mut agents: Vec<String> = state.hitl.edits.agents.keys().cloned().collect();
    agents.push(crate::onboarding::SOURCE.to_string());
    agents.sort();
    Ok(Json(json!({
        "status": "healthy",
        "agents_available": agents,
        // Sessions are scored and routed at once: the active ones are those waiting for a person.
        "active_sessions": figures.pending_approval,
        "completed_sessions": figures.sessions.completed_autonomously + figures.approved,
        "pending_approval": figures.pending_approval,
        "hitl_enabled": hitl_enabled(&state),
        "brain_gateway": gateway(&headers),
        "timestamp": crate::events::event::now(),
    })))
}
