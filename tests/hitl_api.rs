//! The seed's decision read endpoints on a running replica (real RabbitMQ, Redis, Kafka).

mod common;

use common::llm_server::{order_proposal, Reply};
use common::runtime::TestEnv;
use serde_json::{json, Value};
use std::collections::HashSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_decisions_are_listed_and_shown_with_the_seed_field_names() {
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(0.99, json!([{"action": "fulfil"}]))));
    let config = env.config(&[]);
    let running = env.start(&config, &["auto_orders"]).await;
    let (by_decision, _watch) = env.park_orders(3, "payment_processing").await;
    let parked: HashSet<String> = by_decision.keys().cloned().collect();

    let api = format!("http://{}/api/brain/hitl/decisions", running.http_addr);
    let list: Value =
        common::auth::get(format!("{api}/pending")).await.expect("list").json().await.expect("JSON");
    let listed: HashSet<String> = list["decisions"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|d| d["decision_id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(listed, parked, "{list}");
    for d in list["decisions"].as_array().expect("array") {
        for field in [
            "decision_id",
            "workflow_id",
            "confidence",
            "status",
            "created_at",
            "expires_at",
            "decision_data",
        ] {
            assert!(d.get(field).is_some_and(|v| !v.is_null()), "{field} missing: {d}");
        }
        assert_eq!(d["status"], "pending_approval");
        assert_eq!(d["workflow_id"], "payment_processing");
    }

    let id = parked.iter().next().expect("one").clone();
    let one: Value = common::auth::get(format!("{api}/{id}")).await.expect("get").json().await.expect("JSON");
    assert_eq!(one["decision_id"], id.as_str());
    assert!(one["decision_data"]["proposal"]["actions"].is_array(), "{one}");

    let missing = common::auth::get(format!("{api}/dec_nope")).await.expect("get");
    assert_eq!(missing.status(), reqwest::StatusCode::NOT_FOUND);
    let body: Value = missing.json().await.expect("JSON error");
    assert_eq!(body["error"], "not_found");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("dec_nope")), "{body}");
    let bad = common::auth::get(format!("{api}/pending?limit=0")).await.expect("get");
    assert_eq!(bad.status(), reqwest::StatusCode::BAD_REQUEST);

    // /api/hitl/pending: pages that cover everything once, and filters.
    let general = format!("http://{}/api/hitl/pending", running.http_addr);
    let get = |query: String| {
        let url = format!("{general}?{query}");
        async move { common::auth::get(url).await.expect("get").json::<Value>().await.expect("JSON") }
    };
    let first = get("limit=2".into()).await;
    assert_eq!(first["count"], 2, "{first}");
    let cursor = first["next_cursor"].as_str().expect("a next page").to_string();
    let second = get(format!("limit=2&cursor={cursor}")).await;
    assert_eq!(second["count"], 1, "{second}");
    assert!(second["next_cursor"].is_null(), "{second}");
    let paged: HashSet<String> = [&first, &second]
        .iter()
        .flat_map(|p| p["decisions"].as_array().cloned().unwrap_or_default())
        .filter_map(|d| d["decision_id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(paged, parked);
    assert_eq!(get("workflow=payment_processing".into()).await["count"], 3);
    assert_eq!(get("workflow=lead_processing".into()).await["count"], 0);
    assert_eq!(
        get("min_confidence=0.99&max_confidence=1".into()).await["count"],
        3,
        "confidence is 0.4 + 0.6 × 0.99"
    );
    assert_eq!(get("min_confidence=0.999".into()).await["count"], 0);
    assert_eq!(get("older_than=3600".into()).await["count"], 0);
    let bad_cursor = common::auth::get(format!("{general}?cursor=garbage")).await.expect("get");
    assert_eq!(bad_cursor.status(), reqwest::StatusCode::BAD_REQUEST);

    // The OpenAPI document and the dashboard are served.
    let doc: Value = common::auth::get(format!("http://{}/api/openapi.json", running.http_addr))
        .await
        .expect("openapi")
        .json()
        .await
        .expect("JSON");
    assert!(doc["paths"]["/api/brain/hitl/decisions/{id}/approve"]["post"].is_object(), "{doc}");
    let page = common::auth::get(format!("http://{}/api/hitl/dashboard", running.http_addr))
        .await
        .expect("dashboard");
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    let policy =
        page.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"), "{policy}");
    let html = page.text().await.expect("text");
    assert!(html.contains("/api/hitl/dashboard/app.js"), "the page loads its module");
    // Values from the API go on the page as text: no script of the page writes HTML.
    for module in
        ["app", "api", "dom", "inbox", "decision", "workflows", "history", "analytics", "operations"]
    {
        let r = common::auth::get(format!("http://{}/api/hitl/dashboard/{module}.js", running.http_addr))
            .await
            .expect("asset");
        assert_eq!(r.status(), reqwest::StatusCode::OK, "{module}.js");
        assert_eq!(r.headers()["content-type"], "text/javascript");
        let code = r.text().await.expect("text");
        for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("] {
            assert!(!code.contains(sink), "{module}.js uses {sink}");
        }
    }
    let missing = common::auth::get(format!("http://{}/api/hitl/dashboard/Cargo.toml", running.http_addr))
        .await
        .expect("asset");
    assert_eq!(missing.status(), reqwest::StatusCode::NOT_FOUND);
    running.shutdown().await;
}

/// A filter that matches nothing reads a bounded number of decisions per request (1,000 of
/// the 1,200 here) and answers a cursor to go on, instead of reading every pending decision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_matching_nothing_does_bounded_work() {
    let env = TestEnv::new().await;
    let config = env.config(&[]);
    let running = env.start(&config, &[]).await;
    for _ in 0..12 {
        let parks = (0..100).map(|_| env.park_direct(&config, "payment_processing"));
        futures_util::future::join_all(parks).await;
    }
    let url = format!("http://{}/api/hitl/pending?limit=500&min_confidence=0.99", running.http_addr);
    let first: Value = common::auth::get(&url).await.expect("list").json().await.expect("JSON");
    assert_eq!(first["decisions"].as_array().map(Vec::len), Some(0), "nothing matches");
    let cursor = first["next_cursor"].as_str().expect("stopped before reading all 1,200").to_string();
    let second: Value =
        common::auth::get(format!("{url}&cursor={cursor}")).await.expect("list").json().await.expect("JSON");
    assert_eq!(second["decisions"].as_array().map(Vec::len), Some(0));
    assert!(second["next_cursor"].is_null(), "the rest fits in one more request: {second}");
    running.shutdown().await;
}
