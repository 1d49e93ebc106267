//! Redis with a password and TLS, as the URL says (`rediss://:password@host`), against a Redis
//! of the test's own that speaks only TLS with a certificate from a private CA
//! (`connections.redis.ca_file`).

mod common;

use overseer_agents::confidence::Confidence;
use overseer_supervisor::hitl::redis_store::RedisStore;
use overseer_supervisor::hitl::{Decisions, PendingDecision};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_are_stored_over_tls_with_a_password() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (redis, ca) = common::own::redis_tls(dir.path(), "s3cret");
    let url = format!("rediss://:s3cret@127.0.0.1:{}/0", redis.port);
    let timeout = Duration::from_secs(5);
    let store = RedisStore::connect_with_ca(&url, Some(ca.clone()), "tls-test:", timeout)
        .await
        .expect("TLS connects");
    let d = PendingDecision::new(
        "task-tls",
        "payment_processing",
        "auto_orders",
        "order",
        Confidence::combine(0.5, 0.5, None),
        vec![],
        serde_json::json!({"proposal": {"summary": "s", "actions": []}}),
        Duration::from_secs(60),
    );
    store.park(&d, Duration::from_secs(120)).await.expect("park over TLS");
    assert_eq!(store.get(&d.decision_id).await.expect("get").map(|x| x.task_id), Some("task-tls".into()));

    // Refusals should come quickly; they are not slow networks.
    let timeout = Duration::from_secs(2);
    let wrong = format!("rediss://:nope@127.0.0.1:{}/0", redis.port);
    assert!(
        RedisStore::connect_with_ca(&wrong, Some(ca.clone()), "p:", timeout).await.is_err(),
        "wrong password"
    );
    let untrusted = RedisStore::connect_with_ca(&url, None, "p:", timeout).await;
    assert!(untrusted.is_err(), "a certificate from an unknown CA is refused");
    let plain = format!("redis://:s3cret@127.0.0.1:{}/0", redis.port);
    assert!(RedisStore::connect(&plain, "p:", timeout).await.is_err(), "no plain text to a TLS port");
}
