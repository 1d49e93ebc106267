//! Redis and Kafka outages, each on an instance of the test's own (killed by its PID, never the
//! machine's shared services).

mod common;

use common::kafka_watch::{completions, count, KafkaWatch};
use common::llm_server::{order_proposal, Reply};
use common::own;
use common::runtime::{order, TestEnv};
use serde_json::json;
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_decisions_survive_a_redis_kill_and_processing_resumes() {
    let dir = tempfile::tempdir().expect("dir");
    let mut redis = own::redis(dir.path());
    let redis_url = format!("redis://127.0.0.1:{}/0", redis.port);
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(0.95, json!([{"action": "fulfil"}]))));
    let config = env.config(&[("OVERSEER__CONNECTIONS__REDIS__URL", &redis_url)]);
    let direct = env.config(&[]);
    let running = env.start(&config, &["auto_orders"]).await;
    let watch = KafkaWatch::start(&["hitl.requests", "ai.completions"]);

    let base = format!("ord-{}", uuid::Uuid::new_v4());
    env.submit(&direct, "auto_orders", &order(&base, Some("payment_processing")), 10).await;
    let parked: HashSet<String> = (1..=10).map(|i| format!("{base}-{i}")).collect();
    let seen = watch.collect(&parked, Duration::from_secs(20), |s| count(s, "hitl.requests") >= 10);
    assert_eq!(count(&seen, "hitl.requests"), 10);
    let decisions: Vec<String> =
        seen.iter().filter_map(|(_, e)| e["decision_id"].as_str().map(str::to_string)).collect();

    redis.kill();
    redis.start();

    for id in &decisions {
        let status = env.redis_hget_at(&redis_url, &format!("decision:{id}"), "status");
        assert_eq!(status.as_deref(), Some("pending"), "{id} lost");
    }
    // The replica reconnects by itself: new work is processed (and recorded in the ledger).
    let after = format!("ord-after-{}", uuid::Uuid::new_v4());
    env.submit(&direct, "auto_orders", &order(&after, None), 5).await;
    let later: HashSet<String> = (1..=5).map(|i| format!("{after}-{i}")).collect();
    let seen = watch.collect(&later, Duration::from_secs(30), |s| count(s, "ai.completions") >= 5);
    running.shutdown().await;
    assert_eq!(completions(&seen).len(), 5, "processing resumed after the Redis restart");
    assert_eq!(env.redis_get_at(&redis_url, &format!("outcome:{after}-1")).as_deref(), Some("done:executed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kafka_outage_loses_nothing_and_the_backlog_drains_once_it_is_back() {
    // Deliveries that cannot be confirmed within 5 s are requeued and retried.
    kafka_outage(Duration::from_secs(8), Some("5000")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: Kafka away for 30 s with the default producer timeout; run with --ignored (scripts/soak.sh)"]
async fn a_30_second_kafka_outage_loses_nothing() {
    kafka_outage(Duration::from_secs(30), None).await;
}

/// tansu 0.6.0 answers an idempotent producer whose messages timed out during an outage with
/// UNKNOWN_SERVER_ERROR on every produce, and a fresh producer then gets no delivery reports
/// (seen here, in about one run of four even with an 8 s outage; docs/operations.md). Apache
/// Kafka keeps idempotence across outages, so these runs turn it off to test overseer rather
/// than tansu.
async fn kafka_outage(outage: Duration, message_timeout_ms: Option<&str>) {
    let dir = tempfile::tempdir().expect("dir");
    let mut kafka = own::tansu(dir.path());
    let bootstrap = format!("127.0.0.1:{}", kafka.port);
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::Content {
        content: order_proposal(0.95, json!([{"action": "fulfil"}])),
        delay: Duration::from_millis(20),
    });
    let mut overrides = vec![("OVERSEER__CONNECTIONS__KAFKA__BOOTSTRAP_SERVERS", bootstrap.as_str())];
    if let Some(ms) = message_timeout_ms {
        overrides.push(("OVERSEER__CONNECTIONS__KAFKA__CLIENT__MESSAGE.TIMEOUT.MS", ms));
    }
    overrides.push(("OVERSEER__CONNECTIONS__KAFKA__IDEMPOTENCE", "false"));
    let config = env.config(&overrides);
    assert!(
        overseer_supervisor::setup::run(&config, false).await.expect("setup"),
        "topics on the own broker"
    );
    let direct = env.config(&[]);
    let running = env.start(&config, &["auto_orders"]).await;

    let base = format!("ord-{}", uuid::Uuid::new_v4());
    env.submit(&direct, "auto_orders", &order(&base, None), 50).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    kafka.kill();
    // Tasks keep arriving while Kafka is away.
    let during = format!("{base}-outage");
    env.submit(&direct, "auto_orders", &order(&during, None), 20).await;
    tokio::time::sleep(outage).await;
    kafka.start();
    let mut expected: HashSet<String> = (1..=50).map(|i| format!("{base}-{i}")).collect();
    expected.extend((1..=20).map(|i| format!("{during}-{i}")));

    // The broker is the test's own: every completion it holds is from this test.
    let reader = KafkaWatch::start_at_beginning(&bootstrap, &["ai.completions"]);
    let mut seen =
        reader.collect(&expected, Duration::from_secs(60), |s| completions(s).len() >= expected.len());
    seen.extend(reader.collect(&expected, Duration::from_secs(2), |_| false));
    running.shutdown().await;

    let done = completions(&seen);
    let missing: Vec<_> = expected.iter().filter(|id| !done.contains_key(*id)).collect();
    assert!(
        missing.is_empty(),
        "lost {} tasks: nothing may be acked before its events are durable",
        missing.len()
    );
    let twice: Vec<_> = done.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "completed twice: {twice:?}");
    assert_eq!(env.ready("auto_orders").await, 0);
    assert_eq!(env.ready("auto_orders.dlq").await, 0);
}

/// An approval made while Kafka is away is durable in Redis (the API answers 200) and waits in
/// the outbox; once Kafka is back, a sweeper runs it and the completion is published once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_made_while_kafka_is_away_executes_once_it_is_back() {
    let dir = tempfile::tempdir().expect("dir");
    let mut kafka = own::tansu(dir.path());
    let bootstrap = format!("127.0.0.1:{}", kafka.port);
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(0.99, json!([{"action": "fulfil"}]))));
    let config = env.config(&[
        ("OVERSEER__CONNECTIONS__KAFKA__BOOTSTRAP_SERVERS", bootstrap.as_str()),
        ("OVERSEER__CONNECTIONS__KAFKA__CLIENT__MESSAGE.TIMEOUT.MS", "3000"),
        ("OVERSEER__CONNECTIONS__KAFKA__IDEMPOTENCE", "false"),
        ("OVERSEER__HITL__SWEEP_INTERVAL", "300ms"),
    ]);
    assert!(
        overseer_supervisor::setup::run(&config, false).await.expect("setup"),
        "topics on the own broker"
    );
    let running = env.start(&config, &["auto_orders"]).await;
    let task = format!("ord-{}", uuid::Uuid::new_v4());
    env.submit(&env.config(&[]), "auto_orders", &order(&task, Some("payment_processing")), 1).await;
    let api = format!("http://{}/api", running.http_addr);
    let started = std::time::Instant::now();
    let decision = loop {
        let page: serde_json::Value =
            common::auth::get(format!("{api}/hitl/pending")).await.expect("list").json().await.expect("JSON");
        if let Some(id) = page["decisions"][0]["decision_id"].as_str() {
            break id.to_string();
        }
        assert!(started.elapsed() < Duration::from_secs(20), "never parked");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    kafka.kill();
    let approved = common::auth::admin()
        .post(format!("{api}/brain/hitl/decisions/{decision}/approve"))
        .json(&json!({"feedback": "go"}))
        .send()
        .await
        .expect("approve");
    assert_eq!(approved.status().as_u16(), 200, "the decision is durable without Kafka");
    // The completion's delivery times out (3 s): the decision waits in the outbox.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let outbox: Vec<String> = {
        let client = redis::Client::open("redis://127.0.0.1:6379/0").expect("url");
        let mut conn = client.get_connection().expect("Redis");
        redis::cmd("ZRANGE")
            .arg(format!("{}outbox", env.redis_prefix))
            .arg(0)
            .arg(-1)
            .query(&mut conn)
            .expect("ZRANGE")
    };
    assert_eq!(outbox, vec![decision.clone()], "approved, not yet executed, not lost");

    kafka.start();
    let reader = KafkaWatch::start_at_beginning(&bootstrap, &["ai.completions"]);
    let ids: HashSet<String> = [task.clone()].into();
    // Well within the 60 s lease of the failed first run: the failed run must have given it back.
    let mut seen = reader.collect(&ids, Duration::from_secs(30), |s| count(s, "ai.completions") >= 1);
    seen.extend(reader.collect(&ids, Duration::from_secs(3), |_| false));
    assert_eq!(completions(&seen).get(&task), Some(&1), "executed once after Kafka returned: {seen:#?}");
    assert_eq!(seen[0].1["execution_mode"], "hitl_approved");
    running.shutdown().await;
}

/// A Kafka made slow (a proxy the broker advertises holds every chunk 800 ms each way, so one
/// publish takes well over a second) and two replicas running the outbox with a lease of
/// 400 ms: each replica's sweeper finds the other's approvals in the outbox after 200 ms, long
/// before their completions are durable. Only the owner renewing its lease (and the lease
/// refusing anyone else) keeps the second runner out: every approval yields one completion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_kafka_never_makes_two_replicas_execute_an_approval_twice() {
    let dir = tempfile::tempdir().expect("dir");
    let broker_port = common::process::free_port();
    let proxy = common::proxy::Proxy::start(format!("127.0.0.1:{broker_port}")).await;
    let _kafka = own::tansu_advertising(dir.path(), broker_port, proxy.port);
    let bootstrap = format!("127.0.0.1:{}", proxy.port);
    let env = TestEnv::new().await;
    let config = env.config(&[
        ("OVERSEER__CONNECTIONS__KAFKA__BOOTSTRAP_SERVERS", bootstrap.as_str()),
        ("OVERSEER__HITL__SWEEP_INTERVAL", "100ms"),
        ("OVERSEER__HITL__OUTBOX_LEASE", "400ms"),
        ("OVERSEER__HITL__OUTBOX_SETTLE", "200ms"),
    ]);
    assert!(
        overseer_supervisor::setup::run(&config, false).await.expect("setup"),
        "topics on the own broker"
    );
    let replicas = [env.start(&config, &["auto_orders"]).await, env.start(&config, &["auto_orders"]).await];
    let mut decisions = Vec::new();
    for _ in 0..4 {
        decisions.push(env.park_direct(&config, "payment_processing").await);
    }

    proxy.slow(Duration::from_millis(800));
    for (i, id) in decisions.iter().enumerate() {
        let api = format!("http://{}/api", replicas[i % 2].http_addr);
        let approved = common::auth::admin()
            .post(format!("{api}/brain/hitl/decisions/{id}/approve"))
            .json(&json!({"feedback": "go"}))
            .send()
            .await
            .expect("approve");
        assert_eq!(approved.status().as_u16(), 200, "{id}");
    }
    let outbox = || -> usize {
        let client = redis::Client::open("redis://127.0.0.1:6379/0").expect("url");
        let mut conn = client.get_connection().expect("Redis");
        redis::cmd("ZCARD").arg(format!("{}outbox", env.redis_prefix)).query(&mut conn).expect("ZCARD")
    };
    let started = std::time::Instant::now();
    while outbox() > 0 {
        assert!(started.elapsed() < Duration::from_secs(90), "the outbox never emptied");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let slow_for = started.elapsed();
    proxy.restore();

    let tasks: HashSet<String> = decisions
        .iter()
        .map(|id| {
            let doc = env.redis_hget(&format!("decision:{id}"), "doc").expect("decision");
            let doc: serde_json::Value = serde_json::from_str(&doc).expect("JSON");
            doc["task_id"].as_str().expect("task id").to_string()
        })
        .collect();
    let reader = KafkaWatch::start_at_beginning(&bootstrap, &["ai.completions", "hitl.decisions"]);
    let mut seen = reader.collect(&tasks, Duration::from_secs(30), |s| count(s, "hitl.decisions") >= 4);
    seen.extend(reader.collect(&tasks, Duration::from_secs(2), |_| false));
    for replica in replicas {
        replica.shutdown().await;
    }
    assert!(slow_for > Duration::from_secs(2), "Kafka was not slow: effects took {slow_for:?}");
    let done = completions(&seen);
    for task in &tasks {
        assert_eq!(done.get(task), Some(&1), "{task}: one completion per approval ({done:?})");
    }
    assert_eq!(count(&seen, "hitl.decisions"), 4, "one decision event per approval");
}
