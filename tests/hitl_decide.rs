//! Deciding pending decisions through the API of a running replica (real RabbitMQ, Redis,
//! Kafka): approve executes once with execution_mode hitl_approved, reject ends the task
//! rejected, racing approvers get one success, edits are checked and executed, M-of-N waits
//! for the M-th distinct approver, approver lists are enforced.

mod common;

use common::kafka_watch::{completions, count, KafkaWatch, Seen};
use common::llm_server::{order_proposal, Reply};
use common::runtime::TestEnv;
use overseer_supervisor::runtime::Running;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// Parks `n` orders in the supervised payment_processing workflow; decision id → task id.
async fn park(env: &TestEnv, _running: &Running, n: usize) -> (HashMap<String, String>, KafkaWatch) {
    env.park_orders(n, "payment_processing").await
}

fn api(running: &Running) -> String {
    format!("http://{}/api", running.http_addr)
}

async fn post(url: &str, user: &str, body: Value) -> (u16, Value) {
    let r = common::auth::client_as(user, "approver").post(url).json(&body).send().await.expect("POST");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn tasks(parked: &HashMap<String, String>) -> HashSet<String> {
    parked.values().cloned().collect()
}

fn events_for<'a>(seen: &'a [Seen], topic: &str, task: &str) -> Vec<&'a Value> {
    seen.iter().filter(|(t, e)| t == topic && e["task_id"] == task).map(|(_, e)| e).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_executes_once_and_reject_ends_the_task_with_its_feedback() {
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(0.99, json!([{"action": "fulfil"}]))));
    let running = env.start(&env.config(&[]), &["auto_orders"]).await;
    let (parked, watch) = park(&env, &running, 2).await;
    let mut ids: Vec<&String> = parked.keys().collect();
    ids.sort();
    let (approve_id, reject_id) = (ids[0].clone(), ids[1].clone());
    let base = format!("{}/brain/hitl/decisions", api(&running));

    let (code, body) =
        post(&format!("{base}/{approve_id}/approve"), "ada", json!({"feedback": "looks right"})).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "approved");
    assert_eq!(body["feedback"], "looks right");
    assert!(body["approved_at"].is_string(), "{body}");
    assert!(body["message"].is_string());
    let (code, body) = post(&format!("{base}/{approve_id}/approve"), "bob", json!({})).await;
    assert_eq!(code, 409, "a second approval conflicts: {body}");
    assert_eq!(body["error"], "conflict");

    let (code, body) =
        post(&format!("{base}/{reject_id}/reject"), "ada", json!({"feedback": "wrong address"})).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        (body["status"].as_str(), body["feedback"].as_str()),
        (Some("rejected"), Some("wrong address"))
    );
    assert!(body["rejected_at"].is_string(), "{body}");

    let seen = watch.collect(&tasks(&parked), Duration::from_secs(20), |s| {
        count(s, "hitl.decisions") >= 2 && count(s, "hitl.feedback") >= 2 && count(s, "ai.completions") >= 1
    });
    // Anything late would show up here.
    let mut seen = seen;
    seen.extend(watch.collect(&tasks(&parked), Duration::from_secs(2), |_| false));
    let approved_task = &parked[&approve_id];
    let rejected_task = &parked[&reject_id];
    let done = completions(&seen);
    assert_eq!(done.get(approved_task), Some(&1), "exactly one completion: {seen:#?}");
    assert_eq!(done.get(rejected_task), None, "a rejected task never completes");
    let completion = events_for(&seen, "ai.completions", approved_task)[0];
    assert_eq!(completion["execution_mode"], "hitl_approved");
    assert_eq!(completion["decision_id"], approve_id.as_str());
    assert_eq!(completion["approved_by"], "ada");
    let rejection = events_for(&seen, "hitl.decisions", rejected_task);
    assert_eq!(rejection.len(), 1);
    assert_eq!(rejection[0]["status"], "rejected");
    assert_eq!(rejection[0]["feedback"], "wrong address");
    assert_eq!(events_for(&seen, "hitl.feedback", rejected_task)[0]["feedback"], "wrong address");

    // Training records: one per decision, with the human decision and the model output.
    let mut training = HashMap::new();
    while let Some((_, body)) = env.take("hitl_training").await {
        let record: Value = serde_json::from_slice(&body).expect("training JSON");
        training.insert(record["decision_id"].as_str().unwrap_or("").to_string(), record);
    }
    assert_eq!(training.len(), 2, "{training:#?}");
    assert_eq!(training[&approve_id]["human_decision"], "approved");
    assert_eq!(training[&reject_id]["human_decision"], "rejected");
    assert_eq!(training[&reject_id]["feedback"], "wrong address");
    assert!(training[&approve_id]["model_output"]["actions"].is_array());
    assert_eq!(training[&approve_id]["input"]["task_id"], approved_task.as_str());

    // The decisions show their outcome; the tasks' outcomes are in the ledger.
    let shown: Value =
        common::auth::get(format!("{base}/{reject_id}")).await.expect("get").json().await.expect("JSON");
    assert_eq!(
        (shown["status"].as_str(), shown["feedback"].as_str()),
        (Some("rejected"), Some("wrong address"))
    );
    let history: Value =
        common::auth::get(format!("{base}/history")).await.expect("history").json().await.expect("JSON");
    let order: Vec<&str> = history["decisions"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|d| d["decision_id"].as_str())
        .collect();
    assert_eq!(order, vec![reject_id.as_str(), approve_id.as_str()], "newest first: {history}");
    let rejected: Value =
        common::auth::get(format!("{base}/history?status=rejected&workflow=payment_processing"))
            .await
            .expect("history")
            .json()
            .await
            .expect("JSON");
    assert_eq!(rejected["count"], 1, "{rejected}");
    let bad = common::auth::get(format!("{base}/history?status=pending")).await.expect("history");
    assert_eq!(bad.status().as_u16(), 400);
    let paged: Value =
        common::auth::get(format!("{base}/history?limit=1")).await.expect("h").json().await.expect("J");
    let cursor = paged["next_cursor"].as_str().expect("a second page");
    let second: Value = common::auth::get(format!("{base}/history?limit=1&cursor={cursor}"))
        .await
        .expect("h")
        .json()
        .await
        .expect("J");
    assert_eq!(second["decisions"][0]["decision_id"], approve_id.as_str(), "{second}");
    assert_eq!(env.redis_get(&format!("outcome:{approved_task}")).as_deref(), Some("done:hitl_approved"));
    assert_eq!(env.redis_get(&format!("outcome:{rejected_task}")).as_deref(), Some("done:hitl_rejected"));
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_racing_approvers_give_one_success_and_one_completion() {
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(0.99, json!([{"action": "fulfil"}]))));
    let running = env.start(&env.config(&[]), &["auto_orders"]).await;
    let (parked, watch) = park(&env, &running, 1).await;
    let id = parked.keys().next().expect("one").clone();
    let url = format!("{}/brain/hitl/decisions/{id}/approve", api(&running));
    let racers = (0..50).map(|i| {
        let url = url.clone();
        tokio::spawn(async move { post(&url, &format!("approver{i}"), json!({"feedback": "go"})).await.0 })
    });
    let codes: Vec<u16> =
        futures_util::future::join_all(racers).await.into_iter().map(|r| r.expect("join")).collect();
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 409).count(), 49, "{codes:?}");
    let mut seen = watch.collect(&tasks(&parked), Duration::from_secs(20), |s| {
        count(s, "ai.completions") >= 1 && count(s, "hitl.decisions") >= 1
    });
    seen.extend(watch.collect(&tasks(&parked), Duration::from_secs(3), |_| false));
    assert_eq!(count(&seen, "ai.completions"), 1, "{seen:#?}");
    assert_eq!(count(&seen, "hitl.decisions"), 1, "one decision record: {seen:#?}");
    let audit: Vec<&Value> = seen.iter().filter(|(t, _)| t == "audit.trail").map(|(_, e)| e).collect();
    assert_eq!(audit.len(), 1, "one audit entry: {seen:#?}");
    assert_eq!(audit[0]["action"], "approved");
    assert_eq!(audit[0]["by"]["from"], "127.0.0.1");
    let winner = audit[0]["by"]["user"].as_str().expect("user");
    assert!(winner.starts_with("approver"), "{winner}");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_approval_is_checked_and_what_executes() {
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(0.99, json!([{"action": "fulfil"}]))));
    let running = env.start(&env.config(&[]), &["auto_orders"]).await;
    let (parked, watch) = park(&env, &running, 1).await;
    let id = parked.keys().next().expect("one").clone();
    let base = format!("{}/brain/hitl/decisions/{id}", api(&running));
    let shown: Value = common::auth::get(&base).await.expect("get").json().await.expect("JSON");
    let mut edit = shown["decision_data"]["proposal"].clone();

    let (code, body) = post(&format!("{base}/approve"), "ada", json!({"edited": {"summary": "x"}})).await;
    assert_eq!(code, 400, "an edit missing fields is refused: {body}");
    let (code, body) = post(
        &format!("{base}/approve"),
        "ada",
        json!({"edited": edit, "payload_hash": "not-what-was-shown"}),
    )
    .await;
    assert_eq!(code, 409, "a stale payload is refused: {body}");
    let hash = shown["payload_hash"].as_str().expect("hash");

    // An edit obeys the same policy as the model: no action off the allow-list, no refund
    // above the limit, no refunds beyond the order's own total (20 here).
    for (actions, rule) in [
        (json!([{"action": "wire_money", "amount": 1e9}]), "allow_list"),
        (json!([{"action": "refund", "amount": 500.0}]), "refund_limit"),
        (
            json!([{"action": "refund", "amount": 15.0}, {"action": "refund", "amount": 15.0}]),
            "refund_order_total",
        ),
    ] {
        let mut bad = edit.clone();
        bad["actions"] = actions;
        let (code, body) =
            post(&format!("{base}/approve"), "ada", json!({"edited": bad, "payload_hash": hash})).await;
        assert_eq!(code, 400, "{body}");
        assert!(body["detail"].as_str().is_some_and(|d| d.contains(rule)), "names {rule}: {body}");
    }

    edit["actions"] = json!([{"action": "fulfil", "note": "ship with the express carrier"}]);
    let (code, body) =
        post(&format!("{base}/approve"), "ada", json!({"edited": edit, "payload_hash": hash})).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["edited"], true);
    let seen = watch.collect(&tasks(&parked), Duration::from_secs(20), |s| count(s, "ai.completions") >= 1);
    let completion = &seen.iter().find(|(t, _)| t == "ai.completions").expect("completion").1;
    assert_eq!(completion["edited"], true);
    assert_eq!(completion["result"]["actions"][0]["note"], "ship with the express carrier");
    assert_eq!(completion["payload_hash"], hash, "what was shown");
    let executed = overseer_supervisor::hitl::decision::hash_proposal(&completion["result"]);
    assert_eq!(completion["executed_hash"], executed.as_str(), "the hash of exactly what executes");
    assert_ne!(executed, hash);
    let (_, record) = env.take("hitl_training").await.expect("training record");
    let record: Value = serde_json::from_slice(&record).expect("JSON");
    assert!(record["edit_diff"].as_array().is_some_and(|d| !d.is_empty()), "{record}");
    let stored: Value = common::auth::get(&base).await.expect("get").json().await.expect("JSON");
    assert_eq!(stored["edited"]["actions"][0]["note"], "ship with the express carrier");
    assert_eq!(
        stored["decision_data"]["proposal"]["actions"][0].get("note"),
        Some(&Value::Null),
        "original kept"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn m_of_n_executes_at_the_mth_distinct_approver_and_approver_lists_hold() {
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(0.99, json!([{"action": "fulfil"}]))));
    let config = env.config(&[
        ("OVERSEER__WORKFLOWS__PAYMENT_PROCESSING__REQUIRED_APPROVALS", "3"),
        ("OVERSEER__WORKFLOWS__PAYMENT_PROCESSING__APPROVERS", "[\"ada\", \"bob\", \"cy\"]"),
    ]);
    let running = env.start(&config, &["auto_orders"]).await;
    let (parked, watch) = park(&env, &running, 1).await;
    let id = parked.keys().next().expect("one").clone();
    let url = format!("{}/brain/hitl/decisions/{id}/approve", api(&running));

    let (code, body) = post(&url, "mallory", json!({})).await;
    assert_eq!(code, 403, "not on the approver list: {body}");
    let (code, body) = post(&url, "ada", json!({})).await;
    assert_eq!((code, body["status"].as_str()), (200, Some("pending_approval")), "{body}");
    let (code, body) = post(&url, "ada", json!({})).await;
    assert_eq!(code, 409, "each approver counts once: {body}");
    let (code, body) = post(&url, "bob", json!({})).await;
    assert_eq!((code, body["status"].as_str()), (200, Some("pending_approval")), "{body}");
    let early = watch.collect(&tasks(&parked), Duration::from_secs(2), |s| count(s, "ai.completions") >= 1);
    assert_eq!(count(&early, "ai.completions"), 0, "nothing executes before the third approval");
    let (code, body) = post(&url, "cy", json!({"feedback": "three of three"})).await;
    assert_eq!((code, body["status"].as_str()), (200, Some("approved")), "{body}");
    assert_eq!(body["approvals"], json!(["ada", "bob", "cy"]));
    let seen = watch.collect(&tasks(&parked), Duration::from_secs(20), |s| count(s, "ai.completions") >= 1);
    assert_eq!(count(&seen, "ai.completions"), 1);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_decisions_answer_per_item() {
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(0.99, json!([{"action": "fulfil"}]))));
    let running = env.start(&env.config(&[]), &["auto_orders"]).await;
    let (parked, _watch) = park(&env, &running, 3).await;
    let mut ids: Vec<&String> = parked.keys().collect();
    ids.sort();
    let url = format!("{}/hitl/decision", api(&running));
    // A batch with an item that is not valid is refused whole: nothing in it is decided.
    let (code, bad) = post(
        &url,
        "ada",
        json!({"decisions": [
            {"decision_id": ids[2], "action": "approve"},
            {"decision_id": ids[2], "action": "maybe"},
        ]}),
    )
    .await;
    assert_eq!(code, 400, "{bad}");
    assert!(bad["detail"].as_str().is_some_and(|d| d.contains("/decisions/1/action")), "{bad}");
    let still = common::auth::admin()
        .get(format!("{}/brain/hitl/decisions/{}", api(&running), ids[2]))
        .send()
        .await
        .expect("get");
    let still: Value = still.json().await.expect("JSON");
    assert_eq!(still["status"], "pending_approval", "{still}");
    let (code, body) = post(
        &url,
        "ada",
        json!({"decisions": [
            {"decision_id": ids[0], "action": "approve"},
            {"decision_id": ids[1], "action": "reject", "feedback": "no"},
            {"decision_id": ids[0], "action": "reject"},
            {"decision_id": "dec_nope", "action": "approve"},
        ]}),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let codes: Vec<u64> = body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["status_code"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(codes, vec![200, 200, 409, 404], "{body}");
    assert_eq!(body["succeeded"], 2);
    let (code, single) = post(&url, "ada", json!({"decision_id": ids[0], "action": "approve"})).await;
    assert_eq!((code, single["error"].as_str()), (409, Some("conflict")), "{single}");
    let (code, bad) = post(&url, "ada", json!({"decisions": []})).await;
    assert_eq!(code, 400, "{bad}");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hitl_metrics_count_pending_decided_and_expired() {
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(0.99, json!([{"action": "fulfil"}]))));
    let config = env.config(&[
        ("OVERSEER__WORKFLOWS__PAYMENT_PROCESSING__PENDING_TTL", "4s"),
        ("OVERSEER__HITL__SWEEP_INTERVAL", "300ms"),
    ]);
    let running = env.start(&config, &["auto_orders"]).await;
    let (parked, _watch) = park(&env, &running, 3).await;
    let url = format!("{}/hitl/metrics", api(&running));
    let before: Value = common::auth::get(&url).await.expect("metrics").json().await.expect("JSON");
    let wf = &before["workflows"]["payment_processing"];
    assert_eq!(wf["pending"], 3, "{before}");
    assert!(wf["oldest_pending_seconds"].as_f64().is_some_and(|s| (0.0..4.0).contains(&s)), "{wf}");
    assert_eq!(before["totals"]["pending"], 3);

    let mut ids: Vec<&String> = parked.keys().collect();
    ids.sort();
    let base = format!("{}/brain/hitl/decisions", api(&running));
    assert_eq!(post(&format!("{base}/{}/approve", ids[0]), "ada", json!({})).await.0, 200);
    assert_eq!(post(&format!("{base}/{}/reject", ids[1]), "ada", json!({})).await.0, 200);
    // The third expires (TTL 4 s) and is escalated.
    let started = std::time::Instant::now();
    let after = loop {
        let now: Value = common::auth::get(&url).await.expect("metrics").json().await.expect("JSON");
        if now["workflows"]["payment_processing"]["decided"]["escalated"] == 1
            || started.elapsed() > Duration::from_secs(15)
        {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let wf = &after["workflows"]["payment_processing"];
    assert_eq!(wf["pending"], 0, "{after}");
    assert_eq!(wf["decided"], json!({"approved": 1, "rejected": 1, "escalated": 1}), "{after}");
    assert_eq!(wf["approval_rate"], 0.5);
    assert_eq!(wf["expiries"], 1);
    assert_eq!(wf["time_to_decision_seconds"]["samples"], 2);
    assert!(wf["time_to_decision_seconds"]["p95"].as_f64().is_some_and(|s| (0.0..10.0).contains(&s)), "{wf}");
    assert_eq!(wf["autonomy_level"], "supervised");
    assert_eq!(after["workflows"]["lead_processing"]["pending"], 0);

    let text = common::auth::get(format!("http://{}/metrics", running.http_addr))
        .await
        .expect("m")
        .text()
        .await
        .expect("t");
    for name in [
        "overseer_hitl_pending{workflow=\"payment_processing\"}",
        "overseer_hitl_oldest_pending_age_seconds",
        "overseer_hitl_confidence_threshold{workflow=\"payment_processing\"} 0.95",
        "overseer_hitl_decisions_total",
        "overseer_hitl_time_to_decision_seconds_bucket",
        "overseer_hitl_expiries_total",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics");
    }
    running.shutdown().await;
}
