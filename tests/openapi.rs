//! The OpenAPI document is generated from the handlers, and every HTTP path CONTRACT.md names
//! (with its method) is in it, so the contract and the served API cannot drift apart.

use std::collections::BTreeSet;

/// CONTRACT.md's HTTP section as of this writing, for checkouts without ../shared beside them.
const CONTRACT_HTTP: &str = "`GET /health`, `GET /metrics` `GET /api/brain/hitl/workflows`, \
    `GET /api/brain/hitl/workflows/{id}`, `POST /api/brain/hitl/workflows/{id}/toggle?enabled=`, \
    `PUT /api/brain/hitl/workflows/{id}/confidence?threshold=`, `PUT /api/brain/hitl/workflows/{id}/autonomy?level=`, \
    `GET /api/brain/hitl/decisions/pending`, `GET /api/brain/hitl/decisions/history`, \
    `GET /api/brain/hitl/decisions/{id}`, `POST /api/brain/hitl/decisions/{id}/approve`, \
    `POST /api/brain/hitl/decisions/{id}/reject` `GET /api/hitl/pending`, `POST /api/hitl/decision`, \
    `GET /api/hitl/metrics`, `GET /api/hitl/dashboard` `POST /onboarding/start`, `GET /onboarding/status/{session_id}`";

/// (method, path) pairs named in CONTRACT.md (the shared original when it is beside the
/// checkout, else the copy above).
fn contract_routes() -> BTreeSet<(String, String)> {
    let contract = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/CONTRACT.md"))
        .unwrap_or_else(|_| CONTRACT_HTTP.to_string());
    let mut routes = BTreeSet::new();
    for piece in contract.split('`') {
        let mut words = piece.split_whitespace();
        if let (Some(method), Some(path), None) = (words.next(), words.next(), words.next()) {
            if ["GET", "POST", "PUT", "DELETE"].contains(&method) && path.starts_with('/') {
                let path = path.split('?').next().unwrap_or(path);
                routes.insert((method.to_lowercase(), path.to_string()));
            }
        }
    }
    routes
}

#[test]
fn every_contract_path_is_in_the_generated_document() {
    let (_, doc) = overseer_supervisor::http::routes();
    let json = serde_json::to_value(&doc).expect("document serializes");
    let wanted = contract_routes();
    assert!(wanted.len() >= 18, "CONTRACT.md parsed into too few routes: {wanted:?}");
    for (method, path) in &wanted {
        assert!(
            json["paths"][path.as_str()][method.as_str()].is_object(),
            "{} {path} from CONTRACT.md is not served",
            method.to_uppercase()
        );
    }
    assert_eq!(json["openapi"].as_str().map(|v| v.starts_with("3.")), Some(true));
    assert!(json["components"]["schemas"]["ErrorBody"].is_object(), "errors are documented");
}

/// What the document says about access is the access table's: public routes need no
/// security; every other route names the bearer scheme and documents 401, 403 and 429 (writes
/// also 413 and 415), as the guard answers them.
#[test]
fn the_document_states_each_routes_access_as_the_guard_enforces_it() {
    use overseer_supervisor::http::access::{access, Access};
    let (_, doc) = overseer_supervisor::http::routes();
    let json = serde_json::to_value(&doc).expect("document serializes");
    let mut public = 0;
    for (path, item) in json["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("methods") {
            let m: axum::http::Method = method.to_uppercase().parse().expect("method");
            let codes = |wanted: &[&str]| wanted.iter().all(|c| op["responses"].get(*c).is_some());
            match access(&m, path, false) {
                Access::Public => {
                    public += 1;
                    assert_eq!(op["security"], serde_json::json!([]), "{method} {path} is public");
                }
                Access::Role(_) => {
                    assert!(
                        op.get("security").is_none_or(|s| s != &serde_json::json!([])),
                        "{method} {path}"
                    );
                    assert!(codes(&["401", "403", "429"]), "{method} {path}: {}", op["responses"]);
                    if m != axum::http::Method::GET {
                        assert!(codes(&["413", "415"]), "{method} {path}: {}", op["responses"]);
                    }
                }
            }
        }
    }
    assert!(public >= 5, "health, dashboard, login, logout, the Telegram webhook: {public}");
}

/// The ranges and choices the handlers enforce on query parameters are in the schema, so a
/// client generated from it (or schemathesis) does not send what is refused: every `limit`
/// has its bounds, confidences and thresholds 0..1, and the enumerations their patterns.
#[test]
fn query_parameters_state_the_ranges_and_choices_the_handlers_enforce() {
    let (_, doc) = overseer_supervisor::http::routes();
    let json = serde_json::to_value(&doc).expect("document serializes");
    let mut checked = 0;
    for (path, item) in json["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("methods") {
            for p in op["parameters"].as_array().cloned().unwrap_or_default() {
                let (name, schema) = (p["name"].as_str().unwrap_or_default(), &p["schema"]);
                let at = format!("{method} {path} {name}: {schema}");
                match name {
                    "limit" => assert!(schema["minimum"] == 1 && schema["maximum"].is_number(), "{at}"),
                    "min_confidence" | "max_confidence" | "threshold" => {
                        assert!(schema["minimum"] == 0 && schema["maximum"] == 1, "{at}")
                    }
                    "level" | "bucket" | "status" => assert!(schema["pattern"].is_string(), "{at}"),
                    _ => continue,
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "only {checked} parameters checked");
}

/// A decision item's `action` is one of the verdicts the handler takes, in the schema too.
#[test]
fn a_decision_items_action_is_an_enumerated_verdict() {
    let (_, doc) = overseer_supervisor::http::routes();
    let json = serde_json::to_value(&doc).expect("document serializes");
    let schemas = &json["components"]["schemas"];
    let request = &schemas["DecisionRequestBody"]["anyOf"];
    let batch_item = &request[0]["properties"]["decisions"]["items"]["properties"]["action"];
    let item = &request[1]["properties"]["action"];
    let family = &schemas["FamilyItemBody"]["properties"]["action"];
    for action in [batch_item, item, family] {
        assert_eq!(action["pattern"], "^(approve|approved|reject|rejected)$", "{request} {family}");
    }
    assert_eq!(request[0]["properties"]["decisions"]["maxItems"], 200, "{request}");
}
