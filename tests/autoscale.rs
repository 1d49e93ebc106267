//! Autoscaling and the backlog figures against real RabbitMQ and Redis: a queue opted in
//! (`autoscale = {min, max}`) grows with its backlog (the most LLM requests open at once, seen
//! at the test's stand-in, follows), an operator's scale pins it (autoscaling waits), a clear
//! gives it back to autoscaling, and once the queue is empty it shrinks again. The tree shows
//! the backlog (ready, unacked, consumers) and each move.

mod common;

use common::auth::client_as;
use common::llm_server::{order_proposal, Reply};
use common::runtime::{order, TestEnv};
use common::supervisor::{queue_of, until};
use serde_json::{json, Value};
use std::time::Duration;

const QUEUE: &str = "auto_orders";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_autoscaled_queue_follows_its_backlog_yields_to_an_operator_and_comes_back_when_cleared() {
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::Content {
        content: order_proposal(0.99, json!([{"action": "fulfil"}])),
        delay: Duration::from_millis(500),
    });
    let config = env.config(&[
        ("OVERSEER__QUEUES__AUTO_ORDERS__CONCURRENCY", "1"),
        ("OVERSEER__QUEUES__AUTO_ORDERS__AUTOSCALE__MIN", "1"),
        ("OVERSEER__QUEUES__AUTO_ORDERS__AUTOSCALE__MAX", "8"),
        ("OVERSEER__RUNTIME__BACKLOG_POLL", "200ms"),
    ]);
    let running = env.start(&config, &[QUEUE]).await;
    let base = format!("http://{}", running.http_addr);
    let admin = client_as("ops", "admin");
    let queue = || queue_of(&admin, &base, QUEUE);
    let q = queue().await;
    assert_eq!(
        (q["concurrency"].clone(), q["autoscale"]["min"].clone(), q["autoscale"]["max"].clone()),
        (json!(1), json!(1), json!(8)),
        "{q}"
    );
    assert_eq!(q["autoscale"]["active"], true, "{q}");

    // A backlog: the concurrency climbs to max, and the model sees up to 8 calls at once.
    let tasks = 400;
    env.submit(&config, QUEUE, &order(&format!("as-{}", uuid::Uuid::new_v4().simple()), None), tasks).await;
    until("the backlog in the tree", Duration::from_secs(10), async || {
        let q = queue().await;
        q["backlog"]["ready"].as_u64().is_some_and(|r| r > 0) && q["backlog"]["consumers"] == 1
    })
    .await;
    until("autoscaling to reach max", Duration::from_secs(15), async || queue().await["concurrency"] == 8)
        .await;
    let q = queue().await;
    assert_eq!(q["autoscale"]["last_move"]["why"], "backlog", "{q}");
    assert_eq!(q["autoscale"]["last_move"]["to"], 8, "{q}");
    env.llm.reset_max_in_flight();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let scaled_up = env.llm.max_in_flight();
    assert!(scaled_up > 4, "{scaled_up} model calls at once, autoscaled to 8");

    // An operator's scale pins it: autoscaling waits, however long the backlog.
    let r = admin.put(format!("{base}/api/supervisor/queues/{QUEUE}/concurrency?value=2")).send().await;
    let q: Value = r.expect("scale").json().await.expect("JSON");
    assert_eq!((q["concurrency"].clone(), q["pinned"].clone()), (json!(2), json!(true)), "{q}");
    assert_eq!(q["autoscale"]["active"], false, "{q}");
    tokio::time::sleep(Duration::from_millis(600)).await;
    env.llm.reset_max_in_flight();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pinned = env.llm.max_in_flight();
    assert!(pinned <= 2, "{pinned} model calls at once while pinned at 2");
    let q = queue().await;
    assert!(q["backlog"]["ready"].as_u64().is_some_and(|r| r > 0), "still a backlog: {q}");
    assert_eq!(q["concurrency"], 2, "autoscaling left it alone: {q}");
    // RabbitMQ's management API collects its figures every few seconds.
    until("the management API's unacked count", Duration::from_secs(15), async || {
        queue().await["backlog"]["unacked"].as_u64().is_some_and(|u| u > 0)
    })
    .await;

    // Cleared: back to the configuration, and autoscaling takes it up again.
    let r = admin.post(format!("{base}/api/supervisor/queues/{QUEUE}/clear")).send().await;
    let q: Value = r.expect("clear").json().await.expect("JSON");
    assert_eq!((q["pinned"].clone(), q["autoscale"]["active"].clone()), (json!(false), json!(true)), "{q}");
    until("autoscaling to take it up again", Duration::from_secs(15), async || {
        queue().await["concurrency"].as_u64().is_some_and(|c| c > 2)
    })
    .await;

    // Once every task is done, it shrinks (never below min).
    until("every task to be processed", Duration::from_secs(90), async || {
        env.ready(QUEUE).await == 0 && env.llm.count() >= tasks
    })
    .await;
    until("autoscaling to shrink it", Duration::from_secs(20), async || {
        let q = queue().await;
        q["concurrency"].as_u64().is_some_and(|c| (1..8).contains(&c))
            && q["autoscale"]["last_move"]["why"] == "idle"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(env.llm.count(), tasks, "each task once");
    running.shutdown().await;
}
