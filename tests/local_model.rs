//! Opt-in: tasks of every agent through a real local model, end to end (the demo's in-memory
//! backends, so no other service is needed). Start the model first and name it:
//!
//! ```sh
//! export OVERSEER_LOCAL_LLM_URL=$(scripts/local-llm.sh)
//! cargo test --test local_model -- --ignored --nocapture
//! ```
//!
//! It prints, per agent, how many tasks executed, went to a person or were dead-lettered, and
//! fails only if a task is lost (neither of the three) or the runtime fails; a small model's
//! answers are often invalid or unsure, and the runtime must turn that into a person or a dead
//! letter, never a crash. docs/agents.md records what SmolLM2-135M achieved.

mod common;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a local model: OVERSEER_LOCAL_LLM_URL=$(scripts/local-llm.sh)"]
async fn every_agent_runs_through_a_real_local_model_and_no_task_is_lost() {
    let url = std::env::var("OVERSEER_LOCAL_LLM_URL")
        .expect("OVERSEER_LOCAL_LLM_URL (scripts/local-llm.sh prints it)");
    let dir = tempfile::tempdir().expect("dir");
    let events = dir.path().join("events.jsonl");
    let mut config = overseer_supervisor::config::Config::load(&common::repo_config()).expect("config");
    config.connections.llm.model = "smollm2".into();
    config.connections.llm.request_timeout = Duration::from_secs(120);
    config.connections.llm.deadline = Duration::from_secs(600);
    config.connections.llm.max_concurrency = 2;
    let tasks: u64 =
        std::env::var("OVERSEER_LOCAL_LLM_TASKS").ok().and_then(|n| n.parse().ok()).unwrap_or(80);
    let options = overseer_supervisor::demo::DemoOptions {
        rate: 50.0,
        tasks: Some(tasks),
        llm: Some(url),
        events: events.clone(),
        bind: Some("127.0.0.1:0".into()),
    };
    let demo = overseer_supervisor::demo::start(config, options).await.expect("the demo starts");
    let started = Instant::now();
    // Every task ends as a completion, a pending decision or a dead letter.
    let outcome = |e: &Value| -> Option<(String, &'static str, String)> {
        let ev = &e["event"];
        let task = ev["task_id"].as_str().unwrap_or("?").to_string();
        match e["topic"].as_str()? {
            "ai.completions" => Some((ev["agent"].as_str()?.to_string(), "executed", task)),
            "hitl.requests" => Some((ev["agent"].as_str()?.to_string(), "to a person", task)),
            "ai.errors" => Some((agent_of(ev["queue"].as_str()?).to_string(), "dead letter", task)),
            _ => None,
        }
    };
    let read = || -> Vec<(String, &'static str, String)> {
        std::fs::read_to_string(&events)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|e| outcome(&e))
            .collect()
    };
    loop {
        let seen = read();
        let malformed = seen.iter().filter(|(_, _, t)| t == "unknown").count();
        let done: BTreeSet<&String> = seen.iter().map(|(_, _, t)| t).filter(|t| *t != "unknown").collect();
        if (done.len() + malformed) as u64 >= tasks {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "{} of {tasks} tasks settled after 30 minutes",
            done.len() + malformed
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let mut table: BTreeMap<String, BTreeMap<&str, usize>> = BTreeMap::new();
    for (agent, what, _) in read() {
        *table.entry(agent).or_default().entry(what).or_default() += 1;
    }
    println!("{tasks} tasks through the local model in {:?}", started.elapsed());
    println!("agent\texecuted\tto a person\tdead letter");
    for (agent, counts) in &table {
        let n = |k: &str| counts.get(k).copied().unwrap_or(0);
        println!("{agent}\t{}\t{}\t{}", n("executed"), n("to a person"), n("dead letter"));
    }
    demo.stop().await;
}

fn agent_of(queue: &str) -> &str {
    match queue {
        "auto_orders" => "order",
        "auto_support_tickets" => "support",
        "auto_email_campaigns" => "email_campaign",
        other => other.trim_start_matches("auto_"),
    }
}
