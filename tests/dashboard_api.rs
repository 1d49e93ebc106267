//! The API the dashboard stands on, against Redis: the live feed (Server-Sent Events: hello,
//! then the decisions that came and went), the editor's check of an edit (the approval's own
//! checks, nothing decided), and the history's approver and text filters.

mod common;

use common::auth::client_as;
use common::runtime::TestEnv;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Reads the event stream until an event of `kind` whose data contains `needle` arrives.
async fn next_event(stream: &mut reqwest::Response, buffer: &mut String, kind: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if event.contains(&format!("event: {kind}\n")) && event.contains(needle) {
                return event;
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, stream.chunk())
            .await
            .unwrap_or_else(|_| panic!("no `{kind}` event with `{needle}` in time; read {buffer:?}"))
            .expect("stream")
            .expect("the stream stays open");
        buffer.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_feed_the_edit_check_and_the_history_filters() {
    let env = TestEnv::new().await;
    let config = env.config(&[]);
    let running = env.start(&config, &[]).await;
    let api = format!("http://{}/api", running.http_addr);
    let viewer = client_as("vic", "viewer");

    // The feed: hello first, then the decisions parked and decided after it.
    let mut stream = viewer.get(format!("{api}/hitl/stream")).send().await.expect("stream");
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let mut buffer = String::new();
    next_event(&mut stream, &mut buffer, "hello", "").await;
    let first = env.park_direct(&config, "order_processing").await;
    let change = next_event(&mut stream, &mut buffer, "change", &first).await;
    assert!(change.contains("\"added\":[") && change.contains("\"pending\":1"), "{change}");
    let anonymous = reqwest::Client::new().get(format!("{api}/hitl/stream")).send().await.expect("stream");
    assert_eq!(anonymous.status(), 401, "the feed needs a verified caller");

    // The edit check: the approval's checks (schema, policy, who may decide), nothing decided.
    let ada = client_as("ada", "approver");
    let check = |id: &str, who: &reqwest::Client, edited: Value| {
        let request =
            who.post(format!("{api}/brain/hitl/decisions/{id}/check-edit")).json(&json!({"edited": edited}));
        async move {
            let r = request.send().await.expect("check");
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or_default())
        }
    };
    let proposal = |amount: f64| json!({"summary": "refund", "model_confidence": 0.5, "actions": [{"action": "refund", "amount": amount}], "details": {"order_valid": true, "issues": [], "fraud_risk": "low"}});
    let (code, body) = check(&first, &ada, proposal(5.0)).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        (body["ok"].as_bool(), body["proposal"]["actions"][0]["amount"].as_f64()),
        (Some(true), Some(5.0))
    );
    let (code, body) = check(&first, &ada, proposal(5000.0)).await;
    assert_eq!(code, 400, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("refund_limit")), "{body}");
    let (code, body) = check(&first, &ada, json!({"actions": "all of them"})).await;
    assert_eq!(code, 400, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("schema")), "{body}");
    let (code, _) = check(&first, &viewer, proposal(5.0)).await;
    assert_eq!(code, 403, "a viewer may not check edits");
    let (code, _) = check("dec_20990101_000000_000000", &ada, proposal(5.0)).await;
    assert_eq!(code, 404);
    let shown: Value = ada
        .get(format!("{api}/brain/hitl/decisions/{first}"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("JSON");
    assert_eq!(shown["status"], "pending_approval", "checking decided nothing: {shown}");

    // Deciding shows in the feed as removed; the history filters by approver and by text.
    let second = env.park_direct(&config, "order_processing").await;
    next_event(&mut stream, &mut buffer, "change", &second).await;
    let decide = |id: &str, user: &str, verdict: &str, feedback: &str| {
        let request = client_as(user, "approver")
            .post(format!("{api}/brain/hitl/decisions/{id}/{verdict}"))
            .json(&json!({"feedback": feedback}));
        async move { request.send().await.expect("decide").status().as_u16() }
    };
    assert_eq!(decide(&first, "ada", "approve", "Alpha looks fine").await, 200);
    let removed = next_event(&mut stream, &mut buffer, "change", &first).await;
    assert!(removed.contains("\"removed\":["), "{removed}");
    assert_eq!(decide(&second, "bob", "reject", "beta is wrong").await, 200);
    let history = |query: &str| {
        let request = viewer.get(format!("{api}/brain/hitl/decisions/history?{query}"));
        async move {
            let r = request.send().await.expect("history");
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or_default();
            let ids: Vec<String> = body["decisions"]
                .as_array()
                .map(|d| d.iter().filter_map(|d| d["decision_id"].as_str().map(String::from)).collect())
                .unwrap_or_default();
            (status, ids)
        }
    };
    assert_eq!(history("decided_by=bob").await, (200, vec![second.clone()]));
    assert_eq!(history("q=ALPHA").await, (200, vec![first.clone()]), "the search ignores case");
    assert_eq!(
        history(&format!("q={}", &second[4..])).await,
        (200, vec![second.clone()]),
        "ids are searched"
    );
    assert_eq!(history("q=alpha&decided_by=bob").await, (200, vec![]));
    assert_eq!(history(&format!("q={}", "x".repeat(201))).await.0, 400);
    let pending = viewer.get(format!("{api}/hitl/pending?decided_by=ada")).send().await.expect("pending");
    assert_eq!(pending.status(), 400, "decided_by filters the history only");

    // Shutting down ends the open stream instead of waiting for it (the HTTP server's
    // graceful stop would otherwise hold until its bounded step gives up, 5 s).
    let stopping = Instant::now();
    running.shutdown().await;
    let took = stopping.elapsed();
    assert!(took < Duration::from_secs(4), "shutdown took {took:?} with a live feed open");
    let ended = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the live feed ended with the replica");
}
