//! The HTTP API on one port: `GET /health` (tree, dependencies, LLM), `GET /metrics`
//! (Prometheus text), and the HITL decision reads (`decisions`). `app(state)` builds the
//! router, so tests drive it with `oneshot` or on a real port. Errors: `error::ApiError`.

pub mod caller;
mod decide;
mod decisions;
pub mod error;
mod hitl_metrics;
mod onboarding;
mod workflows;

use crate::events::EventSink;
use crate::health::Health;
use crate::hitl::outbox::DecisionEffects;
use crate::hitl::DecisionStore;
use crate::transport::link::AmqpLink;
use crate::workflows::WorkflowRegistry;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use overseer_agents::agent::Agent;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub health: Arc<Health>,
    pub metrics: Option<PrometheusHandle>,
    pub store: Arc<dyn DecisionStore>,
    pub amqp: Option<Arc<AmqpLink>>,
    pub workflows: Arc<WorkflowRegistry>,
    /// Where audit and decision events go (none: not emitted, e.g. in unit tests).
    pub sink: Option<Arc<dyn EventSink>>,
    /// Runs approved/rejected decisions' effects (none: decisions are only stored).
    pub effects: Option<Arc<DecisionEffects>>,
    /// The agents, to validate an approver's edited proposal against the agent's schema.
    pub agents: HashMap<String, Arc<dyn Agent>>,
    /// The lead intake (none: its endpoints answer 503).
    pub onboarding: Option<Arc<crate::onboarding::Onboarding>>,
}

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/brain/hitl/decisions/pending", get(decisions::pending))
        .route("/api/brain/hitl/decisions/history", get(decisions::history))
        .route("/api/brain/hitl/decisions/{id}", get(decisions::one))
        .route("/api/hitl/pending", get(decisions::filtered))
        .route("/api/brain/hitl/decisions/{id}/approve", post(decide::approve))
        .route("/api/brain/hitl/decisions/{id}/reject", post(decide::reject))
        .route("/api/hitl/decision", post(decide::general))
        .route("/api/brain/hitl/workflows", get(workflows::list))
        .route("/api/brain/hitl/workflows/{id}", get(workflows::one))
        .route("/api/brain/hitl/workflows/{id}/toggle", post(workflows::toggle))
        .route("/api/brain/hitl/workflows/{id}/confidence", put(workflows::confidence))
        .route("/api/brain/hitl/workflows/{id}/autonomy", put(workflows::autonomy))
        .route("/api/hitl/audit", get(workflows::audit))
        .route("/api/hitl/metrics", get(hitl_metrics::metrics))
        .route("/onboarding/start", post(onboarding::start))
        .route("/onboarding/status/{id}", get(onboarding::status))
        .with_state(state)
}

/// 200 while every queue has a working supervisor and the dependencies answer; 503 when a
/// queue is in meltdown or a dependency is down, so the orchestrator can act.
async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let queues = state.health.queues();
    let redis = match state.store.ping().await {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("error: {e}"),
    };
    let amqp = match &state.amqp {
        Some(link) if link.is_up().await => "ok".to_string(),
        Some(_) => "error: disconnected".to_string(),
        None => "not used".to_string(),
    };
    let restarts: u64 = queues.values().map(|q| q.restarts).sum();
    let healthy = queues.values().all(|q| !q.failed) && redis == "ok" && amqp != "error: disconnected";
    let body = json!({
        "status": if healthy { "ok" } else { "degraded" },
        "llm": state.health.llm(),
        "dependencies": {"redis": redis, "rabbitmq": amqp},
        "actor_restarts": restarts,
        "queues": queues,
    });
    let code = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(body))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    match state.metrics {
        Some(handle) => {
            (StatusCode::OK, [("content-type", "text/plain; version=0.0.4")], handle.render()).into_response()
        }
        None => {
            error::ApiError::unavailable("metrics", "the recorder could not be installed").into_response()
        }
    }
}
