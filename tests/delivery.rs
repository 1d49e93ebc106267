//! Delivery guarantees against the real services: idempotency by task_id, poison tasks, bad
//! input, LLM failures through the retry tiers into the dead letters.

mod common;

use common::kafka_watch::{count, KafkaWatch};
use common::llm_server::{order_proposal, Reply};
use common::runtime::{order, TestEnv};
use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};

const TOPICS: &[&str] = &["ai.completions", "ai.errors", "hitl.requests"];

fn new_id(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

/// Waits until `queue` holds `n` ready messages (or 30 s pass); returns what it holds.
async fn wait_ready(env: &TestEnv, queue: &str, n: u32) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = env.ready(queue).await;
        if ready >= n || Instant::now() > deadline {
            return ready;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_published_twice_is_processed_once() {
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(0.95, json!([{"action": "fulfil"}]))));
    let config = env.config(&[]);
    let running = env.start(&config, &["auto_orders"]).await;
    let watch = KafkaWatch::start(TOPICS);
    let id = new_id("ord");
    env.submit(&config, "auto_orders", &order(&id, None), 1).await;
    let ids = HashSet::from([id.clone()]);
    let first = watch.collect(&ids, Duration::from_secs(20), |s| count(s, "ai.completions") >= 1);
    env.submit(&config, "auto_orders", &order(&id, None), 1).await;
    let later = watch.collect(&ids, Duration::from_secs(3), |_| false);
    running.shutdown().await;

    assert_eq!(count(&first, "ai.completions") + count(&later, "ai.completions"), 1);
    assert_eq!(env.llm.count(), 1, "the duplicate did not call the model");
    assert_eq!(env.ready("auto_orders").await, 0, "the duplicate was acked");
    assert_eq!(env.redis_get(&format!("outcome:{id}")).as_deref(), Some("done:executed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_panics_every_time_ends_in_the_dead_letters_after_max_attempts() {
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(0.95, json!([{"action": "fulfil"}]))));
    let config = env.config(&[("OVERSEER__RETRY__MAX_ATTEMPTS", "3")]);
    let running = env.start(&config, &["auto_orders"]).await;
    let id = new_id("poison");
    let mut task = order(&id, None);
    task["payload"]["__overseer_panic"] = "task_always".into();
    env.submit(&config, "auto_orders", &task, 1).await;
    // A healthy task behind it is not held up.
    let ok = new_id("ord");
    env.submit(&config, "auto_orders", &order(&ok, None), 1).await;

    assert_eq!(wait_ready(&env, "auto_orders.dlq", 1).await, 1);
    let health = running.health.queues();
    running.shutdown().await;

    let (headers, body) = env.take("auto_orders.dlq").await.expect("dead letter");
    assert_eq!(
        headers.get("x-overseer-reason").map(String::as_str),
        Some("retries_exhausted"),
        "{headers:?}"
    );
    assert_eq!(headers.get("x-overseer-attempts").map(String::as_str), Some("3"), "{headers:?}");
    assert!(headers.get("x-overseer-last-error").is_some_and(|e| e.contains("panicked")), "{headers:?}");
    assert_eq!(headers.get("x-overseer-original-queue").map(String::as_str), Some("auto_orders"));
    let body: serde_json::Value = serde_json::from_slice(&body).expect("original body");
    assert_eq!(body["task_id"], id.as_str());
    assert_eq!(health["auto_orders"].restarts, 0, "a task's panic does not crash its consumer");
    assert_eq!(env.llm.count(), 1, "only the healthy task reached the model");
    assert_eq!(env.ready("auto_orders").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_huge_and_deeply_nested_tasks_are_dead_lettered_at_the_first_delivery() {
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(0.95, json!([{"action": "fulfil"}]))));
    let config = env.config(&[]);
    let running = env.start(&config, &["auto_orders"]).await;
    let conn = lapin::Connection::connect(&env.vhost.amqp_url(), lapin::ConnectionProperties::default())
        .await
        .expect("RabbitMQ");
    let channel = conn.create_channel().await.expect("channel");
    let huge = format!(r#"{{"task_id":"huge","payload":{{"blob":"{}"}}}}"#, "x".repeat(10 * 1024 * 1024));
    let deep = format!(r#"{{"task_id":"deep","payload":{}1{}}}"#, "[".repeat(10_000), "]".repeat(10_000));
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("not_json", b"this is not JSON".to_vec()),
        ("bad_envelope", br#"{"payload": {}}"#.to_vec()),
        ("too_large", huge.into_bytes()),
        ("too_deep", deep.into_bytes()),
    ];
    for (_, body) in &bodies {
        channel
            .basic_publish("".into(), "auto_orders".into(), Default::default(), body, Default::default())
            .await
            .expect("publish")
            .await
            .expect("confirm");
    }
    assert_eq!(wait_ready(&env, "auto_orders.dlq", 4).await, 4);
    let health = running.health.queues();
    running.shutdown().await;
    let _ = conn.close(200, "bye".into()).await;

    let mut reasons = Vec::new();
    while let Some((headers, _)) = env.take("auto_orders.dlq").await {
        assert_eq!(headers.get("x-overseer-attempts").map(String::as_str), Some("1"), "{headers:?}");
        reasons.push(headers.get("x-overseer-reason").cloned().unwrap_or_default());
    }
    reasons.sort();
    let mut wanted: Vec<String> = bodies.iter().map(|(r, _)| r.to_string()).collect();
    wanted.sort();
    assert_eq!(reasons, wanted);
    assert_eq!(env.llm.count(), 0, "no model call for a bad task");
    assert_eq!(health["auto_orders"].restarts, 0, "no crash");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_llm_that_keeps_failing_is_retried_through_the_tiers_then_dead_lettered() {
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::Status { code: 503, retry_after: None });
    let config = env
        .config(&[("OVERSEER__RETRY__MAX_ATTEMPTS", "3"), ("OVERSEER__CONNECTIONS__LLM__MAX_ATTEMPTS", "2")]);
    let running = env.start(&config, &["auto_orders"]).await;
    let watch = KafkaWatch::start(TOPICS);
    let id = new_id("ord");
    env.submit(&config, "auto_orders", &order(&id, None), 1).await;

    assert_eq!(wait_ready(&env, "auto_orders.dlq", 1).await, 1);
    let seen =
        watch.collect(&HashSet::from([id.clone()]), Duration::from_secs(10), |s| count(s, "ai.errors") >= 1);
    running.shutdown().await;

    // 3 deliveries × 2 HTTP attempts each; deliveries 1 s and 2 s apart (the retry tiers).
    let times: Vec<Instant> = env.llm.requests().into_iter().map(|(t, _)| t).collect();
    assert_eq!(times.len(), 6);
    assert!(times[2] - times[1] >= Duration::from_secs(1), "first retry waited {:?}", times[2] - times[1]);
    assert!(times[4] - times[3] >= Duration::from_secs(2), "second retry waited {:?}", times[4] - times[3]);
    let (headers, _) = env.take("auto_orders.dlq").await.expect("dead letter");
    assert_eq!(headers.get("x-overseer-reason").map(String::as_str), Some("retries_exhausted"));
    assert!(headers.get("x-overseer-last-error").is_some_and(|e| e.contains("503")), "{headers:?}");
    assert_eq!(count(&seen, "ai.errors"), 1);
    assert_eq!(count(&seen, "ai.completions"), 0);
}
