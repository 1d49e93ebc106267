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
