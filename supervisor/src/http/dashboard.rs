//! The dashboard: `GET /api/hitl/dashboard` (the page) and `GET /api/hitl/dashboard/{asset}`
//! (its scripts, styles and the vendored chart library), all compiled into the binary. The
//! page's content security policy allows scripts and styles from this origin only: everything
//! the API answers is put on the page as text, never as HTML.

use super::error::{ApiError, ErrorBody};
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The page's files: name, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("app.js", "text/javascript", include_bytes!("dashboard/app.js")),
    ("api.js", "text/javascript", include_bytes!("dashboard/api.js")),
    ("dom.js", "text/javascript", include_bytes!("dashboard/dom.js")),
    ("inbox.js", "text/javascript", include_bytes!("dashboard/inbox.js")),
    ("decision.js", "text/javascript", include_bytes!("dashboard/decision.js")),
    ("workflows.js", "text/javascript", include_bytes!("dashboard/workflows.js")),
    ("history.js", "text/javascript", include_bytes!("dashboard/history.js")),
    ("analytics.js", "text/javascript", include_bytes!("dashboard/analytics.js")),
    ("operations.js", "text/javascript", include_bytes!("dashboard/operations.js")),
    ("style.css", "text/css", include_bytes!("dashboard/style.css")),
    ("uPlot.iife.min.js", "text/javascript", include_bytes!("dashboard/vendor/uPlot.iife.min.js")),
    ("uPlot.min.css", "text/css", include_bytes!("dashboard/vendor/uPlot.min.css")),
    ("uPlot.LICENSE", "text/plain; charset=utf-8", include_bytes!("dashboard/vendor/uPlot.LICENSE")),
];

/// The dashboard page (it signs in with a token and keeps the session in a cookie).
#[utoipa::path(get, path = "/api/hitl/dashboard", tag = "decisions", operation_id = "dashboard",
    responses((status = 200, description = "An HTML page", content_type = "text/html")))]
pub(super) async fn page() -> impl IntoResponse {
    ([("content-security-policy", POLICY)], axum::response::Html(include_str!("dashboard/index.html")))
}

/// One of the page's files.
#[utoipa::path(get, path = "/api/hitl/dashboard/{asset}", tag = "decisions", operation_id = "dashboard_asset",
    params(("asset" = String, Path, description = "A file of the page, e.g. app.js")),
    responses((status = 200, description = "The file"), (status = 404, description = "No such file", body = ErrorBody)))]
pub(super) async fn asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    let (_, kind, bytes) = ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| ApiError::not_found(format!("the dashboard has no file `{name}`")))?;
    Ok(([(header::CONTENT_TYPE, *kind), (header::CACHE_CONTROL, "no-cache")], *bytes).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_the_page_and_its_modules_load_is_served() {
        let page = include_str!("dashboard/index.html");
        let mut wanted: Vec<String> = Vec::new();
        let mut refs = |text: &str, marker: &str| {
            for part in text.split(marker).skip(1) {
                if let Some(end) = part.find(['"', '\'']) {
                    let name = part[..end].rsplit('/').next().unwrap_or_default().to_string();
                    wanted.push(name);
                }
            }
        };
        refs(page, "/api/hitl/dashboard/");
        for (name, _, bytes) in
            ASSETS.iter().filter(|(n, _, _)| n.ends_with(".js") && !n.starts_with("uPlot"))
        {
            let text = std::str::from_utf8(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            refs(text, "from \"./");
        }
        assert!(wanted.len() > 5, "{wanted:?}");
        for name in wanted {
            assert!(ASSETS.iter().any(|(n, _, _)| *n == name), "`{name}` is loaded but not served");
        }
    }
}
