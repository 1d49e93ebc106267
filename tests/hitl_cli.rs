//! `overseer hitl …` against a running replica's API.

mod common;

use common::llm_server::{order_proposal, Reply};
use common::runtime::TestEnv;
use serde_json::json;
use std::process::Output;

async fn cli(api: &str, args: &[&str]) -> Output {
    let mut all = vec!["hitl", "--api", api];
    all.extend_from_slice(args);
    let all: Vec<String> = all.into_iter().map(str::to_string).collect();
    let token = common::auth::token("ada", "admin");
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        common::overseer(&refs, &[("OVERSEER_TOKEN", &token)])
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_lists_shows_decides_and_changes_workflows() {
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(0.99, json!([{"action": "fulfil"}]))));
    let config = env.config(&[]);
    let running = env.start(&config, &["auto_orders"]).await;
    let (parked, _watch) = env.park_orders(2, "payment_processing").await;
    let mut decisions: Vec<String> = parked.keys().cloned().collect();
    decisions.sort();
    let api = format!("http://{}", running.http_addr);

    let out = cli(&api, &["pending", "--workflow", "payment_processing"]).await;
    let text = common::text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.starts_with("2 pending"), "{text}");
    assert!(decisions.iter().all(|d| text.contains(d.as_str())), "{text}");

    let out = cli(&api, &["show", &decisions[0]]).await;
    assert!(out.status.success());
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(shown["decision_id"], decisions[0].as_str());

    let out = cli(&api, &["approve", &decisions[0], "--feedback", "fine"]).await;
    assert!(out.status.success(), "{}", common::text(&out));
    assert!(common::text(&out).contains("approved"));
    assert!(
        common::text(&out).contains("actions: fulfil\nreasons: "),
        "shows what is decided: {}",
        common::text(&out)
    );
    let out = cli(&api, &["approve", &decisions[0]]).await;
    assert!(!out.status.success(), "a second approval fails");
    assert!(common::text(&out).contains("409"), "{}", common::text(&out));
    let out = cli(&api, &["reject", &decisions[1], "--feedback", "no"]).await;
    assert!(common::text(&out).contains("rejected"), "{}", common::text(&out));

    let out =
        cli(&api, &["workflows", "payment_processing", "--threshold", "0.5", "--autonomy", "assisted"]).await;
    let text = common::text(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("threshold 0.5") && text.contains("assisted"), "{text}");
    let out = cli(&api, &["workflows"]).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 9);
    let out = cli(&api, &["workflows", "payment_processing", "--threshold", "2"]).await;
    assert!(!out.status.success());
    assert!(common::text(&out).contains("outside 0..1"), "{}", common::text(&out));
    let out = cli("http://127.0.0.1:1", &["pending"]).await;
    assert!(!out.status.success());
    assert!(common::text(&out).contains("cannot reach the API"), "{}", common::text(&out));
    running.shutdown().await;
}
