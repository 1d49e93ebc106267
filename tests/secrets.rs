//! A whole scenario at debug log level (tasks parked and decided, logins, refused tokens,
//! notifications to unreachable targets, metrics and health read), then a search of the log,
//! every API answer and /metrics for every configured secret, every token and `user:pass@`:
//! none may appear.

mod common;

use common::auth::{now, signed, token};
use common::llm_server::{order_proposal, Reply};
use common::process::{free_port, Replica};
use common::runtime::TestEnv;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_token_reaches_a_log_an_answer_or_the_metrics() {
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(0.99, json!([{"action": "fulfil"}]))));
    let webhook_secret = "whsec-0f9e8d7c6b5a-do-not-leak";
    let bot_token = "987654:bot-token-do-not-leak";
    let api_key = "sk-test-api-key-do-not-leak";
    let mut vars = env.env(&[
        ("OVERSEER__HITL__NOTIFICATIONS", r#"[{kind = "webhook", url = "http://127.0.0.1:1/hook", secret_env = "OVERSEER_TEST_WEBHOOK_SECRET"}, {kind = "telegram", chat_id = "42", bot_token_env = "OVERSEER_TEST_BOT", api_base = "http://127.0.0.1:1"}]"#),
        ("OVERSEER__HITL__NOTIFY_ATTEMPTS", "2"),
    ]);
    vars.push(("OVERSEER_TEST_WEBHOOK_SECRET".into(), webhook_secret.into()));
    vars.push(("OVERSEER_TEST_BOT".into(), bot_token.into()));
    vars.push(("OPENAI_API_KEY".into(), api_key.into()));
    vars.push(("OVERSEER_LOG".into(), "debug".into()));
    let port = free_port();
    let dir = tempfile::tempdir().expect("dir");
    let log_path = dir.path().join("overseer.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let mut replica = Replica::start_logging(&vars, port, log);
    let base = format!("http://127.0.0.1:{port}");

    let admin = token("ada", "admin");
    let approver = token("carol", "approver");
    let expired = signed(&json!({"sub": "ada", "role": "admin", "exp": now() - 600}));
    let forged = format!("{}x", &admin[..admin.len() - 1]);
    let client = reqwest::Client::new();
    let mut answers = String::new();
    let keep = |r: reqwest::Response, skip_cookies: bool| {
        let mut text = String::new();
        for (name, value) in r.headers() {
            if !(skip_cookies && name == "set-cookie") {
                text.push_str(&format!("{name}: {}\n", value.to_str().unwrap_or("")));
            }
        }
        async move { text + &r.text().await.unwrap_or_default() }
    };

    let config = env.config(&[]);
    env.submit(
        &config,
        "auto_orders",
        &common::runtime::order(&format!("sec-{}", uuid::Uuid::new_v4()), Some("payment_processing")),
        3,
    )
    .await;
    let started = Instant::now();
    let pending = loop {
        let r =
            client.get(format!("{base}/api/hitl/pending")).bearer_auth(&admin).send().await.expect("pending");
        let page: serde_json::Value = r.json().await.expect("JSON");
        let ids: Vec<String> = page["decisions"]
            .as_array()
            .map(|d| d.iter().filter_map(|d| d["decision_id"].as_str().map(String::from)).collect())
            .unwrap_or_default();
        if ids.len() >= 3 {
            break ids;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "parked: {page}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let decided = [
        client
            .post(format!("{base}/api/brain/hitl/decisions/{}/approve", pending[0]))
            .bearer_auth(&approver)
            .json(&json!({"feedback": "ok"}))
            .send()
            .await,
        client
            .post(format!("{base}/api/brain/hitl/decisions/{}/reject", pending[1]))
            .bearer_auth(&approver)
            .json(&json!({"feedback": "no"}))
            .send()
            .await,
        client
            .post(format!("{base}/api/brain/hitl/decisions/{}/approve", pending[2]))
            .bearer_auth(&expired)
            .json(&json!({}))
            .send()
            .await,
        client
            .post(format!("{base}/api/brain/hitl/decisions/{}/approve", pending[2]))
            .bearer_auth(&forged)
            .json(&json!({}))
            .send()
            .await,
        client
            .get(format!("{base}/api/hitl/pending"))
            .header("cookie", format!("overseer_session={forged}"))
            .send()
            .await,
        client
            .get(format!("{base}/api/brain/hitl/decisions/{}", pending[0]))
            .bearer_auth(&admin)
            .send()
            .await,
        client.get(format!("{base}/api/audit?stream=denied")).bearer_auth(&admin).send().await,
        client.get(format!("{base}/api/audit")).bearer_auth(&admin).send().await,
        client.get(format!("{base}/api/hitl/metrics")).bearer_auth(&admin).send().await,
        client.get(format!("{base}/api/brain/hitl/workflows")).bearer_auth(&admin).send().await,
        client.get(format!("{base}/health")).send().await,
        client.get(format!("{base}/metrics")).bearer_auth(&admin).send().await,
    ];
    assert_eq!(decided[0].as_ref().map(|r| r.status().as_u16()).ok(), Some(200));
    assert_eq!(decided[2].as_ref().map(|r| r.status().as_u16()).ok(), Some(401));
    for r in decided {
        answers.push_str(&keep(r.expect("answer"), false).await);
    }
    let login = client
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"token": admin}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status().as_u16(), 200);
    answers.push_str(&keep(login, true).await);
    let bad_login = client
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"token": forged}))
        .send()
        .await
        .expect("login");
    answers.push_str(&keep(bad_login, false).await);
    // Give the notifier time to fail its attempts (and log them).
    tokio::time::sleep(Duration::from_secs(3)).await;
    replica.signal("-TERM");
    let (code, _) = replica.wait(Duration::from_secs(30));
    assert_eq!(code, Some(0));
    let log = std::fs::read_to_string(&log_path).expect("log");
    assert!(log.contains("DEBUG"), "the log is at debug level");
    assert!(log.contains("decision"), "the scenario ran: {}", &log[..log.len().min(2000)]);

    let needles = [
        ("the JWT secret", common::auth::SECRET.to_string()),
        ("the webhook secret", webhook_secret.to_string()),
        ("the bot token", bot_token.to_string()),
        ("the LLM API key", api_key.to_string()),
        ("the admin token", admin.clone()),
        ("the approver token", approver.clone()),
        ("the expired token", expired.clone()),
        ("the forged token", forged.clone()),
        ("a token's signature", admin.rsplit('.').next().unwrap_or_default().to_string()),
        ("credentials in a URL", "guest:guest@".to_string()),
    ];
    for (what, needle) in &needles {
        assert!(!log.contains(needle.as_str()), "{what} is in the log");
        assert!(!answers.contains(needle.as_str()), "{what} is in an API answer");
    }
}
