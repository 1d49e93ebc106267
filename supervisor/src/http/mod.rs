//! The HTTP API on one port: `GET /health` (liveness), `GET /ready` (readiness), `GET /metrics`
//! (Prometheus text), the HITL decisions and workflows, onboarding, the dashboard, sessions,
//! the audit log and the supervisor control API.
//! `app(state)` builds the router, so tests drive it with `oneshot` or on a real port.
//!
//! Every request passes [`guard`] (host, token, role, CSRF, rate limits, content type, audit;
//! the rules per route are in [`access`]); every error answer is `{"error", "detail"}`
//! ([`error`]).

pub mod access;
mod analytics;
mod audit;
pub mod caller;
mod check_edit;
mod dashboard;
mod decide;
mod decisions;
mod describe;
pub mod error;
pub mod guard;
mod health;
mod hitl_metrics;
mod live;
mod onboarding;
mod schemas;
mod session;
mod supervisor;
mod telegram;
mod times;
mod workflows;

use crate::events::EventSink;
use crate::health::Health;
use crate::hitl::service::HitlService;
use crate::transport::link::AmqpLink;
use crate::workflows::WorkflowRegistry;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::{Arc, OnceLock};
use tower_http::set_header::SetResponseHeaderLayer;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Clone)]
pub struct AppState {
    pub health: Arc<Health>,
    pub metrics: Option<PrometheusHandle>,
    pub amqp: Option<Arc<AmqpLink>>,
    pub workflows: Arc<WorkflowRegistry>,
    /// Where audit and decision events go (none: not emitted, e.g. in unit tests).
    pub sink: Option<Arc<dyn EventSink>>,
    /// Parks, decides and expires decisions; its store answers the read-only views.
    pub hitl: Arc<HitlService>,
    /// Deciding from Telegram (none: `hitl.telegram` is not configured; the webhook answers 404).
    pub telegram: Option<Arc<crate::hitl::telegram::TelegramApprovals>>,
    /// The lead intake (none: its endpoints answer 503).
    pub onboarding: Option<Arc<crate::onboarding::Onboarding>>,
    /// Token verification, rate limits, the audit log (see [`guard`]).
    pub security: Arc<guard::Security>,
    /// CORS for the configured origins, the body limit and the request timeout.
    pub limits: Arc<crate::config::HttpConfig>,
    /// The consumed queues' control (the supervisor API).
    pub controls: Arc<crate::control::Controls>,
    /// The dashboard's live feed of pending decisions.
    pub live: Arc<crate::hitl::watch::PendingWatch>,
}

/// The API's description; the paths come from the handlers' `#[utoipa::path]`.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "overseer", description = "The agent worker runtime's HTTP API: health, metrics, human-in-the-loop decisions and workflows, onboarding. Errors are JSON {\"error\", \"detail\"}. Every route but /health, the dashboard page and login needs a bearer JWT (or the dashboard's session cookie); roles viewer < approver < admin."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(times::TimeOrDay)),
    tags(
        (name = "runtime", description = "Health and Prometheus metrics"),
        (name = "decisions", description = "Pending and decided HITL decisions"),
        (name = "workflows", description = "Workflows as they are now, changed at run time, audited"),
        (name = "onboarding", description = "The seed's lead intake"),
        (name = "auth", description = "Dashboard sessions and the access audit log"),
        (name = "supervisor", description = "This replica's actor tree and its queues' consumers: pause, resume, scale, prefetch, drain (admin)"),
    )
)]
struct ApiDoc;

/// The bearer-token scheme of the OpenAPI document.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build(),
            ),
        );
    }
}

/// The router, and the OpenAPI document generated from the same handlers.
pub fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::health))
        .routes(routes!(health::agents))
        .routes(routes!(supervisor::ready))
        .routes(routes!(supervisor::tree))
        .routes(routes!(supervisor::pause))
        .routes(routes!(supervisor::resume))
        .routes(routes!(supervisor::concurrency))
        .routes(routes!(supervisor::prefetch))
        .routes(routes!(supervisor::clear))
        .routes(routes!(supervisor::drain_queue))
        .routes(routes!(supervisor::drain_replica))
        .routes(routes!(metrics))
        .routes(routes!(decisions::pending))
        .routes(routes!(decisions::history))
        .routes(routes!(decisions::one))
        .routes(routes!(decisions::filtered))
        .routes(routes!(decide::approve))
        .routes(routes!(decide::reject))
        .routes(routes!(decide::general))
        .routes(routes!(decide::seo))
        .routes(routes!(decide::content_marketing))
        .routes(routes!(workflows::list))
        .routes(routes!(workflows::one))
        .routes(routes!(workflows::toggle))
        .routes(routes!(workflows::confidence))
        .routes(routes!(workflows::autonomy))
        .routes(routes!(workflows::audit))
        .routes(routes!(hitl_metrics::metrics))
        .routes(routes!(analytics::confidence))
        .routes(routes!(onboarding::start))
        .routes(routes!(onboarding::status))
        .routes(routes!(onboarding::approve))
        .routes(routes!(onboarding::confidence_stats))
        .routes(routes!(dashboard::page))
        .routes(routes!(dashboard::asset))
        .routes(routes!(live::stream))
        .routes(routes!(check_edit::check_edit))
        .routes(routes!(session::login))
        .routes(routes!(session::logout))
        .routes(routes!(session::session))
        .routes(routes!(audit::log))
        .routes(routes!(telegram::webhook))
        .routes(routes!(telegram::approval_request))
        .routes(routes!(telegram::approval_status))
        .routes(routes!(telegram::approval_response))
        .routes(routes!(telegram::pending_approvals))
        .split_for_parts();
    describe::access_of_every_route(&mut doc);
    (router, doc)
}

pub fn app(state: AppState) -> Router {
    // The document is made again, as JSON, when first asked for (see `openapi_json`).
    let (router, _) = routes();
    let limits = state.limits.clone();
    let cors = cors(&limits.cors_origins);
    router
        .route("/api/openapi.json", get(|| async { openapi_json() }))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::guard))
        .layer(axum::extract::DefaultBodyLimit::max(limits.body_limit))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            limits.request_timeout,
        ))
        .layer(axum::middleware::from_fn(error::json_errors))
        .layer(cors)
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .with_state(state)
}

/// The OpenAPI document's JSON, made when first asked for and kept as that text: a replica
/// keeps neither the document's tree nor, until then, its serializer's code in memory.
fn openapi_json() -> axum::response::Response {
    static DOC: OnceLock<Result<Bytes, String>> = OnceLock::new();
    let doc = DOC.get_or_init(|| serde_json::to_vec(&routes().1).map(Bytes::from).map_err(|e| e.to_string()));
    match doc {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json.clone()).into_response(),
        Err(e) => error::ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "error",
            format!("the OpenAPI document: {e}"),
        )
        .into_response(),
    }
}

/// CORS for exactly the configured origins (none: no CORS headers, browsers refuse
/// cross-origin calls).
fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let allowed: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    if allowed.is_empty() {
        return CorsLayer::new();
    }
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST, axum::http::Method::PUT])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::HeaderName::from_static(guard::CSRF_HEADER),
        ])
        .max_age(std::time::Duration::from_secs(600))
}

#[utoipa::path(get, path = "/metrics", tag = "runtime", operation_id = "prometheus_metrics", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    // What this replica reaches now, for the alert rules (a scrape every 15 s is one PING).
    let redis = tokio::time::timeout(std::time::Duration::from_secs(2), state.hitl.store().ping()).await;
    metrics::gauge!(crate::metrics::DEPENDENCY_UP, "dependency" => "redis")
        .set(f64::from(u8::from(matches!(redis, Ok(Ok(()))))));
    if let Some(link) = &state.amqp {
        metrics::gauge!(crate::metrics::DEPENDENCY_UP, "dependency" => "rabbitmq")
            .set(f64::from(u8::from(link.is_up().await)));
    }
    match state.metrics {
        Some(handle) => {
            (StatusCode::OK, [("content-type", "text/plain; version=0.0.4")], handle.render()).into_response()
        }
        None => {
            error::ApiError::unavailable("metrics", "the recorder could not be installed").into_response()
        }
    }
}
