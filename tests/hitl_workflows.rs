//! Workflow changes through one replica's API (toggle, threshold, autonomy) route the next
//! task on a second replica, reach it within a second, and are audited.

mod common;

use common::kafka_watch::KafkaWatch;
use common::llm_server::{order_proposal, Reply};
use common::runtime::{order, TestEnv};
use overseer_supervisor::runtime::Running;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::{Duration, Instant};

const WF: &str = "payment_processing";

async fn change(a: &Running, method: reqwest::Method, what: &str) -> (u16, Value) {
    let url = format!("http://{}/api/brain/hitl/workflows/{WF}/{what}", a.http_addr);
    let r = common::auth::client_as("ada", "admin").request(method, url).send().await.expect("request");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Waits until replica `b` shows `field` = `value`; returns how long that took.
async fn seen_by(b: &Running, field: &str, value: &Value) -> Duration {
    let started = Instant::now();
    let url = format!("http://{}/api/brain/hitl/workflows/{WF}", b.http_addr);
    while started.elapsed() < Duration::from_secs(5) {
        let w: Value = common::auth::get(&url).await.expect("get").json().await.expect("JSON");
        if &w[field] == value {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("replica b never saw {field} = {value}");
}

/// Submits one order to `b` and says how it was routed: `hitl` or the execution mode.
async fn route_of_next_task(env: &TestEnv) -> String {
    let config = env.config(&[]);
    let watch = KafkaWatch::start(&["hitl.requests", "ai.completions"]);
    let id = format!("ord-{}", uuid::Uuid::new_v4());
    env.submit(&config, "auto_orders", &order(&id, Some(WF)), 1).await;
    let ids: HashSet<String> = [id].into();
    let seen = watch.collect(&ids, Duration::from_secs(20), |s| !s.is_empty());
    match seen.first() {
        Some((topic, _)) if topic == "hitl.requests" => "hitl".into(),
        Some((_, e)) => e["execution_mode"].as_str().unwrap_or("?").into(),
        None => panic!("the task was neither parked nor executed"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_through_one_replica_route_the_next_task_on_another() {
    let env = TestEnv::new().await;
    // Combined confidence 0.4 + 0.6 × 0.99 ≈ 0.994.
    env.llm.set_default(Reply::content(order_proposal(0.99, json!([{"action": "fulfil"}]))));
    // The tasks name payment_processing, which this test makes looser than auto_orders' own
    // workflow: only the queue's allow-list lets them run under it (else workflow_not_allowed).
    let config =
        env.config(&[("OVERSEER__QUEUES__AUTO_ORDERS__ALLOWED_WORKFLOWS", "[\"payment_processing\"]")]);
    let a = env.start(&config, &["auto_analytics"]).await;
    let b = env.start(&config, &["auto_orders"]).await;
    assert_eq!(route_of_next_task(&env).await, "hitl", "supervised by default");

    let (code, body) = change(&a, reqwest::Method::PUT, "autonomy?level=autonomous").await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["autonomy_level"], "autonomous");
    let took = seen_by(&b, "autonomy_level", &json!("autonomous")).await;
    assert!(took < Duration::from_secs(1), "reached the other replica after {took:?}");
    assert_eq!(route_of_next_task(&env).await, "autonomous");

    let (code, _) = change(&a, reqwest::Method::PUT, "autonomy?level=2").await;
    assert_eq!(code, 200);
    let (code, body) = change(&a, reqwest::Method::PUT, "confidence?threshold=1.0").await;
    assert_eq!((code, body["confidence_threshold"].as_f64()), (200, Some(1.0)), "{body}");
    seen_by(&b, "confidence_threshold", &json!(1.0)).await;
    assert_eq!(route_of_next_task(&env).await, "hitl", "assisted, below the threshold");
    let (code, _) = change(&a, reqwest::Method::PUT, "confidence?threshold=0.5").await;
    assert_eq!(code, 200);
    seen_by(&b, "confidence_threshold", &json!(0.5)).await;
    assert_eq!(route_of_next_task(&env).await, "autonomous", "assisted, above the threshold");

    let (code, _) = change(&a, reqwest::Method::PUT, "autonomy?level=supervised").await;
    assert_eq!(code, 200);
    let (code, body) = change(&a, reqwest::Method::POST, "toggle?enabled=false").await;
    assert_eq!((code, body["hitl_enabled"].as_bool()), (200, Some(false)), "{body}");
    seen_by(&b, "hitl_enabled", &json!(false)).await;
    assert_eq!(route_of_next_task(&env).await, "autonomous", "HITL off");

    // Every change is audited with who, before and after; newest first.
    let audit: Value = common::auth::get(format!("http://{}/api/hitl/audit?limit=10", b.http_addr))
        .await
        .expect("audit")
        .json()
        .await
        .expect("JSON");
    let entries = audit["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 6, "{audit}");
    assert_eq!(entries[0]["field"], "hitl_enabled");
    assert_eq!((entries[0]["before"].clone(), entries[0]["after"].clone()), (json!(true), json!(false)));
    assert_eq!(entries[0]["by"]["user"], "ada");
    assert_eq!(entries[0]["by"]["from"], "127.0.0.1");
    assert_eq!(entries[5]["before"], "supervised");
    assert_eq!(entries[5]["after"], "autonomous");

    // Bad changes: clear JSON errors, nothing changed.
    for (method, what, status) in [
        (reqwest::Method::PUT, "confidence?threshold=1.5", 400),
        (reqwest::Method::PUT, "confidence", 400),
        (reqwest::Method::PUT, "confidence?threshold=abc", 400),
        (reqwest::Method::PUT, "autonomy?level=yolo", 400),
        (reqwest::Method::POST, "toggle?enabled=maybe", 400),
    ] {
        let (code, body) = change(&a, method, what).await;
        assert_eq!(code, status, "{what}: {body}");
        assert!(body["error"].is_string() && body["detail"].is_string(), "{what}: {body}");
    }
    let missing = common::auth::admin()
        .put(format!("http://{}/api/brain/hitl/workflows/nope/confidence?threshold=0.5", a.http_addr))
        .send()
        .await
        .expect("put");
    assert_eq!(missing.status().as_u16(), 404);
    let list: Value = common::auth::get(format!("http://{}/api/brain/hitl/workflows", a.http_addr))
        .await
        .expect("list")
        .json()
        .await
        .expect("JSON");
    // The seed's shape: the total and the ids, sorted; each workflow in full beside them.
    assert_eq!(list["total"], 9, "{list}");
    let ids: Vec<&str> =
        list["workflows"].as_array().expect("ids").iter().filter_map(Value::as_str).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!((ids.len(), ids.clone()), (9, sorted));
    for w in list["details"].as_array().expect("array") {
        for field in [
            "workflow_id",
            "hitl_enabled",
            "confidence_threshold",
            "autonomy_level",
            "service",
            "description",
            "created_at",
            "last_updated",
        ] {
            assert!(w.get(field).is_some_and(|v| !v.is_null()), "{field} missing: {w}");
        }
    }
    let audit_after: Value = common::auth::get(format!("http://{}/api/hitl/audit", a.http_addr))
        .await
        .expect("audit")
        .json()
        .await
        .expect("JSON");
    assert_eq!(audit_after["count"], 6, "refused changes are not audited");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adaptive_level_moves_the_threshold_with_the_approval_rate_audited() {
    let env = TestEnv::new().await;
    // Combined confidence 0.4 + 0.6 × 0.5 = 0.7: below the threshold, so every task is parked.
    env.llm.set_default(Reply::content(order_proposal(0.5, json!([{"action": "fulfil"}]))));
    let config = env.config(&[
        ("OVERSEER__WORKFLOWS__PAYMENT_PROCESSING__AUTONOMY_LEVEL", "adaptive"),
        ("OVERSEER__WORKFLOWS__PAYMENT_PROCESSING__ADAPTIVE__WINDOW", "2"),
        ("OVERSEER__WORKFLOWS__PAYMENT_PROCESSING__ADAPTIVE__MIN_SAMPLES", "2"),
        ("OVERSEER__WORKFLOWS__PAYMENT_PROCESSING__ADAPTIVE__STEP", "0.05"),
    ]);
    let running = env.start(&config, &["auto_orders"]).await;
    let watch = KafkaWatch::start(&["hitl.requests"]);
    let base = format!("ord-{}", uuid::Uuid::new_v4());
    env.submit(&config, "auto_orders", &order(&base, Some(WF)), 4).await;
    let ids: HashSet<String> = (1..=4).map(|i| format!("{base}-{i}")).collect();
    let seen = watch.collect(&ids, Duration::from_secs(30), |s| s.len() >= 4);
    let mut decisions: Vec<String> =
        seen.iter().filter_map(|(_, e)| e["decision_id"].as_str().map(str::to_string)).collect();
    decisions.sort();
    assert_eq!(decisions.len(), 4, "{seen:#?}");
    let api = format!("http://{}/api/brain/hitl/decisions", running.http_addr);
    let decide = |id: &str, verdict: &str| {
        let url = format!("{api}/{id}/{verdict}");
        async move {
            let r = common::auth::client_as("ada", "admin").post(url).json(&json!({})).send().await;
            r.expect("decide").status().as_u16()
        }
    };
    assert_eq!(decide(&decisions[0], "approve").await, 200);
    assert_eq!(decide(&decisions[1], "approve").await, 200);
    seen_by(&running, "confidence_threshold", &json!(0.9)).await;
    assert_eq!(decide(&decisions[2], "reject").await, 200);
    assert_eq!(decide(&decisions[3], "reject").await, 200);
    seen_by(&running, "confidence_threshold", &json!(0.95)).await;

    let audit: Value = common::auth::get(format!("http://{}/api/hitl/audit", running.http_addr))
        .await
        .expect("audit")
        .json()
        .await
        .expect("JSON");
    let moves: Vec<(Value, Value)> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["by"]["user"] == "overseer-adaptive")
        .map(|e| (e["before"].clone(), e["after"].clone()))
        .collect();
    assert_eq!(moves, vec![(json!(0.9), json!(0.95)), (json!(0.95), json!(0.9))], "{audit}");
    assert!(
        audit["entries"][0]["reason"].as_str().is_some_and(|r| r.contains("approval rate 0.00")),
        "{audit}"
    );
    running.shutdown().await;
}
