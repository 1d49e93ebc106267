//! What the OpenAPI document says about access, derived from the one access table
//! ([`super::access`]) so the two cannot disagree: a public route says it needs no security;
//! every other route names the bearer scheme and documents the guard's answers (401 without a
//! verified token, 403 for a role too low, 429 when rate limited; writes also 413 for a body
//! past the limit and 415 for a body that is not JSON), each with the JSON error body.

use super::access::{access, mutating, Access};
use axum::http::Method;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

fn error(description: &str) -> RefOr<utoipa::openapi::Response> {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
    RefOr::T(ResponseBuilder::new().description(description).content("application/json", content).build())
}

fn describe(method: &Method, path: &str, op: &mut Operation) {
    if access(method, path, false) == Access::Public {
        op.security = Some(Vec::new());
        return;
    }
    let mut add = |code: &str, description: &str| {
        op.responses.responses.entry(code.to_string()).or_insert_with(|| error(description));
    };
    add("401", "No verified token (missing, expired, not signed by a trusted key)");
    add("403", "The token's role is too low for this route");
    add("429", "Rate limited; Retry-After says when to try again");
    if mutating(method) {
        add("413", "The body is larger than the limit");
        add("415", "The body is not JSON");
    }
}

/// Documents every operation of `doc` by the access table.
pub(super) fn access_of_every_route(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [
            (Method::GET, &mut item.get),
            (Method::POST, &mut item.post),
            (Method::PUT, &mut item.put),
            (Method::DELETE, &mut item.delete),
        ];
        for (method, op) in ops {
            if let Some(op) = op.as_mut() {
                describe(&method, path, op);
            }
        }
    }
}
