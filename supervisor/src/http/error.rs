//! API errors as CONTRACT.md gives them: JSON `{"error": "...", "detail": "..."}` with a fitting
//! status. Internal error text (store, broker) never reaches a client: it is logged instead.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    error: &'static str,
    detail: String,
}

impl ApiError {
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self { status: StatusCode::NOT_FOUND, error: "not_found", detail: detail.into() }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, error: "bad_request", detail: detail.into() }
    }

    /// A backing service failed: the client learns which kind, the log gets the details.
    pub fn unavailable(what: &str, internal: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %internal, "{what} unavailable while serving a request");
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error: "unavailable",
            detail: format!("{what} is unavailable; try again"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error": self.error, "detail": self.detail}))).into_response()
    }
}
