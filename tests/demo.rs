//! `overseer demo` needs no service: with every service URL pointed at a closed port it runs
//! the whole product on its in-memory backends. Over its HTTP API (the tree's per-queue
//! activity, the pending decisions) there are completions, pending decisions and dead letters
//! for every agent, and the completions it names are in the events file; approving a pending
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
    let (mut admin, mut approver) = (None, None);
    let started = Instant::now();
    while approver.is_none() || admin.is_none() {
        let line = rx.recv_timeout(Duration::from_secs(20)).expect("the demo prints its tokens");
        if let Some(t) = line.strip_prefix("  approver token ") {
            approver = Some(t.to_string());
        }
        if let Some(t) = line.strip_prefix("  admin token    ") {
            admin = Some(t.to_string());
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no tokens printed");
    }
    let (admin, token) = (admin.unwrap_or_default(), approver.unwrap_or_default());
    let client = reqwest::Client::new();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {admin}").parse().expect("header"));
    let admin_client = reqwest::Client::builder().default_headers(headers).build().expect("client");
    let base = format!("http://127.0.0.1:{port}");

    // Completions and dead letters for every agent's queue, over the API: the tree's activity.
    let deadline = Instant::now() + Duration::from_secs(60);
    let queues = loop {
        let tree = common::supervisor::tree_of(&admin_client, &base).await;
        let queues: Vec<Value> = tree["queues"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|q| QUEUES.iter().any(|name| q["queue"] == *name))
            .cloned()
            .collect();
        let with = |kind: &str| -> BTreeSet<String> {
            queues
                .iter()
                .filter(|q| q["activity"]["recent"][kind].as_array().is_some_and(|r| !r.is_empty()))
                .filter_map(|q| q["queue"].as_str().map(str::to_string))
                .collect()
        };
        let (executed, dead) = (with("executed"), with("dead_lettered"));
        if executed.len() == QUEUES.len() && dead.len() == QUEUES.len() {
            break queues;
        }
        assert!(Instant::now() < deadline, "completions from {executed:?}, dead letters from {dead:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    // What the API names is what the events file holds: each completion listed, under its agent.
    let seen = events(&file);
    let completed: BTreeSet<(String, String)> = seen
        .iter()
        .filter(|e| e["topic"] == "ai.completions")
        .filter_map(|e| Some((e["event"]["task_id"].as_str()?.into(), e["event"]["queue"].as_str()?.into())))
        .collect();
    let agents_done: BTreeSet<&str> = seen
        .iter()
        .filter(|e| e["topic"] == "ai.completions")
        .filter_map(|e| e["event"]["agent"].as_str())
        .collect();
    assert_eq!(agents_done.len(), AGENTS.len(), "completions by agent: {agents_done:?}");
    let mut codes = BTreeSet::new();
    for q in &queues {
        let name = q["queue"].as_str().unwrap_or_default().to_string();
        for done in q["activity"]["recent"]["executed"].as_array().into_iter().flatten() {
            let task = done["task_id"].as_str().unwrap_or_default().to_string();
            assert!(completed.contains(&(task.clone(), name.clone())), "{task} of {name} has no completion");
        }
        let counted = q["activity"]["counts"]["dead_lettered"].as_u64().unwrap_or(0);
        let listed = q["activity"]["recent"]["dead_lettered"].as_array().map_or(0, Vec::len);
        assert!(counted >= listed as u64 && listed > 0, "{name}: {}", q["activity"]);
        for dead in q["activity"]["recent"]["dead_lettered"].as_array().into_iter().flatten() {
            codes.insert(dead["detail"].as_str().unwrap_or_default().to_string());
        }
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
    // Dead letters say why, over the API and in their ai.errors events.
    assert!(codes.contains("not_json") && codes.contains("bad_envelope"), "{codes:?}");
    let reasons: BTreeSet<String> = events(&file)
        .iter()
        .filter(|e| e["topic"] == "ai.errors")
        .filter_map(|e| e["event"]["reason"].as_str().map(str::to_string))
        .collect();
    assert!(codes.is_subset(&reasons), "API {codes:?}, events {reasons:?}");

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
