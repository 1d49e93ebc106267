//! `overseer dlq list|show|replay` against the real services.

mod common;

use common::kafka_watch::{count, KafkaWatch};
use common::llm_server::{order_proposal, Reply};
use common::runtime::{order, TestEnv};
use common::{overseer, repo_config, text};
use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_lists_shows_and_replays_a_fixed_dead_letter() {
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(0.95, json!([{"action": "fulfil"}]))));
    let config = env.config(&[]);
    let running = env.start(&config, &["auto_orders"]).await;
    let watch = KafkaWatch::start(&["ai.completions"]);
    let id = format!("ord-{}", uuid::Uuid::new_v4());
    env.submit(&config, "auto_orders", &order(&id, Some("no_such_workflow")), 1).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while env.ready("auto_orders.dlq").await < 1 {
        assert!(Instant::now() < deadline, "never dead-lettered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let vars = env.env(&[]);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let config_dir = repo_config();
    let cli = |args: &[&str]| {
        let mut all = vec!["--config", config_dir.to_str().expect("utf-8"), "dlq"];
        all.extend_from_slice(args);
        overseer(&all, &vars)
    };

    let listed = cli(&["list", "--queue", "auto_orders"]);
    assert!(listed.status.success(), "{}", text(&listed));
    assert!(text(&listed).contains("1 dead letter in auto_orders.dlq"), "{}", text(&listed));
    let line = text(&listed).lines().find(|l| l.starts_with(&id)).map(str::to_string).expect("listed");
    assert!(line.contains("unknown_workflow") && line.contains("attempts 1"), "{line}");

    let shown = cli(&["show", "--queue", "auto_orders", "--task-id", &id]);
    assert!(shown.status.success(), "{}", text(&shown));
    assert!(text(&shown).contains("no_such_workflow"), "the body is shown: {}", text(&shown));
    assert_eq!(env.ready("auto_orders.dlq").await, 1, "looking removed nothing");

    let missing = cli(&["replay", "--queue", "auto_orders", "--task-id", "nope"]);
    assert!(!missing.status.success());
    assert!(text(&missing).contains("no dead letter with task_id `nope`"), "{}", text(&missing));

    let fixed = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(fixed.path(), order(&id, None).to_string()).expect("write");
    let replayed = cli(&[
        "replay",
        "--queue",
        "auto_orders",
        "--task-id",
        &id,
        "--file",
        fixed.path().to_str().expect("utf-8"),
    ]);
    assert!(replayed.status.success(), "{}", text(&replayed));
    assert!(text(&replayed).contains("replayed 1 task to auto_orders"), "{}", text(&replayed));

    let seen = watch
        .collect(&HashSet::from([id.clone()]), Duration::from_secs(20), |s| count(s, "ai.completions") >= 1);
    running.shutdown().await;
    assert_eq!(
        count(&seen, "ai.completions"),
        1,
        "the replayed task was processed, not taken for a duplicate"
    );
    assert_eq!(env.ready("auto_orders.dlq").await, 0);
}

/// A task on auto_orders (order_processing, assisted) that names a looser workflow (HITL off)
/// is dead-lettered with the reason, never executed; one naming a stricter one is parked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_naming_a_looser_workflow_is_dead_lettered_with_the_reason() {
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(0.99, json!([{"action": "fulfil"}]))));
    let config = env.config(&[]);
    let running = env.start(&config, &["auto_orders"]).await;
    let watch = KafkaWatch::start(&["ai.completions", "hitl.requests"]);
    let loose = format!("ord-{}", uuid::Uuid::new_v4());
    let strict = format!("ord-{}", uuid::Uuid::new_v4());
    env.submit(&config, "auto_orders", &order(&loose, Some("analytics_reporting")), 1).await;
    env.submit(&config, "auto_orders", &order(&strict, Some("payment_processing")), 1).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while env.ready("auto_orders.dlq").await < 1 {
        assert!(Instant::now() < deadline, "never dead-lettered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (headers, body) = env.take("auto_orders.dlq").await.expect("a dead letter");
    assert!(String::from_utf8_lossy(&body).contains(&loose));
    assert_eq!(
        headers.get("x-overseer-reason").map(String::as_str),
        Some("workflow_not_allowed"),
        "{headers:?}"
    );
    let ids: HashSet<String> = [loose.clone(), strict.clone()].into();
    let seen = watch.collect(&ids, Duration::from_secs(10), |s| count(s, "hitl.requests") >= 1);
    assert_eq!(count(&seen, "ai.completions"), 0, "nothing executed: {seen:?}");
    assert!(
        seen.iter().any(|(t, e)| t == "hitl.requests" && e["task_id"] == strict.as_str()),
        "the stricter one is parked"
    );
    running.shutdown().await;
}
