//! Who may call each route: one table, read by the guard for every request. A route missing
//! from it needs the admin role (fail closed); a test checks every route of the OpenAPI
//! document against it.

use crate::auth::Role;
use axum::http::Method;

/// What a route asks of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: liveness, the static dashboard page, the login exchange itself.
    Public,
    /// A verified caller with at least this role.
    Role(Role),
}

/// The access rule of `method` on the route `path` (axum's matched path, e.g.
/// `/api/brain/hitl/decisions/{id}/approve`).
pub fn access(method: &Method, path: &str, metrics_public: bool) -> Access {
    use Access::Public;
    let viewer = Access::Role(Role::Viewer);
    let approver = Access::Role(Role::Approver);
    let admin = Access::Role(Role::Admin);
    // HEAD is GET without the body.
    let method = if method == Method::HEAD { "GET" } else { method.as_str() };
    match (method, path) {
        ("GET", "/health" | "/ready" | "/api/hitl/dashboard" | "/api/hitl/dashboard/{asset}") => Public,
        ("GET", "/metrics") if metrics_public => Public,
        ("POST", "/api/auth/login" | "/api/auth/logout") => Public,
        // Telegram holds no token: the handler verifies the webhook secret instead.
        ("POST", "/telegram/webhook") => Public,
        ("GET", "/metrics" | "/api/openapi.json" | "/api/auth/session") => viewer,
        ("GET", p) if p.starts_with("/api/brain/hitl/decisions/") => viewer,
        ("GET", "/api/hitl/pending" | "/api/hitl/stream") => viewer,
        ("POST", "/api/brain/hitl/decisions/{id}/check-edit") => approver,
        ("GET", "/api/brain/hitl/workflows" | "/api/brain/hitl/workflows/{id}" | "/api/hitl/metrics") => {
            viewer
        }
        ("GET", "/onboarding/status/{session_id}" | "/agents/health" | "/agents/confidence-stats") => viewer,
        ("GET", "/api/brain/hitl/analytics/confidence") => viewer,
        ("GET", "/telegram/approval-status/{request_id}" | "/telegram/pending-approvals") => viewer,
        ("POST", "/telegram/approval-request" | "/telegram/approval-response") => approver,
        ("POST", "/api/brain/hitl/decisions/{id}/approve" | "/api/brain/hitl/decisions/{id}/reject") => {
            approver
        }
        ("POST", "/api/hitl/decision" | "/onboarding/start" | "/onboarding/approve/{session_id}") => approver,
        (
            "POST",
            "/api/brain/seo/workflows/hitl/approve" | "/api/brain/content-marketing/workflows/hitl/approve",
        ) => approver,
        ("POST", "/api/brain/hitl/workflows/{id}/toggle") => admin,
        ("PUT", "/api/brain/hitl/workflows/{id}/confidence" | "/api/brain/hitl/workflows/{id}/autonomy") => {
            admin
        }
        ("GET", "/api/hitl/audit" | "/api/audit") => admin,
        (_, p) if p.starts_with("/api/supervisor/") => admin,
        _ => admin,
    }
}

/// Routes that change state (audited, rate-limited, CSRF-checked for cookie sessions).
pub fn mutating(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_follow_the_table_and_unknown_routes_need_admin() {
        assert_eq!(access(&Method::GET, "/health", false), Access::Public);
        assert_eq!(access(&Method::HEAD, "/health", false), Access::Public);
        assert_eq!(access(&Method::GET, "/metrics", false), Access::Role(Role::Viewer));
        assert_eq!(access(&Method::GET, "/metrics", true), Access::Public);
        assert_eq!(
            access(&Method::POST, "/api/brain/hitl/decisions/{id}/approve", false),
            Access::Role(Role::Approver)
        );
        assert_eq!(
            access(&Method::PUT, "/api/brain/hitl/workflows/{id}/autonomy", false),
            Access::Role(Role::Admin)
        );
        assert_eq!(
            access(&Method::DELETE, "/api/brain/hitl/decisions/{id}", false),
            Access::Role(Role::Admin)
        );
        assert_eq!(access(&Method::GET, "/api/supervisor/tree", false), Access::Role(Role::Admin));
    }
}
