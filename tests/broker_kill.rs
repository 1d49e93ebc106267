//! RabbitMQ killed with -9 and restarted mid-stream, several times, on a node of the test's
//! own: consumption resumes without restarting overseer, nothing is lost, and every task
//! completes exactly once. The default run uses 1,000 tasks; `--ignored` runs 5,000.

mod common;

use common::kafka_watch::{completions, KafkaWatch};
use common::llm_server::{order_proposal, Reply};
use common::own::OwnRabbit;
use common::runtime::{order, TestEnv};
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;

async fn kill_and_restart_under_load(tasks: usize, kills: usize) {
    let dir = tempfile::tempdir().expect("dir");
    let mut rabbit = OwnRabbit::new(dir.path());
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(0.95, json!([{"action": "fulfil"}]))));
    let url = rabbit.url();
    let config = env.config(&[
        ("OVERSEER__CONNECTIONS__AMQP__URL", &url),
        ("OVERSEER__CONNECTIONS__AMQP__HEARTBEAT", "2s"),
    ]);
    assert!(
        overseer_supervisor::setup::run(&config, false).await.expect("setup"),
        "topology on the own node"
    );
    let running = env.start(&config, &["auto_orders"]).await;
    let watch = KafkaWatch::start(&["ai.completions"]);
    let base = format!("ord-{}", uuid::Uuid::new_v4());
    env.submit(&config, "auto_orders", &order(&base, None), tasks).await;
    let all: HashSet<String> = (1..=tasks).map(|i| format!("{base}-{i}")).collect();

    let mut seen = Vec::new();
    for k in 1..=kills {
        // Kill once a further share of the tasks is done: mid-stream, every time.
        let goal = tasks * k / (kills + 1);
        seen.extend(watch.collect(&all, Duration::from_secs(120), |s| {
            completions(s).len() + completions(&seen).len() >= goal
        }));
        rabbit.kill();
        tokio::time::sleep(Duration::from_secs(1)).await;
        rabbit.start();
    }
    seen.extend(watch.collect(&all, Duration::from_secs(180), |s| {
        completions(s).len() + completions(&seen).len() >= tasks
    }));
    seen.extend(watch.collect(&all, Duration::from_secs(2), |_| false));
    // The tasks may all be done before the last restart is: the consumer must come back anyway
    // (within one pause of the link, at most 5 s, after the broker answers again).
    let back = tokio::time::Instant::now() + Duration::from_secs(20);
    while running.health.queues()["auto_orders"].consumers == 0 && tokio::time::Instant::now() < back {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let health = running.health.queues();
    running.shutdown().await;

    let done = completions(&seen);
    let missing = all.iter().filter(|id| !done.contains_key(*id)).count();
    assert_eq!(missing, 0, "lost tasks");
    let twice: Vec<_> = done.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "completed more than once: {twice:?}");
    let orders = &health["auto_orders"];
    assert!(orders.restarts >= kills as u64, "{orders:?}");
    assert!(!orders.failed && orders.consumers == 1, "{orders:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_killed_twice_under_1000_tasks_loses_nothing_and_doubles_nothing() {
    kill_and_restart_under_load(1000, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: 5,000 tasks and three kills; run with --ignored (scripts/soak.sh)"]
async fn rabbitmq_killed_three_times_under_5000_tasks_loses_nothing_and_doubles_nothing() {
    kill_and_restart_under_load(5000, 3).await;
}
