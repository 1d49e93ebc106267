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
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use overseer_agents::agent::Agent;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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

/// The API's description; the paths come from the handlers' `#[utoipa::path]`.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "overseer", description = "The agent worker runtime's HTTP API: health, metrics, human-in-the-loop decisions and workflows, onboarding. Errors are JSON {\"error\", \"detail\"}. The caller names themself in X-Overseer-User."),
    tags(
        (name = "runtime", description = "Health and Prometheus metrics"),
        (name = "decisions", description = "Pending and decided HITL decisions"),
        (name = "workflows", description = "Workflows as they are now, changed at run time, audited"),
        (name = "onboarding", description = "The seed's lead intake"),
    )
)]
struct ApiDoc;

/// The router, and the OpenAPI document generated from the same handlers.
pub fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(metrics))
        .routes(routes!(decisions::pending))
        .routes(routes!(decisions::history))
        .routes(routes!(decisions::one))
        .routes(routes!(decisions::filtered))
        .routes(routes!(decide::approve))
        .routes(routes!(decide::reject))
        .routes(routes!(decide::general))
        .routes(routes!(workflows::list))
        .routes(routes!(workflows::one))
        .routes(routes!(workflows::toggle))
        .routes(routes!(workflows::confidence))
        .routes(routes!(workflows::autonomy))
        .routes(routes!(workflows::audit))
        .routes(routes!(hitl_metrics::metrics))
        .routes(routes!(onboarding::start))
        .routes(routes!(onboarding::status))
        .routes(routes!(dashboard))
        .split_for_parts()
}

pub fn app(state: AppState) -> Router {
    let (router, doc) = routes();
    let doc = Arc::new(doc);
    router
        .route("/api/openapi.json", get(move || async move { Json(doc.as_ref().clone()) }))
        .with_state(state)
}

/// The minimal HITL page (pending decisions with approve/reject, workflow switches, figures).
/// Everything from the API is shown as text, never as HTML.
#[utoipa::path(get, path = "/api/hitl/dashboard", tag = "decisions", operation_id = "dashboard",
    responses((status = 200, description = "An HTML page", content_type = "text/html")))]
async fn dashboard() -> impl IntoResponse {
    (
        [(
            "content-security-policy",
            "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
        )],
        axum::response::Html(include_str!("dashboard.html")),
    )
}

/// 200 while every queue has a working supervisor and the dependencies answer; 503 when a
/// queue is in meltdown or a dependency is down, so the orchestrator can act.
#[utoipa::path(get, path = "/health", tag = "runtime", responses((status = 200, description = "The tree and its dependencies are well"), (status = 503, description = "A queue is in meltdown or a dependency is down")))]
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

#[utoipa::path(get, path = "/metrics", tag = "runtime", operation_id = "prometheus_metrics", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
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
