//! `overseer run` as a process: SIGTERM drains within the grace period, logging no error; kill -9
//! loses nothing and, after a restart, every task completes exactly once.

mod common;

use common::kafka_watch::{completions, KafkaWatch};
use common::llm_server::{order_proposal, Reply};
use common::process::{free_port, Replica};
use common::runtime::{order, TestEnv};
use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};

const TASKS: usize = 150;

/// Many tasks in flight at once: a slow model and room for 128 per replica.
fn busy(env: &TestEnv, grace: &str) -> Vec<(String, String)> {
    env.env(&[
        ("OVERSEER__QUEUES__AUTO_ORDERS__PREFETCH", "128"),
        ("OVERSEER__QUEUES__AUTO_ORDERS__CONCURRENCY", "128"),
        ("OVERSEER__CONNECTIONS__LLM__MAX_CONCURRENCY", "256"),
        ("OVERSEER__CONNECTIONS__LLM__REQUEST_TIMEOUT", "10s"),
        ("OVERSEER__RUNTIME__SHUTDOWN_GRACE", grace),
    ])
}

async fn submit_all(env: &TestEnv) -> HashSet<String> {
    let base = format!("ord-{}", uuid::Uuid::new_v4());
    env.submit(&env.config(&[]), "auto_orders", &order(&base, None), TASKS).await;
    (1..=TASKS).map(|i| format!("{base}-{i}")).collect()
}

/// Waits until the model has seen `n` requests.
async fn model_busy(env: &TestEnv, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while env.llm.count() < n {
        assert!(Instant::now() < deadline, "only {} model calls", env.llm.count());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_over_100_in_flight_drains_within_the_grace_period_and_loses_nothing() {
    let env = TestEnv::new().await;
    let answer = order_proposal(0.95, json!([{"action": "fulfil"}]));
    env.llm.set_default(Reply::Content { content: answer, delay: Duration::from_millis(1500) });
    let log = tempfile::NamedTempFile::new().expect("log file");
    let mut replica =
        Replica::start_logging(&busy(&env, "4s"), free_port(), log.reopen().expect("log handle"));
    let watch = KafkaWatch::start(&["ai.completions"]);
    let all = submit_all(&env).await;
    model_busy(&env, 100).await;

    replica.signal("-TERM");
    let (code, took) = replica.wait(Duration::from_secs(15));
    let seen = watch.collect(&all, Duration::from_secs(5), |_| false);

    assert_eq!(code, Some(0), "exit code");
    // A drain is no error: nothing may be logged as one (a channel closed only after the
    // connection was, say, which lapin reports as a connection error).
    let logged = std::fs::read_to_string(log.path()).expect("log");
    let errors: Vec<&str> = logged.lines().filter(|l| l.contains(" ERROR ")).collect();
    assert!(errors.is_empty(), "errors logged while draining:\n{}", errors.join("\n"));
    assert!(
        took < Duration::from_secs(4) + Duration::from_millis(1500),
        "took {took:?} for a 4 s grace period"
    );
    let done = completions(&seen);
    assert!(done.len() >= 100, "the in-flight tasks finished: {}", done.len());
    assert!(done.values().all(|n| *n == 1), "a task completed twice");
    // Everything else is back in the queue, ready: nothing was left unacked or lost.
    let mut waiting = HashSet::new();
    while let Some((_, body)) = env.take("auto_orders").await {
        let task: serde_json::Value = serde_json::from_slice(&body).expect("task");
        waiting.insert(task["task_id"].as_str().unwrap_or_default().to_string());
    }
    assert!(waiting.iter().all(|id| !done.contains_key(id)), "a completed task was left in the queue");
    let accounted: HashSet<String> = done.keys().cloned().chain(waiting).collect();
    assert_eq!(accounted, all, "lost tasks");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_over_100_in_flight_then_a_restart_completes_every_task_exactly_once() {
    let env = TestEnv::new().await;
    let answer = order_proposal(0.95, json!([{"action": "fulfil"}]));
    env.llm.set_default(Reply::Content { content: answer, delay: Duration::from_millis(1000) });
    let watch = KafkaWatch::start(&["ai.completions"]);
    let mut first = Replica::start(&busy(&env, "4s"), free_port());
    let all = submit_all(&env).await;
    model_busy(&env, 100).await;

    first.signal("-KILL");
    let (code, _) = first.wait(Duration::from_secs(5));
    assert_eq!(code, None, "killed by a signal");
    let mut second = Replica::start(&busy(&env, "4s"), free_port());
    let mut seen = watch.collect(&all, Duration::from_secs(60), |s| completions(s).len() >= TASKS);
    seen.extend(watch.collect(&all, Duration::from_secs(2), |_| false));
    second.signal("-TERM");
    let (code, _) = second.wait(Duration::from_secs(15));

    assert_eq!(code, Some(0));
    let done = completions(&seen);
    assert_eq!(done.keys().cloned().collect::<HashSet<_>>(), all, "lost tasks");
    let twice: Vec<_> = done.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "completed more than once: {twice:?}");
    assert_eq!(env.ready("auto_orders").await, 0);
}
