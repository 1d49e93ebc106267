//! Pending decisions past their deadline, with two replicas sweeping: each is escalated (or
//! auto-rejected) exactly once, within about one sweep interval.

mod common;

use common::kafka_watch::{count, KafkaWatch};
use common::llm_server::{order_proposal, Reply};
use common::runtime::{order, TestEnv};
use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};

async fn two_replicas_expire(
    policy: &str,
) -> (TestEnv, Vec<String>, Vec<(String, serde_json::Value)>, Duration) {
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(0.95, json!([{"action": "fulfil"}]))));
    let overrides = [
        ("OVERSEER__WORKFLOWS__PAYMENT_PROCESSING__PENDING_TTL", "2s"),
        ("OVERSEER__WORKFLOWS__PAYMENT_PROCESSING__EXPIRY_POLICY", policy),
        ("OVERSEER__HITL__SWEEP_INTERVAL", "300ms"),
    ];
    let config = env.config(&overrides);
    let a = env.start(&config, &["auto_orders"]).await;
    let b = env.start(&config, &["auto_orders"]).await;
    let watch = KafkaWatch::start(&["hitl.requests", "hitl.decisions"]);
    let base = format!("ord-{}", uuid::Uuid::new_v4());
    env.submit(&config, "auto_orders", &order(&base, Some("payment_processing")), 5).await;
    let ids: HashSet<String> = (1..=5).map(|i| format!("{base}-{i}")).collect();
    let parked = watch.collect(&ids, Duration::from_secs(20), |s| count(s, "hitl.requests") >= 5);
    let parked_at = Instant::now();
    let decisions: Vec<String> =
        parked.iter().filter_map(|(_, e)| e["decision_id"].as_str().map(str::to_string)).collect();
    let mut seen = watch.collect(&ids, Duration::from_secs(20), |s| count(s, "hitl.decisions") >= 5);
    let took = parked_at.elapsed();
    seen.extend(watch.collect(&ids, Duration::from_secs(2), |_| false));
    a.shutdown().await;
    b.shutdown().await;
    (env, decisions, seen, took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_two_replicas_each_expired_decision_is_escalated_once() {
    let (env, decisions, seen, took) = two_replicas_expire("escalate").await;
    assert_eq!(decisions.len(), 5);
    assert_eq!(count(&seen, "hitl.decisions"), 5, "one expiry event per decision: {seen:#?}");
    assert!(
        took <= Duration::from_secs(2) + Duration::from_millis(1500),
        "expired after {took:?} (TTL 2 s, sweeps 300 ms)"
    );
    for id in &decisions {
        assert_eq!(env.redis_hget(&format!("decision:{id}"), "status").as_deref(), Some("escalated"));
    }
    let mut queued = Vec::new();
    while let Some((_, body)) = env.take("hitl_exceptions").await {
        let d: serde_json::Value = serde_json::from_slice(&body).expect("decision JSON");
        queued.push(d["decision_id"].as_str().unwrap_or_default().to_string());
    }
    queued.sort();
    let mut expected = decisions.clone();
    expected.sort();
    assert_eq!(queued, expected, "each escalated decision queued once to hitl_exceptions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auto_reject_workflow_ends_expired_decisions_without_escalating() {
    let (env, decisions, seen, _) = two_replicas_expire("auto_reject").await;
    assert_eq!(count(&seen, "hitl.decisions"), 5);
    for id in &decisions {
        assert_eq!(env.redis_hget(&format!("decision:{id}"), "status").as_deref(), Some("expired"));
    }
    assert_eq!(env.ready("hitl_exceptions").await, 0);
    assert!(seen.iter().filter(|(t, _)| t == "hitl.decisions").all(|(_, e)| e["status"] == "expired"));
}

/// An escalation is not a dead end: the escalated decision is listed by the API and an
/// approver of its workflow approves it past its deadline; its completion appears once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalated_decision_is_listed_and_approved_through_the_api() {
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(0.95, json!([{"action": "fulfil"}]))));
    let config = env.config(&[
        ("OVERSEER__WORKFLOWS__PAYMENT_PROCESSING__PENDING_TTL", "1s"),
        ("OVERSEER__WORKFLOWS__PAYMENT_PROCESSING__EXPIRY_POLICY", "escalate"),
        ("OVERSEER__HITL__SWEEP_INTERVAL", "200ms"),
    ]);
    let running = env.start(&config, &["auto_orders"]).await;
    let (parked, watch) = env.park_orders(1, "payment_processing").await;
    let (id, task) = parked.into_iter().next().expect("one");
    let api = format!("http://{}/api/brain/hitl/decisions", running.http_addr);
    let started = Instant::now();
    let listed = loop {
        let page: serde_json::Value = common::auth::get(format!("{api}/history?status=escalated"))
            .await
            .expect("history")
            .json()
            .await
            .expect("JSON");
        let ids: Vec<String> = page["decisions"]
            .as_array()
            .map(|d| d.iter().filter_map(|d| d["decision_id"].as_str().map(String::from)).collect())
            .unwrap_or_default();
        // Listed, and its escalation effects done (it is in hitl_exceptions).
        if ids.contains(&id) && env.redis_hget(&format!("decision:{id}"), "fx:audit").is_some() {
            break ids;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "not escalated: {page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(listed.contains(&id));
    let approve = common::auth::client_as("carol", "approver")
        .post(format!("{api}/{id}/approve"))
        .json(&json!({"feedback": "handled after escalation"}))
        .send()
        .await
        .expect("approve");
    assert_eq!(approve.status().as_u16(), 200);
    let again = common::auth::client_as("dave", "approver")
        .post(format!("{api}/{id}/approve"))
        .json(&json!({}))
        .send()
        .await
        .expect("approve");
    assert_eq!(again.status().as_u16(), 409, "decided once");
    let ids: HashSet<String> = [task].into();
    let seen = watch.collect(&ids, Duration::from_secs(20), |s| count(s, "ai.completions") >= 1);
    let more = watch.collect(&ids, Duration::from_secs(2), |_| false);
    let completions: Vec<_> = seen.iter().chain(&more).filter(|(t, _)| t == "ai.completions").collect();
    assert_eq!(completions.len(), 1, "one completion");
    assert_eq!(completions[0].1["execution_mode"], "hitl_approved");
    assert_eq!(completions[0].1["approved_by"], "carol");
    running.shutdown().await;
}
