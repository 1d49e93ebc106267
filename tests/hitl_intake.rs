//! Approval requests from other systems on `hitl_approval` (real RabbitMQ, Redis, Kafka):
//! parked as decisions of their workflow without a model call, once per task_id; approving one
//! emits its completion; malformed requests are dead-lettered with the reason.

mod common;

use common::kafka_watch::{count, KafkaWatch};
use common::runtime::TestEnv;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_requests_are_parked_once_decided_and_bad_ones_dead_lettered() {
    let env = TestEnv::new().await;
    let config = env.config(&[]);
    let running = env.start(&config, &["hitl_approval"]).await;
    let watch = KafkaWatch::start(&["hitl.requests", "ai.completions"]);
    let id = format!("refund-{}", uuid::Uuid::new_v4());
    let request = json!({
        "task_id": id,
        "workflow": "payment_processing",
        "payload": {"summary": "Refund 120 EUR to order 778", "source": "billing",
                    "actions": [{"action": "refund", "amount": 120.0}], "confidence": 0.4,
                    "details": {"order": 778}}
    });
    env.submit(&config, "hitl_approval", &request, 1).await;
    // The same request again (a producer retry): still one decision.
    env.submit(&config, "hitl_approval", &request, 1).await;
    let ids: HashSet<String> = [id.clone()].into();
    let mut seen = watch.collect(&ids, Duration::from_secs(20), |s| count(s, "hitl.requests") >= 1);
    seen.extend(watch.collect(&ids, Duration::from_secs(2), |_| false));
    assert_eq!(count(&seen, "hitl.requests"), 1, "{seen:#?}");
    let decision_id = seen[0].1["decision_id"].as_str().expect("decision id").to_string();

    let api = format!("http://{}/api/brain/hitl/decisions", running.http_addr);
    let shown: Value =
        common::auth::get(format!("{api}/{decision_id}")).await.expect("get").json().await.expect("JSON");
    assert_eq!(shown["workflow_id"], "payment_processing");
    assert_eq!(shown["agent"], "billing");
    assert_eq!(shown["queue"], "hitl_approval");
    assert_eq!(shown["confidence"], 0.4);
    assert_eq!(shown["decision_data"]["proposal"]["summary"], "Refund 120 EUR to order 778");
    assert_eq!(shown["decision_data"]["proposal"]["actions"][0]["amount"], 120.0);

    let approved = common::auth::client_as("ada", "admin")
        .post(format!("{api}/{decision_id}/approve"))
        .json(&json!({"feedback": "ok"}))
        .send()
        .await
        .expect("approve");
    assert_eq!(approved.status().as_u16(), 200);
    let done = watch.collect(&ids, Duration::from_secs(20), |s| count(s, "ai.completions") >= 1);
    let completion = &done.iter().find(|(t, _)| t == "ai.completions").expect("completion").1;
    assert_eq!(completion["execution_mode"], "hitl_approved");
    assert_eq!(completion["result"]["actions"][0]["action"], "refund");

    for (bad, reason) in [
        (json!({"task_id": format!("{id}-nowf"), "payload": {"summary": "x"}}), "workflow_required"),
        (
            json!({"task_id": format!("{id}-nosum"), "workflow": "payment_processing", "payload": {"actions": []}}),
            "invalid_approval_request",
        ),
        (
            json!({"task_id": format!("{id}-wf"), "workflow": "nope", "payload": {"summary": "x"}}),
            "unknown_workflow",
        ),
    ] {
        env.submit(&config, "hitl_approval", &bad, 1).await;
        let started = std::time::Instant::now();
        let dead = loop {
            if let Some(found) = env.take("hitl_approval.dlq").await {
                break found;
            }
            assert!(started.elapsed() < Duration::from_secs(15), "{reason}: nothing dead-lettered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(dead.0.get("x-overseer-reason").map(String::as_str), Some(reason), "{:?}", dead.0);
    }
    running.shutdown().await;
}
