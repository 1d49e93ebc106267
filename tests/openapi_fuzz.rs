//! schemathesis (PyPI; scripts/services.sh installs it under .data/) against a real replica's
//! `/api/openapi.json`, every check on, with an admin's bearer token: a request the document
//! allows that a handler refuses, a request it forbids that a handler takes, an answer (status,
//! content type, body) it does not describe, a route that works without the token: each is a
//! finding, and any finding fails this test with schemathesis's report.

mod common;

use common::process::{free_port, Replica};
use common::runtime::TestEnv;
use std::path::PathBuf;
use std::process::Command;

/// The schemathesis the service script installs (`$OVERSEER_DATA_DIR`, default `<repo>/.data`).
fn schemathesis() -> PathBuf {
    let data = std::env::var_os("OVERSEER_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.data")));
    data.join("schemathesis/bin/schemathesis")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_the_document_does_not_say() {
    let tool = schemathesis();
    assert!(tool.exists(), "{} is missing: run scripts/services.sh", tool.display());
    let env = TestEnv::new().await;
    // Limits far above what the fuzzer sends, so that every answer is the handler's own.
    let vars = env.env(&[
        ("OVERSEER__HTTP__RATE_LIMIT__PER_SUBJECT", "1000000"),
        ("OVERSEER__HTTP__RATE_LIMIT__BURST", "100000"),
        ("OVERSEER__HTTP__RATE_LIMIT__PER_ADDRESS", "1000000"),
        ("OVERSEER__HTTP__RATE_LIMIT__AUTH_FAILURES", "1000000"),
    ]);
    let port = free_port();
    let _replica = Replica::start(&vars, port);
    let token = common::auth::token("fuzz-admin", "admin");
    let seed = std::env::var("OVERSEER_FUZZ_SEED").unwrap_or_else(|_| "20261202".into());
    let run = tokio::task::spawn_blocking(move || {
        Command::new(tool)
            .args(["run", &format!("http://127.0.0.1:{port}/api/openapi.json")])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            // One worker: CPython 3.11's ast is not thread-safe, and hypothesis parses lambdas
            // with it (with two workers a run once died of "AST constructor recursion depth
            // mismatch", a tool error, not a finding).
            .args(["--checks", "all", "--max-examples", "25", "--workers", "1", "--seed", &seed])
            .args(["--no-color", "--request-timeout", "10"])
            // Draining the replica ends it (tests/control.rs drives that route).
            .args(["--exclude-operation-id", "drain_replica"])
            // The live feed is an endless stream (tests/dashboard_api.rs reads it).
            .args(["--exclude-operation-id", "live_feed"])
            .output()
            .expect("schemathesis runs")
    })
    .await
    .expect("join");
    let report = String::from_utf8_lossy(&run.stdout);
    println!("{report}");
    assert!(
        run.status.success(),
        "schemathesis found problems:\n{report}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(report.contains("passed"), "schemathesis ran no test:\n{report}");
}
