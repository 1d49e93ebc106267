//! Browser sessions for the dashboard: `POST /api/auth/login` exchanges a token for an HttpOnly,
//! SameSite=Strict session cookie (Secure when `http.secure_cookies`) and a CSRF token the page
//! echoes in `X-CSRF-Token`; `POST /api/auth/logout` clears both; `GET /api/auth/session` says
//! who the caller is.

use super::caller::Caller;
use super::error::{ApiError, ErrorBody};
use super::guard::{CSRF_COOKIE, SESSION_COOKIE};
use super::AppState;
use crate::auth::csrf;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;
use serde_json::json;
use std::time::{SystemTime, UNIX_EPOCH};

/// The login body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Login {
    /// A bearer token (JWT) that verifies here.
    token: String,
}

super::schemas::body_schema!(
    /// `POST /api/auth/login`'s body.
    LoginBody = Login
);

fn session_cookie(
    name: &'static str,
    value: String,
    max_age: i64,
    http_only: bool,
    secure: bool,
) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(http_only)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age))
        .build()
}

#[utoipa::path(post, path = "/api/auth/login", tag = "auth", operation_id = "login",
    request_body(content = LoginBody, content_type = "application/json"),
    responses((status = 200, description = "subject, role, expires_at, csrf_token; sets the session and CSRF cookies"), (status = 400, description = "Bad input", body = ErrorBody), (status = 401, description = "The token does not verify", body = ErrorBody), (status = 415, description = "Not JSON", body = ErrorBody), (status = 429, description = "Too many attempts", body = ErrorBody)))]
pub(super) async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    body: Bytes,
) -> Result<Response, ApiError> {
    let login = LoginBody::parse(&body)?;
    let principal = state
        .security
        .verifier
        .verify(login.token.trim())
        .map_err(|e| ApiError::unauthorized(e.to_string()))?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let max_age = principal.expires_at.saturating_sub(now) as i64;
    let secure = state.security.secure_cookies;
    let token = csrf::token_for(login.token.trim());
    let jar = jar
        .add(session_cookie(SESSION_COOKIE, login.token.trim().to_string(), max_age, true, secure))
        .add(session_cookie(CSRF_COOKIE, token.clone(), max_age, false, secure));
    let body = json!({
        "subject": principal.subject,
        "role": principal.role,
        "workflows": principal.workflows,
        "expires_at": principal.expires_at,
        "csrf_token": token,
    });
    let mut response = (jar, Json(body)).into_response();
    response.extensions_mut().insert(principal);
    Ok(response)
}

#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", operation_id = "logout",
    responses((status = 200, description = "The session cookies are cleared")))]
pub(super) async fn logout(State(state): State<AppState>, jar: CookieJar) -> Response {
    let secure = state.security.secure_cookies;
    let jar = jar.add(session_cookie(SESSION_COOKIE, String::new(), 0, true, secure)).add(session_cookie(
        CSRF_COOKIE,
        String::new(),
        0,
        false,
        secure,
    ));
    (jar, Json(json!({"message": "logged out"}))).into_response()
}

#[utoipa::path(get, path = "/api/auth/session", tag = "auth", operation_id = "session",
    responses((status = 200, description = "subject, role, groups, workflows, expires_at of the caller"), (status = 401, description = "No valid token", body = ErrorBody)))]
pub(super) async fn session(caller: Caller) -> Json<serde_json::Value> {
    let p = caller.principal;
    Json(
        json!({"subject": p.subject, "role": p.role, "groups": p.groups, "workflows": p.workflows, "expires_at": p.expires_at}),
    )
}
