//! The guard every request passes before its handler: the Host allow-list (DNS rebinding),
//! the route's access rule, the caller's token (bearer header, or the dashboard's session
//! cookie with its CSRF checks), its role, rate limits, the JSON content type of bodies; then,
//! after the handler, the audit record of every mutating request and of every authentication
//! or authorization failure. Handlers find the verified caller in the request's extensions
//! (the [`super::caller::Caller`] extractor).

use super::access::{access, mutating, Access};
use super::error::{ApiError, ErrorNote};
use super::AppState;
use crate::audit::{AccessRecord, AuditDetail, Auditor, Stream};
use crate::auth::keys::{KeyError, Verifier};
use crate::auth::limits::RateLimits;
use crate::auth::{csrf, AuthError, Principal};
use crate::config::HttpConfig;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// The dashboard's session cookie (HttpOnly: the token it holds is never readable by a page).
pub const SESSION_COOKIE: &str = "overseer_session";
/// The CSRF cookie the dashboard reads and echoes in [`CSRF_HEADER`].
pub const CSRF_COOKIE: &str = "overseer_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Everything the guard needs, built once at start.
pub struct Security {
    pub verifier: Verifier,
    pub limits: RateLimits,
    pub auditor: Auditor,
    /// Lower-case host names served; `*` serves any.
    pub hosts: Vec<String>,
    /// Origins trusted besides the API's own (CORS and cookie-session writes).
    pub origins: Vec<String>,
    pub metrics_public: bool,
    pub secure_cookies: bool,
}

impl Security {
    pub fn from_config(http: &HttpConfig, auditor: Auditor) -> Result<Self, KeyError> {
        Ok(Self {
            verifier: Verifier::from_config(&http.auth)?,
            limits: RateLimits::new(&http.rate_limit),
            auditor,
            hosts: http
                .allowed_hosts
                .iter()
                .map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase())
                .collect(),
            origins: http.cors_origins.clone(),
            metrics_public: http.metrics_public,
            secure_cookies: http.secure_cookies,
        })
    }

    fn host_allowed(&self, headers: &HeaderMap) -> bool {
        if self.hosts.iter().any(|h| h == "*") {
            return true;
        }
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else { return false };
        self.hosts.iter().any(|h| *h == host_name(host))
    }
}

/// The host name of a `Host` header value, without port and brackets, lower-case.
fn host_name(host: &str) -> String {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                name
            } else {
                host
            }
        }),
    };
    name.to_ascii_lowercase()
}

/// The verified caller's client address, for handlers.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

/// How the caller presented its token.
enum Credential {
    Bearer(String),
    Cookie(String),
}

fn credential(headers: &HeaderMap) -> Option<Credential> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let text = value.to_str().unwrap_or_default();
        return match text.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                Some(Credential::Bearer(token.trim().to_string()))
            }
            _ => Some(Credential::Bearer(String::new())),
        };
    }
    CookieJar::from_headers(headers).get(SESSION_COOKIE).map(|c| Credential::Cookie(c.value().to_string()))
}

fn too_many(wait: Duration) -> Response {
    metrics::counter!(crate::metrics::HTTP_RATE_LIMITED).increment(1);
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many requests; retry in {secs} s"),
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// A body (POST/PUT/PATCH with content) must say it is JSON.
fn json_body_ok(method: &Method, headers: &HeaderMap) -> bool {
    if !matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
        return true;
    }
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > 0);
    if !has_body {
        return true;
    }
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

fn unsupported() -> Response {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "a request body must be application/json",
    )
    .into_response()
}

/// Why a cookie-authenticated write is refused as possibly cross-site, if it is.
fn cross_site(sec: &Security, headers: &HeaderMap, session: &str) -> Option<&'static str> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        if !matches!(site, "same-origin" | "none") {
            return Some("cross-site request (Sec-Fetch-Site)");
        }
    }
    if let Some(origin) = text("origin") {
        let own = text("host").is_some_and(|host| {
            origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) == Some(host)
        });
        if !own && !sec.origins.iter().any(|o| o == origin) {
            return Some("request from a foreign origin");
        }
    }
    match text(CSRF_HEADER) {
        Some(t) if csrf::verify(session, t) => None,
        _ => Some("missing or invalid X-CSRF-Token"),
    }
}

struct Seen {
    action: String,
    target: String,
    client: Option<IpAddr>,
}

impl Seen {
    fn record(&self, who: Option<&Principal>, status: StatusCode, reason: Option<String>) -> AccessRecord {
        let outcome = match status.as_u16() {
            401 => "unauthenticated",
            403 => "forbidden",
            s if s >= 500 => "failed",
            s if s >= 400 => "refused",
            _ => "ok",
        };
        AccessRecord {
            audit_id: String::new(),
            at: crate::events::event::now(),
            subject: who.map(|p| p.subject.clone()),
            role: who.map(|p| p.role.to_string()),
            action: self.action.clone(),
            target: self.target.clone(),
            outcome: outcome.into(),
            status: status.as_u16(),
            reason,
            before: None,
            after: None,
            client: self.client.map(|c| c.to_string()),
        }
    }
}

fn refused(status: StatusCode, error: &'static str, detail: String) -> Response {
    let mut r = ApiError::new(status, error, detail).into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    r
}

/// The middleware (see the module's documentation).
pub(super) async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let sec = state.security.clone();
    if !sec.host_allowed(req.headers()) {
        metrics::counter!(crate::metrics::HTTP_REFUSED_HOSTS).increment(1);
        return ApiError::forbidden("this host name is not served here").into_response();
    }
    let client = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let ip = client.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let method = req.method().clone();
    // Unknown routes go on to the JSON 404; nothing runs for them.
    let Some(route) = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string()) else {
        return next.run(req).await;
    };
    let seen = Seen { action: format!("{method} {route}"), target: req.uri().path().to_string(), client };
    let writes = mutating(&method);
    let need = match access(&method, &route, sec.metrics_public) {
        Access::Public => {
            if writes {
                if let Err(wait) = sec.limits.address(ip) {
                    return too_many(wait);
                }
                if !json_body_ok(&method, req.headers()) {
                    return unsupported();
                }
            }
            let response = next.run(req).await;
            if seen.action.ends_with("/api/auth/login") || seen.action.ends_with("/telegram/webhook") {
                let note = response.extensions().get::<ErrorNote>().map(|n| n.0.clone());
                let who = response.extensions().get::<Principal>().cloned();
                let status = response.extensions().get::<AuditStatus>().map_or(response.status(), |s| s.0);
                audit_public_write(&sec, &seen, ip, status, note, who).await;
            }
            return response;
        }
        Access::Role(role) => role,
    };
    let verified = match credential(req.headers()) {
        None => Err(AuthError::Missing),
        Some(Credential::Bearer(t)) => sec.verifier.verify(&t).map(|p| (p, None)),
        Some(Credential::Cookie(t)) => sec.verifier.verify(&t).map(|p| (p, Some(t))),
    };
    let (principal, session) = match verified {
        Ok(ok) => ok,
        Err(e) => {
            metrics::counter!(crate::metrics::HTTP_AUTH_FAILURES, "reason" => e.code()).increment(1);
            if let Err(wait) = sec.limits.failure(ip) {
                return too_many(wait);
            }
            let record = seen.record(None, StatusCode::UNAUTHORIZED, Some(e.code().into()));
            sec.auditor.record(Stream::Denied, record).await;
            return refused(StatusCode::UNAUTHORIZED, "unauthorized", e.to_string());
        }
    };
    let denial = if principal.role < need {
        Some(format!("the {} role is needed; this token has {}", need, principal.role))
    } else if let (true, Some(session)) = (writes, session.as_deref()) {
        cross_site(&sec, req.headers(), session).map(str::to_string)
    } else {
        None
    };
    if let Some(detail) = denial {
        let record = seen.record(Some(&principal), StatusCode::FORBIDDEN, Some(detail.clone()));
        sec.auditor.record(Stream::Denied, record).await;
        return refused(StatusCode::FORBIDDEN, "forbidden", detail);
    }
    if writes {
        if let Err(wait) = sec.limits.subject(&principal.subject).and_then(|()| sec.limits.address(ip)) {
            return too_many(wait);
        }
        if !json_body_ok(&method, req.headers()) {
            return unsupported();
        }
    }
    req.extensions_mut().insert(principal.clone());
    req.extensions_mut().insert(ClientAddr(client));
    let response = next.run(req).await;
    let status = response.status();
    let stream = match status.as_u16() {
        401 | 403 => Stream::Denied,
        _ if writes => Stream::Actions,
        _ => return response,
    };
    let note = response.extensions().get::<ErrorNote>().map(|n| n.0.clone());
    let mut record = seen.record(Some(&principal), status, note);
    if let Some(detail) = response.extensions().get::<AuditDetail>() {
        record.before = detail.before.clone();
        record.after = detail.after.clone();
    }
    sec.auditor.record(stream, record).await;
    response
}

/// The outcome a public write's audit record states when its answer's status does not (the
/// Telegram webhook answers 200 to every verified update, refused presses included).
#[derive(Debug, Clone, Copy)]
pub struct AuditStatus(pub StatusCode);

/// Public writes that prove who is calling (logins, Telegram presses) are audited: a success
/// under the subject proved, a failure as denied (an authentication failure also counted
/// toward the address's failed-authentication pace).
async fn audit_public_write(
    sec: &Security,
    seen: &Seen,
    ip: IpAddr,
    status: StatusCode,
    note: Option<String>,
    who: Option<Principal>,
) {
    if status == StatusCode::UNAUTHORIZED {
        if sec.limits.failure(ip).is_err() {
            return;
        }
        sec.auditor.record(Stream::Denied, seen.record(None, status, note)).await;
    } else if status == StatusCode::FORBIDDEN {
        sec.auditor.record(Stream::Denied, seen.record(who.as_ref(), status, note)).await;
    } else {
        sec.auditor.record(Stream::Actions, seen.record(who.as_ref(), status, note)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_their_port() {
        assert_eq!(host_name("127.0.0.1:8001"), "127.0.0.1");
        assert_eq!(host_name("LocalHost"), "localhost");
        assert_eq!(host_name("[::1]:8001"), "::1");
        assert_eq!(host_name("evil.example:80"), "evil.example");
    }

    #[test]
    fn bodies_must_be_json() {
        let mut h = HeaderMap::new();
        assert!(json_body_ok(&Method::POST, &h), "no body");
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("5"));
        assert!(!json_body_ok(&Method::POST, &h));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(!json_body_ok(&Method::POST, &h));
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
        assert!(json_body_ok(&Method::POST, &h));
        assert!(json_body_ok(&Method::GET, &HeaderMap::new()));
    }
}
