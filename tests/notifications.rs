//! Notifications to a local HTTP receiver: a webhook (HMAC-signed, retried through 503s) and
//! the Telegram Bot API flavour, for a new pending decision and its escalation.

mod common;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use common::llm_server::{order_proposal, Reply};
use common::runtime::{order, TestEnv};
use overseer_supervisor::hitl::notify::{sign, SIGNATURE_HEADER};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Received {
    /// (signature header, body) of each webhook request, failed ones included.
    hooks: Vec<(Option<String>, String)>,
    /// (token in the path, body) of each Telegram request.
    telegram: Vec<(String, Value)>,
}

type Shared = Arc<Mutex<Received>>;

async fn hook(State(seen): State<Shared>, headers: HeaderMap, body: String) -> StatusCode {
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
    let mut seen = seen.lock().expect("lock");
    seen.hooks.push((signature, body));
    // The first two deliveries fail: the notifier must retry.
    if seen.hooks.len() <= 2 {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

async fn telegram(
    State(seen): State<Shared>,
    Path(bot): Path<String>,
    body: axum::Json<Value>,
) -> StatusCode {
    seen.lock().expect("lock").telegram.push((bot, body.0));
    StatusCode::OK
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_and_escalated_decisions_are_notified_signed_and_retried() {
    let seen: Shared = Arc::default();
    let app = Router::new()
        .route("/hook", post(hook))
        .route("/{bot}/sendMessage", post(telegram))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let receiver = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });

    // Only this test runs in this process: setting variables cannot race another test.
    std::env::set_var("OVERSEER_TEST_HOOK_SECRET", "s3cret-key");
    std::env::set_var("OVERSEER_TEST_BOT_TOKEN", "123:bot-token");
    let targets = format!(
        r#"[{{kind = "webhook", url = "http://{receiver}/hook", secret_env = "OVERSEER_TEST_HOOK_SECRET"}},
            {{kind = "telegram", chat_id = "42", api_base = "http://{receiver}", bot_token_env = "OVERSEER_TEST_BOT_TOKEN"}}]"#
    );
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(0.99, json!([{"action": "fulfil"}]))));
    let config = env.config(&[
        ("OVERSEER__HITL__NOTIFICATIONS", targets.as_str()),
        ("OVERSEER__WORKFLOWS__PAYMENT_PROCESSING__PENDING_TTL", "2s"),
        ("OVERSEER__HITL__SWEEP_INTERVAL", "300ms"),
    ]);
    let running = env.start(&config, &["auto_orders"]).await;
    let task_id = format!("ord-{}", uuid::Uuid::new_v4());
    env.submit(&config, "auto_orders", &order(&task_id, Some("payment_processing")), 1).await;

    // Pending (after two 503s) and escalated webhooks; two Telegram messages.
    let started = Instant::now();
    let (hooks, telegram) = loop {
        let (hooks, telegram) = {
            let s = seen.lock().expect("lock");
            (s.hooks.clone(), s.telegram.clone())
        };
        if hooks.len() >= 4 && telegram.len() >= 2 {
            break (hooks, telegram);
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{} hooks, {} telegram",
            hooks.len(),
            telegram.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut events = Vec::new();
    for (signature, body) in &hooks {
        let signature = signature.as_deref().expect("every body is signed");
        let (t, mac) = signature
            .strip_prefix("t=")
            .and_then(|rest| rest.split_once(",v1="))
            .unwrap_or_else(|| panic!("t=…,v1=… expected: {signature}"));
        let t: u64 = t.parse().expect("a time");
        assert!(common::auth::now().abs_diff(t) < 120, "a current timestamp");
        assert_eq!(
            mac,
            sign(b"s3cret-key", format!("{t}.{body}").as_bytes()),
            "the MAC covers time and body"
        );
        let event: Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(event["task_id"], task_id.as_str());
        events.push(event["event"].as_str().unwrap_or("").to_string());
    }
    // The first two deliveries (both of the pending notice) fail; each event then gets through
    // once (the escalation may arrive between the pending notice's retries).
    assert_eq!(&events[..2], ["hitl.pending", "hitl.pending"]);
    events.sort();
    assert_eq!(events, vec!["hitl.escalated", "hitl.pending", "hitl.pending", "hitl.pending"]);
    let decision_id = serde_json::from_str::<Value>(&hooks[0].1).expect("JSON")["decision_id"].clone();
    assert!(decision_id.as_str().is_some_and(|id| id.starts_with("dec_")));
    for (bot, message) in &telegram {
        assert_eq!(bot, "bot123:bot-token");
        assert_eq!(message["chat_id"], "42");
        assert!(
            message["text"].as_str().is_some_and(|t| t.contains(decision_id.as_str().unwrap_or("?"))),
            "{message}"
        );
    }
    // What got through is on the decision (its timeline in the dashboard): the pending notice
    // and the escalation, each by webhook and by Telegram; the failed attempts are not.
    let id = decision_id.as_str().unwrap_or_default();
    let mut notified = Vec::new();
    let started = Instant::now();
    while notified.len() < 4 && started.elapsed() < Duration::from_secs(10) {
        let d: Value =
            common::auth::get(format!("http://{}/api/brain/hitl/decisions/{id}", running.http_addr))
                .await
                .expect("decision")
                .json()
                .await
                .expect("JSON");
        notified = d["notified"].as_array().cloned().unwrap_or_default();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut seen: Vec<(String, String)> = notified
        .iter()
        .map(|n| (n["event"].as_str().unwrap_or("").to_string(), n["via"].as_str().unwrap_or("").to_string()))
        .collect();
    seen.sort();
    let expected = [
        ("hitl.escalated", "telegram"),
        ("hitl.escalated", "webhook"),
        ("hitl.pending", "telegram"),
        ("hitl.pending", "webhook"),
    ];
    assert_eq!(seen, expected.map(|(e, v)| (e.to_string(), v.to_string())), "{notified:?}");
    assert!(notified.iter().all(|n| n["at"].as_str().is_some_and(|t| t.starts_with("20"))), "{notified:?}");
    running.shutdown().await;
}
