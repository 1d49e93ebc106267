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
    config.connections.llm.max_tokens = 384;
    let tasks: u64 =
        std::env::var("OVERSEER_LOCAL_LLM_TASKS").ok().and_then(|n| n.parse().ok()).unwrap_or(40);
    let options = overseer_supervisor::demo::DemoOptions {
        rate: 50.0,
        tasks: Some(tasks),
        llm: Some(url),
        events: events.clone(),
        bind: Some("127.0.0.1:0".into()),
    };
    let demo = overseer_supervisor::demo::start(config, options).await.expect("the demo starts");
    let started = Instant::now();
    // Every task ends as a completion, a pending decision or a dead letter, once.
    let settled = || -> u64 {
        demo.running
            .controls
            .queues()
            .map(|(_, c)| {
                ["executed", "hitl", "dead_lettered"].iter().map(|k| c.activity().count(k)).sum::<u64>()
            })
            .sum()
    };
    while settled() < tasks {
        assert!(
            started.elapsed() < Duration::from_secs(1800),
            "{} of {tasks} tasks settled after 30 minutes",
            settled()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(settled(), tasks, "each task settles once");
    println!("{tasks} tasks through the local model in {:?}", started.elapsed());
    print!("{}", demo.summary());
    // Why the dead letters are dead (the latest of each queue).
    let mut reasons = std::collections::BTreeMap::<String, usize>::new();
    for (_, c) in demo.running.controls.queues() {
        for r in c.activity().view().recent.get("dead_lettered").into_iter().flatten() {
            *reasons.entry(r.detail.clone()).or_default() += 1;
        }
    }
    println!("dead-letter reasons: {reasons:?}");
    demo.stop().await;
}
