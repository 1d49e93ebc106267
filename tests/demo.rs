//! `overseer demo` needs no service: with every service URL pointed at a closed port it runs
//! the whole product on its in-memory backends. Over its HTTP API and in its events file there
//! are completions, pending decisions and dead letters for every agent; approving a pending
//! decision through the API puts its `hitl_approved` completion in the events file.

mod common;

use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const AGENTS: [&str; 8] =
    ["order", "support", "marketing", "inventory", "seo", "social_media", "email_campaign", "analytics"];
/// The queues the demo feeds.
const QUEUES: [&str; 8] = overseer_supervisor::demo::mix::QUEUES;

fn events(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_every_agent_with_no_service_and_an_approval_lands_in_the_events_file() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("events.jsonl");
    let port = common::process::free_port();
    let closed = common::process::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_overseer"))
        .args(["--config", common::repo_config().to_str().expect("utf-8"), "demo", "--rate", "400"])
        .args(["--tasks", "480", "--events", file.to_str().expect("utf-8")])
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .env("OVERSEER_LOG", "warn")
        .env("OVERSEER__CONNECTIONS__AMQP__URL", format!("amqp://guest:guest@127.0.0.1:{closed}/%2f"))
        .env("OVERSEER__CONNECTIONS__REDIS__URL", format!("redis://127.0.0.1:{closed}"))
        .env("OVERSEER__CONNECTIONS__KAFKA__BOOTSTRAP_SERVERS", format!("127.0.0.1:{closed}"))
        .env_remove("OVERSEER__CONNECTIONS__LLM__BASE_URL")
        .env_remove("OVERSEER_JWT_SECRET")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("overseer demo starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut approver = None;
    let started = Instant::now();
    while approver.is_none() {
        let line = rx.recv_timeout(Duration::from_secs(20)).expect("the demo prints its tokens");
        approver = line.strip_prefix("  approver token ").map(str::to_string);
        assert!(started.elapsed() < Duration::from_secs(20), "no approver token printed");
    }
    let token = approver.unwrap_or_default();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");

    // Every task of the mix is settled: completions and dead letters for every agent's queue.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen = events(&file);
        let agents_done: BTreeSet<String> = seen
            .iter()
            .filter(|e| e["topic"] == "ai.completions")
            .filter_map(|e| e["event"]["agent"].as_str().map(str::to_string))
            .collect();
        let queues_dead: BTreeSet<String> = seen
            .iter()
            .filter(|e| e["topic"] == "ai.errors")
            .filter_map(|e| e["event"]["queue"].as_str().map(str::to_string))
            .collect();
        if agents_done.len() == AGENTS.len() && queues_dead.len() == QUEUES.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "completions from {agents_done:?}, dead letters from {queues_dead:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Pending decisions for every agent, over the API.
    let pending: Value = client
        .get(format!("{base}/api/brain/hitl/decisions/pending?limit=500"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("pending")
        .json()
        .await
        .expect("JSON");
    let decisions = pending["decisions"].as_array().cloned().unwrap_or_default();
    let waiting_for: BTreeSet<&str> = decisions.iter().filter_map(|d| d["agent"].as_str()).collect();
    assert_eq!(waiting_for.len(), AGENTS.len(), "pending decisions by agent: {waiting_for:?}");
    // Dead letters of every queue say why.
    let reasons: BTreeSet<String> = events(&file)
        .iter()
        .filter(|e| e["topic"] == "ai.errors")
        .filter_map(|e| e["event"]["reason"].as_str().map(str::to_string))
        .collect();
    assert!(reasons.contains("not_json") && reasons.contains("bad_envelope"), "{reasons:?}");

    // Approving one puts its hitl_approved completion in the events file.
    let decision = decisions.iter().find(|d| d["agent"] == "order").expect("an order waits");
    let id = decision["decision_id"].as_str().or_else(|| decision["id"].as_str()).expect("decision id");
    let task = decision["task_id"].as_str().expect("task id").to_string();
    let r = client
        .post(format!("{base}/api/brain/hitl/decisions/{id}/approve"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"feedback": "checked in the demo"}))
        .send()
        .await
        .expect("approve");
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap_or_default());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let approved: Vec<Value> = events(&file)
            .into_iter()
            .filter(|e| e["topic"] == "ai.completions" && e["event"]["task_id"] == task.as_str())
            .collect();
        if let Some(done) = approved.first() {
            assert_eq!(approved.len(), 1, "one completion: {approved:?}");
            assert_eq!(done["event"]["execution_mode"], "hitl_approved", "{done}");
            break;
        }
        assert!(Instant::now() < deadline, "no completion for the approved task {task}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = child.wait().expect("wait");
    assert!(status.success(), "the demo stops cleanly on SIGTERM: {status:?}");
}
