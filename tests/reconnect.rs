//! RabbitMQ going away and coming back, several times, under load: consumption resumes by
//! itself (no silent stop), nothing is lost, nothing is done twice.

mod common;

use common::kafka_watch::{completions, KafkaWatch};
use common::llm_server::{order_proposal, Reply};
use common::proxy::Proxy;
use common::runtime::{order, TestEnv};
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_come_back_after_each_broker_outage_and_every_task_completes_once() {
    let env = TestEnv::new().await;
    let answer = order_proposal(0.95, json!([{"action": "fulfil"}]));
    env.llm.set_default(Reply::Content { content: answer, delay: Duration::from_millis(50) });
    let proxy = Proxy::start("127.0.0.1:5672").await;
    let through_proxy = format!("amqp://guest:guest@127.0.0.1:{}/{}", proxy.port, env.vhost.name);
    let config = env.config(&[("OVERSEER__CONNECTIONS__AMQP__URL", &through_proxy)]);
    let direct = env.config(&[]);
    let running = env.start(&config, &["auto_orders"]).await;
    let watch = KafkaWatch::start(&["ai.completions"]);

    let mut all = HashSet::new();
    let mut seen = Vec::new();
    for round in 0..3 {
        let base = format!("ord-{round}-{}", uuid::Uuid::new_v4());
        env.submit(&direct, "auto_orders", &order(&base, None), 40).await;
        all.extend((1..=40).map(|i| format!("{base}-{i}")));
        // Cut while tasks are in flight; more arrive during the outage.
        tokio::time::sleep(Duration::from_millis(300)).await;
        proxy.cut();
        let during = format!("ord-{round}-outage-{}", uuid::Uuid::new_v4());
        env.submit(&direct, "auto_orders", &order(&during, None), 20).await;
        all.extend((1..=20).map(|i| format!("{during}-{i}")));
        tokio::time::sleep(Duration::from_secs(2)).await;
        proxy.restore();
        let expected = all.len();
        seen.extend(watch.collect(&all, Duration::from_secs(40), |s| {
            completions(s).len() >= expected - completions(&seen).len()
        }));
    }
    seen.extend(watch.collect(&all, Duration::from_secs(2), |_| false));
    let health = running.health.queues();
    running.shutdown().await;

    let done = completions(&seen);
    let missing: Vec<_> = all.iter().filter(|id| !done.contains_key(*id)).collect();
    assert!(missing.is_empty(), "{} tasks never completed", missing.len());
    let twice: Vec<_> = done.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "completed twice: {twice:?}");
    let orders = &health["auto_orders"];
    assert!(orders.restarts >= 3, "{orders:?}");
    assert!(!orders.failed, "an outage is not a meltdown: {orders:?}");
    assert_eq!(orders.consumers, 1, "{orders:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_broker_is_noticed_within_about_two_heartbeats_and_consumption_resumes() {
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(0.95, json!([{"action": "fulfil"}]))));
    let proxy = Proxy::start("127.0.0.1:5672").await;
    let through_proxy = format!("amqp://guest:guest@127.0.0.1:{}/{}", proxy.port, env.vhost.name);
    let config = env.config(&[
        ("OVERSEER__CONNECTIONS__AMQP__URL", &through_proxy),
        ("OVERSEER__CONNECTIONS__AMQP__HEARTBEAT", "2s"),
        ("OVERSEER__CONNECTIONS__AMQP__CONNECT_TIMEOUT", "2s"),
    ]);
    let direct = env.config(&[]);
    let running = env.start(&config, &["auto_orders"]).await;
    let watch = KafkaWatch::start(&["ai.completions"]);

    while running.health.queues().get("auto_orders").is_none_or(|q| q.consumers == 0) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proxy.freeze();
    let frozen_at = std::time::Instant::now();
    let mut noticed = None;
    while frozen_at.elapsed() < Duration::from_secs(15) {
        if running.health.queues().get("auto_orders").is_some_and(|q| q.restarts >= 1) {
            noticed = Some(frozen_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let base = format!("ord-{}", uuid::Uuid::new_v4());
    env.submit(&direct, "auto_orders", &order(&base, None), 10).await;
    proxy.restore();
    let all: HashSet<String> = (1..=10).map(|i| format!("{base}-{i}")).collect();
    let seen = watch.collect(&all, Duration::from_secs(30), |s| completions(s).len() >= 10);
    running.shutdown().await;

    let noticed = noticed.expect("the frozen broker was never noticed");
    // AMQP heartbeats: silence for about two intervals closes the connection.
    assert!(noticed <= Duration::from_secs(7), "noticed after {noticed:?} with 2 s heartbeats");
    assert_eq!(completions(&seen).len(), 10, "consumption resumed after the broker thawed");
}
