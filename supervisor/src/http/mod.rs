//! The HTTP API on one port: `GET /health` (tree, dependencies, LLM), `GET /metrics`
//! (Prometheus text), and the HITL decision reads (`decisions`). `app(state)` builds the
//! router, so tests drive it with `oneshot` or on a real port. Errors: `error::ApiError`.

mod decisions;
pub mod error;

use crate::health::Health;
use crate::hitl::DecisionStore;
use crate::transport::link::AmqpLink;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub health: Arc<Health>,
    pub metrics: Option<PrometheusHandle>,
    pub store: Arc<dyn DecisionStore>,
    pub amqp: Option<Arc<AmqpLink>>,
}

pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/brain/hitl/decisions/pending", get(decisions::pending))
        .route("/api/brain/hitl/decisions/{id}", get(decisions::one))
        .route("/api/hitl/pending", get(decisions::filtered))
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
