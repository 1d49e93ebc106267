//! Approving from Telegram, end to end against a local stand-in of the Bot API: a pending
//! decision's message carries Approve and Reject buttons; a press from a mapped user approves
//! the decision once (one completion on Kafka) and the message is edited to say who decided;
//! a press from an unmapped user, one without the webhook secret and a second press are
//! refused, and the refusals are in the audit log.

mod common;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use common::kafka_watch::{completions, KafkaWatch};
use common::llm_server::{order_proposal, Reply};
use common::runtime::{order, TestEnv};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// (method, body) of each Bot API call.
type Calls = Arc<Mutex<Vec<(String, Value)>>>;

async fn bot(
    State(calls): State<Calls>,
    Path((_bot, method)): Path<(String, String)>,
    body: axum::Json<Value>,
) -> StatusCode {
    calls.lock().expect("lock").push((method, body.0));
    StatusCode::OK
}

/// The JSON body of a request's answer.
async fn json_of(sent: impl std::future::Future<Output = reqwest::Result<reqwest::Response>>) -> Value {
    sent.await.expect("request").json().await.expect("JSON")
}

fn calls_of(calls: &Calls, method: &str) -> Vec<Value> {
    calls.lock().expect("lock").iter().filter(|(m, _)| m == method).map(|(_, b)| b.clone()).collect()
}

fn press(user: i64, data: &str) -> Value {
    json!({"update_id": 1, "callback_query": {
        "id": format!("cb-{user}"), "from": {"id": user, "is_bot": false, "first_name": "X"},
        "message": {"message_id": 99, "chat": {"id": 42, "type": "private"}, "text": "overseer: a decision waits"},
        "data": data}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapped_telegram_user_approves_once_and_everyone_else_is_refused_and_audited() {
    let calls: Calls = Arc::default();
    let app = Router::new().route("/{bot}/{method}", post(bot)).with_state(calls.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let api = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });

    // Only this test runs in this process: setting variables cannot race another test.
    std::env::set_var("OVERSEER_TEST_TG_TOKEN", "123:bot-token");
    std::env::set_var("OVERSEER_TEST_TG_SECRET", "webhook-secret-0123456789");
    let targets = format!(
        r#"[{{kind = "telegram", chat_id = "42", api_base = "http://{api}", bot_token_env = "OVERSEER_TEST_TG_TOKEN", events = ["pending"]}}]"#
    );
    let approvals = format!(
        r#"{{api_base = "http://{api}", bot_token_env = "OVERSEER_TEST_TG_TOKEN", webhook_secret_env = "OVERSEER_TEST_TG_SECRET", approvers = {{"777" = {{subject = "tg-ada"}}}}}}"#
    );
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(0.99, json!([{"action": "fulfil"}]))));
    let config = env.config(&[
        ("OVERSEER__HITL__NOTIFICATIONS", targets.as_str()),
        ("OVERSEER__HITL__TELEGRAM", approvals.as_str()),
    ]);
    let running = env.start(&config, &["auto_orders"]).await;
    let base = format!("http://{}", running.http_addr);
    let watch = KafkaWatch::start(&["ai.completions"]);
    let task_id = format!("ord-{}", uuid::Uuid::new_v4());
    env.submit(&config, "auto_orders", &order(&task_id, Some("payment_processing")), 1).await;

    // The pending decision's message, with its two buttons.
    let started = Instant::now();
    let message = loop {
        if let Some(m) = calls_of(&calls, "sendMessage").pop() {
            break m;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no Telegram message");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let buttons = &message["reply_markup"]["inline_keyboard"][0];
    assert_eq!(
        (buttons[0]["text"].as_str(), buttons[1]["text"].as_str()),
        (Some("Approve"), Some("Reject")),
        "{message}"
    );
    let approve = buttons[0]["callback_data"].as_str().expect("callback data").to_string();
    let decision_id = approve.split(':').nth(1).expect("decision id").to_string();

    let webhook = format!("{base}/telegram/webhook");
    let plain = reqwest::Client::new();
    let send = |secret: Option<&'static str>, body: Value| {
        let mut r = plain.post(&webhook).json(&body);
        if let Some(s) = secret {
            r = r.header("x-telegram-bot-api-secret-token", s);
        }
        r.send()
    };
    // Without the secret, or with a wrong one: 401, nothing decided.
    for secret in [None, Some("guess")] {
        let r = send(secret, press(777, &approve)).await.expect("post");
        assert_eq!(r.status().as_u16(), 401);
    }
    // A press from someone not mapped to an approver: refused (answered to Telegram as 200).
    let r: Value = json_of(send(Some("webhook-secret-0123456789"), press(999, &approve))).await;
    assert_eq!(r["outcome"], "refused", "{r}");
    let decision: Value =
        json_of(common::auth::get(format!("{base}/api/brain/hitl/decisions/{decision_id}"))).await;
    assert_eq!(decision["status"], "pending_approval", "nothing decided yet");

    // The mapped user approves.
    let r: Value = json_of(send(Some("webhook-secret-0123456789"), press(777, &approve))).await;
    assert_eq!(
        (r["outcome"].as_str(), r["status"].as_str(), r["decided_by"].as_str()),
        (Some("decided"), Some("approved"), Some("tg-ada")),
        "{r}"
    );
    let decision: Value =
        json_of(common::auth::get(format!("{base}/api/brain/hitl/decisions/{decision_id}"))).await;
    assert_eq!(
        (decision["status"].as_str(), decision["decided_by"].as_str()),
        (Some("approved"), Some("tg-ada"))
    );
    // Pressed again: refused, already decided.
    let again: Value = json_of(send(Some("webhook-secret-0123456789"), press(777, &approve))).await;
    assert_eq!(again["outcome"], "refused", "{again}");

    let edits = calls_of(&calls, "editMessageText");
    assert_eq!(edits.len(), 1, "{edits:?}");
    assert_eq!((edits[0]["chat_id"].as_i64(), edits[0]["message_id"].as_i64()), (Some(42), Some(99)));
    assert!(edits[0]["text"].as_str().is_some_and(|t| t.contains("Approved by tg-ada")), "{edits:?}");
    let answers = calls_of(&calls, "answerCallbackQuery");
    assert_eq!(answers.len(), 3, "each verified press is answered: {answers:?}");
    assert!(answers
        .iter()
        .any(|a| a["callback_query_id"] == "cb-999" && a["text"] == "You are not an approver here."));

    let ids = [task_id.clone()].into();
    let mut seen = watch.collect(&ids, Duration::from_secs(20), |s| !s.is_empty());
    seen.extend(watch.collect(&ids, Duration::from_secs(2), |_| false));
    assert_eq!(completions(&seen).get(&task_id), Some(&1), "executed once: {seen:#?}");
    assert_eq!(seen[0].1["execution_mode"], "hitl_approved");
    assert_eq!(seen[0].1["approved_by"], "tg-ada");

    // The refusals are audited: two without the secret, the unmapped user, the second press.
    let audit: Value = json_of(
        common::auth::admin()
            .get(format!("{base}/api/audit?stream=denied&action=POST%20/telegram/webhook&limit=50"))
            .send(),
    )
    .await;
    let records = audit["records"].as_array().expect("records");
    assert_eq!(records.iter().filter(|r| r["outcome"] == "unauthenticated").count(), 2, "{audit}");
    assert!(
        records
            .iter()
            .any(|r| r["outcome"] == "forbidden" && r["reason"].as_str().is_some_and(|x| x.contains("999"))),
        "{audit}"
    );
    let actions: Value =
        json_of(common::auth::admin().get(format!("{base}/api/audit?subject=tg-ada&limit=50")).send()).await;
    let outcomes: Vec<&str> = actions["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r["outcome"].as_str())
        .collect();
    assert!(
        outcomes.contains(&"ok") && outcomes.contains(&"refused"),
        "the approval and the second press: {actions}"
    );

    // The gateway's four endpoints, on the same loop: a request from another system is
    // parked (and its message sent with buttons), listed, answered, and its status follows.
    let admin = common::auth::admin();
    let request: Value = json_of(admin
        .post(format!("{base}/telegram/approval-request"))
        .json(&json!({"workflow": "payment_processing", "summary": "Refund 120 EUR to order 778", "source": "billing",
            "actions": [{"action": "refund", "amount": 120.0}]}))
        .send()).await;
    assert_eq!(request["status"], "pending_approval", "{request}");
    let request_id = request["request_id"].as_str().expect("request id").to_string();
    let started = Instant::now();
    while !calls_of(&calls, "sendMessage")
        .iter()
        .any(|m| m["text"].as_str().is_some_and(|t| t.contains(&request_id)))
    {
        assert!(started.elapsed() < Duration::from_secs(10), "the request was not sent to Telegram");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let listed: Value = json_of(common::auth::get(format!("{base}/telegram/pending-approvals"))).await;
    assert!(
        listed["decisions"]
            .as_array()
            .is_some_and(|d| d.iter().any(|d| d["decision_id"] == request_id.as_str())),
        "{listed}"
    );
    let unknown = admin
        .post(format!("{base}/telegram/approval-request"))
        .json(&json!({"workflow": "nope", "summary": "x"}))
        .send()
        .await
        .expect("post");
    assert_eq!(unknown.status().as_u16(), 404, "an unknown workflow");
    let answered: Value = json_of(
        admin
            .post(format!("{base}/telegram/approval-response"))
            .json(&json!({"request_id": request_id, "approved": false, "feedback": "not this one"}))
            .send(),
    )
    .await;
    assert_eq!(
        (answered["status"].as_str(), answered["request_id"].as_str()),
        (Some("rejected"), Some(request_id.as_str())),
        "{answered}"
    );
    let status: Value =
        json_of(common::auth::get(format!("{base}/telegram/approval-status/{request_id}"))).await;
    assert_eq!(
        (status["status"].as_str(), status["feedback"].as_str()),
        (Some("rejected"), Some("not this one")),
        "{status}"
    );
    running.shutdown().await;
}
