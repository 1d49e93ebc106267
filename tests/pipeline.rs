//! The core pipeline against real RabbitMQ, Redis and Kafka, with a local OpenAI-compatible
//! server as the model: CONTRACT.md's events, HITL hand-off, policy, invalid output,
//! competing consumers and consumer restarts.

mod common;

use common::kafka_watch::{count, KafkaWatch, Seen};
use common::llm_server::{order_proposal, LlmServer, Reply};
use common::runtime::{order, TestEnv};
use overseer_supervisor::config::Config;
use overseer_supervisor::runtime::Running;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

const TOPICS: &[&str] = &["ai.completions", "domain.orders", "ai.decisions", "hitl.requests", "ai.errors"];

fn one(id: &str) -> HashSet<String> {
    HashSet::from([id.to_string()])
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4())
}

/// A fresh environment whose model always answers `answer`, one replica consuming
/// auto_orders, and a watch on the event topics.
async fn orders_replica(answer: Reply) -> (TestEnv, Config, Running, KafkaWatch) {
    let env = TestEnv::new().await;
    env.llm.set_default(answer);
    let config = env.config(&[]);
    let running = env.start(&config, &["auto_orders"]).await;
    (env, config, running, KafkaWatch::start(TOPICS))
}

/// Collects until `enough`, then a little longer to catch any duplicate.
fn watch_until(
    watch: &KafkaWatch,
    task_ids: &HashSet<String>,
    enough: impl Fn(&[Seen]) -> bool,
) -> Vec<Seen> {
    let mut seen = watch.collect(task_ids, Duration::from_secs(30), enough);
    seen.extend(watch.collect(task_ids, Duration::from_millis(1500), |_| false));
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complete_order_with_a_confident_model_executes_once() {
    let (env, config, running, watch) =
        orders_replica(Reply::content(order_proposal(0.95, json!([{"action": "fulfil"}])))).await;
    let id = new_id("ord");
    env.submit(&config, "auto_orders", &order(&id, None), 1).await;

    let seen = watch_until(&watch, &one(&id), |s| {
        count(s, "ai.completions") >= 1 && count(s, "domain.orders") >= 1 && count(s, "ai.decisions") >= 1
    });
    running.shutdown().await;

    assert_eq!(count(&seen, "ai.completions"), 1, "{seen:#?}");
    assert_eq!(count(&seen, "domain.orders"), 1, "{seen:#?}");
    assert_eq!(count(&seen, "hitl.requests"), 0, "{seen:#?}");
    let (_, completion) = seen.iter().find(|(t, _)| t == "ai.completions").expect("completion");
    for field in [
        "event_id",
        "event_type",
        "occurred_at",
        "task_id",
        "queue",
        "agent",
        "workflow",
        "confidence",
        "execution_mode",
        "result",
    ] {
        assert!(completion.get(field).is_some(), "ai.completions lacks {field}: {completion}");
    }
    assert_eq!(completion["execution_mode"], "autonomous");
    assert_eq!(completion["queue"], "auto_orders");
    assert_eq!(completion["agent"], "order");
    assert_eq!(completion["workflow"], "order_processing");
    assert_eq!(completion["llm_provider"], "openai-compatible");
    let confidence = completion["confidence"].as_f64().expect("number");
    assert!((confidence - (0.4 + 0.6 * 0.95)).abs() < 1e-9, "{confidence}");
    assert_eq!(completion["result"]["actions"][0]["action"], "fulfil");
    // Acked: nothing went back to the queue or to the dead letters when the replica stopped.
    assert_eq!(env.ready("auto_orders").await, 0);
    assert_eq!(env.ready("auto_orders.dlq").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_order_under_a_supervised_workflow_waits_for_a_person() {
    let (env, config, running, watch) =
        orders_replica(Reply::content(order_proposal(0.99, json!([{"action": "fulfil"}])))).await;
    let id = new_id("ord");
    env.submit(&config, "auto_orders", &order(&id, Some("payment_processing")), 1).await;

    let seen =
        watch_until(&watch, &one(&id), |s| count(s, "hitl.requests") >= 1 && count(s, "ai.decisions") >= 1);
    running.shutdown().await;

    assert_eq!(count(&seen, "ai.completions"), 0, "{seen:#?}");
    assert_eq!(count(&seen, "hitl.requests"), 1, "{seen:#?}");
    let (_, request) = seen.iter().find(|(t, _)| t == "hitl.requests").expect("request");
    let decision_id = request["decision_id"].as_str().expect("decision_id").to_string();
    assert!(decision_id.starts_with("dec_"), "{decision_id}");
    assert_eq!(env.redis_get(&format!("task:{id}:decision")).as_deref(), Some(decision_id.as_str()));
    let key = format!("decision:{decision_id}");
    assert_eq!(env.redis_hget(&key, "status").as_deref(), Some("pending"));
    let stored: serde_json::Value =
        serde_json::from_str(&env.redis_hget(&key, "doc").expect("decision stored")).expect("JSON");
    assert_eq!(stored["workflow_id"], "payment_processing");
    assert_eq!(stored["decision_data"]["task"]["task_id"], id.as_str());
    assert!(stored["reasons"][0].as_str().unwrap_or_default().contains("supervised"), "{stored}");
    assert_eq!(env.ready("auto_orders").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_above_the_policy_limit_is_never_executed_even_at_0_99() {
    let (env, config, running, watch) =
        orders_replica(Reply::content(order_proposal(0.99, json!([{"action": "refund", "amount": 450.0}]))))
            .await;
    let id = new_id("ord");
    let mut task = order(&id, None);
    task["kind"] = "order.refund".into();
    env.submit(&config, "auto_orders", &task, 1).await;

    let seen = watch_until(&watch, &one(&id), |s| count(s, "hitl.requests") >= 1);
    running.shutdown().await;

    assert_eq!(count(&seen, "ai.completions"), 0, "{seen:#?}");
    assert_eq!(count(&seen, "domain.orders"), 0, "{seen:#?}");
    let (_, request) = seen.iter().find(|(t, _)| t == "hitl.requests").expect("request");
    assert!(request["confidence"].as_f64().unwrap_or_default() > 0.99 - 1e-9);
    assert!(request["reasons"][0].as_str().unwrap_or_default().contains("refund of 450"), "{request}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_model_output_gets_one_corrective_retry_then_goes_to_the_dead_letters() {
    let (env, config, running, watch) =
        orders_replica(Reply::content("{\"summary\": \"I forgot the schema\"}")).await;
    let id = new_id("ord");
    env.submit(&config, "auto_orders", &order(&id, None), 1).await;

    let seen = watch_until(&watch, &one(&id), |s| count(s, "ai.errors") >= 1);
    running.shutdown().await;

    assert_eq!(env.llm.count(), 2, "one call and one corrective retry");
    assert_eq!(count(&seen, "ai.completions"), 0);
    let (_, error) = seen.iter().find(|(t, _)| t == "ai.errors").expect("ai.errors");
    assert_eq!(error["reason"], "invalid_output");
    assert_eq!(env.ready("auto_orders.dlq").await, 1);
    assert_eq!(env.ready("auto_orders").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runtimes_on_the_same_queue_share_the_work_and_process_each_task_once() {
    let env = TestEnv::new().await;
    let second_llm = LlmServer::start().await;
    let answer = Reply::Content {
        content: order_proposal(0.95, json!([{"action": "fulfil"}])),
        delay: Duration::from_millis(20),
    };
    env.llm.set_default(answer.clone());
    second_llm.set_default(answer);
    let config_a = env.config(&[]);
    let config_b = env.config(&[("OVERSEER__CONNECTIONS__LLM__BASE_URL", &second_llm.base_url)]);
    let a = env.start(&config_a, &["auto_orders"]).await;
    let b = env.start(&config_b, &["auto_orders"]).await;
    let watch = KafkaWatch::start(TOPICS);
    let base = new_id("ord");
    let n = 200;
    env.submit(&config_a, "auto_orders", &order(&base, None), n).await;
    let all: HashSet<String> = (1..=n).map(|i| format!("{base}-{i}")).collect();

    let seen = watch_until(&watch, &all, |s| count(s, "ai.completions") >= n);
    a.shutdown().await;
    b.shutdown().await;

    let mut per_task: HashMap<String, usize> = HashMap::new();
    for (_, e) in seen.iter().filter(|(t, _)| t == "ai.completions") {
        *per_task.entry(e["task_id"].as_str().unwrap_or_default().to_string()).or_default() += 1;
    }
    assert_eq!(per_task.len(), n, "every task completed");
    assert!(
        per_task.values().all(|c| *c == 1),
        "a task completed twice: {:?}",
        per_task.iter().filter(|(_, c)| **c > 1).collect::<Vec<_>>()
    );
    let (calls_a, calls_b) = (env.llm.count(), second_llm.count());
    assert_eq!(calls_a + calls_b, n, "one model call per task");
    assert!(calls_a > 0 && calls_b > 0, "both replicas worked: {calls_a} / {calls_b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_panics_is_restarted_and_the_queue_keeps_flowing() {
    let (env, config, running, watch) =
        orders_replica(Reply::content(order_proposal(0.95, json!([{"action": "fulfil"}])))).await;
    let poison = new_id("panic");
    let mut task = order(&poison, None);
    task["payload"]["__overseer_panic"] = "consumer_once".into();
    env.submit(&config, "auto_orders", &task, 1).await;
    let base = new_id("ord");
    env.submit(&config, "auto_orders", &order(&base, None), 5).await;
    let mut all: HashSet<String> = (1..=5).map(|i| format!("{base}-{i}")).collect();
    all.insert(poison.clone());

    let seen = watch_until(&watch, &all, |s| count(s, "ai.completions") >= 6);
    let health = running.health.queues();
    running.shutdown().await;

    let completed: Vec<String> = seen
        .iter()
        .filter(|(t, _)| t == "ai.completions")
        .filter_map(|(_, e)| e["task_id"].as_str().map(str::to_string))
        .collect();
    // Redeliveries after the restart are recognised by task_id: one completion per task.
    assert_eq!(completed.len(), 6, "{completed:?}");
    assert_eq!(completed.into_iter().collect::<HashSet<_>>(), all, "all tasks completed after the restart");
    let orders = &health["auto_orders"];
    assert!(orders.restarts >= 1, "{orders:?}");
    assert!(!orders.failed);
    assert!(orders.last_error.as_deref().unwrap_or_default().contains("panic"), "{orders:?}");
}

/// The fault hooks are the in-process tests' (common::faults), never the binary's: in an
/// `overseer run` process a payload naming one is a payload like any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overseer_binary_has_no_fault_hooks_a_payload_can_reach() {
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(0.95, json!([{"action": "fulfil"}]))));
    let watch = KafkaWatch::start(TOPICS);
    let replica = common::process::Replica::start(&env.env(&[]), common::process::free_port());
    let mut ids = HashSet::new();
    for mode in ["consumer_always", "task_always"] {
        let id = new_id(mode);
        let mut task = order(&id, None);
        task["payload"]["__overseer_panic"] = mode.into();
        env.submit(&env.config(&[]), "auto_orders", &task, 1).await;
        ids.insert(id);
    }

    let seen = watch_until(&watch, &ids, |s| count(s, "ai.completions") >= 2);
    drop(replica);

    assert_eq!(count(&seen, "ai.completions"), 2, "{seen:#?}");
    assert_eq!(count(&seen, "ai.errors"), 0, "{seen:#?}");
    assert_eq!(env.ready("auto_orders.dlq").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_llm_endpoint_the_offline_stand_in_runs_tasks_end_to_end_and_says_so() {
    let env = TestEnv::new().await;
    let config = env.config(&[("OVERSEER__CONNECTIONS__LLM__BASE_URL", "")]);
    let running = env.start(&config, &["auto_orders", "auto_support_tickets"]).await;
    let watch = KafkaWatch::start(TOPICS);
    let id = new_id("ord");
    env.submit(&config, "auto_orders", &order(&id, None), 1).await;
    let ticket_id = new_id("tkt");
    let ticket = json!({"task_id": ticket_id, "payload": {
        "subject": "Where is my package?", "body": "I ordered last week and nothing has arrived yet.",
        "customer": {"email": "ada@example.com"}, "channel": "email", "order_ref": "ord-1"}});
    env.submit(&config, "auto_support_tickets", &ticket, 1).await;

    let both: HashSet<String> = HashSet::from([id.clone(), ticket_id.clone()]);
    let seen = watch_until(&watch, &both, |s| count(s, "ai.completions") >= 2);
    let health: serde_json::Value = common::auth::get(format!("http://{}/health", running.http_addr))
        .await
        .expect("health")
        .json()
        .await
        .expect("JSON");
    running.shutdown().await;

    assert_eq!(env.llm.count(), 0, "no endpoint was called");
    assert_eq!(health["llm"]["offline"], true, "{health}");
    assert_eq!(health["llm"]["provider"], "offline", "{health}");
    let completions: Vec<_> = seen.iter().filter(|(t, _)| t == "ai.completions").map(|(_, e)| e).collect();
    assert_eq!(completions.len(), 2, "{seen:#?}");
    for c in completions {
        assert_eq!(c["llm_provider"], "offline", "{c}");
        assert!(c["result"]["summary"].as_str().unwrap_or_default().starts_with("[offline]"), "{c}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_keeps_crashing_melts_down_and_health_says_so() {
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(0.95, json!([{"action": "fulfil"}]))));
    let config =
        env.config(&[("OVERSEER__RUNTIME__MAX_RESTARTS", "2"), ("OVERSEER__RUNTIME__RESTART_WINDOW", "1m")]);
    let running = env.start(&config, &["auto_orders"]).await;
    let mut task = order(&new_id("poison"), None);
    task["payload"]["__overseer_panic"] = "consumer_always".into();
    env.submit(&config, "auto_orders", &task, 1).await;

    // Restarts after 1 s and 2 s, then the third failure is one too many.
    let url = format!("http://{}/health", running.http_addr);
    let mut last = (reqwest::StatusCode::OK, serde_json::Value::Null);
    for _ in 0..100 {
        let response = common::auth::get(&url).await.expect("health");
        last = (response.status(), response.json().await.expect("JSON"));
        if last.1["queues"]["auto_orders"]["failed"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    running.shutdown().await;

    let (status, body) = last;
    assert_eq!(body["queues"]["auto_orders"]["failed"], true, "{body}");
    assert_eq!(body["queues"]["auto_orders"]["restarts"], 3, "{body}");
    assert_eq!(body["queues"]["auto_orders"]["consumers"], 0, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(status, reqwest::StatusCode::SERVICE_UNAVAILABLE);
    // Nothing was lost: the task is back in its queue for a person to look at.
    assert_eq!(env.ready("auto_orders").await, 1);
}
