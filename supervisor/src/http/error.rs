//! API errors as CONTRACT.md gives them: JSON `{"error": "...", "detail": "..."}` with a fitting
//! status. Internal error text (store, broker) never reaches a client: it is logged instead.
//! [`json_errors`] turns every other error answer (an extractor's rejection, an unknown route,
//! a wrong method, a body too large, a timeout) into the same shape.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Every error's JSON body (for the OpenAPI document).
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    /// A short code: bad_request, unauthorized, forbidden, not_found, conflict, expired, too_large,
    /// unsupported_media_type, rate_limited, unavailable, ...
    error: String,
    /// What went wrong, for a person.
    detail: String,
}

/// An error answer's detail, kept on the response for the audit record.
#[derive(Debug, Clone)]
pub struct ErrorNote(pub String);

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

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
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
        let mut response = (self.status, Json(body)).into_response();
        response.extensions_mut().insert(ErrorNote(self.detail));
        response
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

/// The short code of an error status.
fn code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 422 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        408 | 503 | 504 => "unavailable",
        409 => "conflict",
        410 => "expired",
        413 => "too_large",
        415 => "unsupported_media_type",
        429 => "rate_limited",
        _ => "error",
    }
}

/// Longest plain-text detail carried over into a JSON error.
const MAX_DETAIL: usize = 512;

/// Any error answer that is not JSON already becomes `{"error", "detail"}` (status kept).
pub(super) async fn json_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if status.as_u16() < 400 || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_DETAIL * 4).await.unwrap_or_default();
    let mut detail: String = String::from_utf8_lossy(&text).chars().take(MAX_DETAIL).collect();
    if detail.trim().is_empty() {
        detail = status.canonical_reason().unwrap_or("error").to_string();
    }
    let body = json!({"error": code(status), "detail": detail}).to_string();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// Unknown routes.
pub(super) async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}
