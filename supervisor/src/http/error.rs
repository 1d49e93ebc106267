//! API errors as CONTRACT.md gives them: JSON `{"error": "...", "detail": "..."}` with a fitting
//! status. Internal error text (store, broker) never reaches a client: it is logged instead.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Every error's JSON body (for the OpenAPI document).
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    /// A short code: bad_request, not_found, conflict, expired, forbidden, unavailable, ...
    error: String,
    /// What went wrong, for a person.
    detail: String,
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    error: &'static str,
    detail: String,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &'static str, detail: impl Into<String>) -> Self {
        Self { status, error, detail: detail.into() }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The error as the JSON body the API answers with.
    pub fn body(&self) -> serde_json::Value {
        json!({"error": self.error, "detail": self.detail})
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

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
        let body = self.body();
        (self.status, Json(body)).into_response()
    }
}

/// A query string that does not parse is a JSON 400 like every other error.
impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        Self::bad_request(e.body_text())
    }
}

/// A body that is not the JSON expected: 400 (413 when too large), as JSON.
impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.body_text());
        }
        Self::bad_request(e.body_text())
    }
}
