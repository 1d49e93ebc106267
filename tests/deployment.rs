//! The deployment files and what they rely on (no Docker engine runs here): Dockerfile.workers
//! passes hadolint and runs as a non-root user with `overseer healthcheck`; both stack files
//! follow the compose specification, and the worker stack has the planned replicas, grace
//! periods above the drain grace, rolling updates that roll back, healthchecks, and every
//! credential from a Swarm secret; the alert rules pass promtool and its unit tests; every
//! metric the alerts and the Grafana dashboard use is on /metrics of a real run, and every
//! dashboard expression parses. And what the image relies on: `overseer healthcheck`'s exit
//! code, JSON log lines, secrets from `*_FILE` files.

mod common;

use common::auth::client_as;
use common::llm_server::{order_proposal, Reply};
use common::runtime::{order, TestEnv};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A tool scripts/services.sh installs under `$OVERSEER_DATA_DIR/deploy-tools` (or on PATH).
fn tool(name: &str) -> PathBuf {
    let data = std::env::var_os("OVERSEER_DATA_DIR").map_or_else(|| repo().join(".data"), PathBuf::from);
    let local = data.join("deploy-tools/bin").join(name);
    if local.exists() {
        return local;
    }
    let on_path = Command::new("sh").args(["-c", &format!("command -v {name}")]).output().expect("sh");
    assert!(on_path.status.success(), "{name} is not installed: run scripts/services.sh");
    PathBuf::from(String::from_utf8_lossy(&on_path.stdout).trim())
}

/// Runs `program args` in the repository; its combined output, asserting success.
fn passes(program: &Path, args: &[&str]) -> String {
    let out = Command::new(program).args(args).current_dir(repo()).output().expect("runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{} {args:?} failed:\n{text}", program.display());
    text
}

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(repo().join(path)).expect("readable");
    let mut doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("YAML");
    doc.apply_merge().expect("merge keys");
    serde_json::to_value(doc).expect("as JSON")
}

fn seconds(text: &str) -> Duration {
    humantime::parse_duration(text).unwrap_or_else(|e| panic!("`{text}`: {e}"))
}

#[test]
fn the_dockerfile_passes_hadolint_and_runs_overseer_unprivileged_with_its_healthcheck() {
    passes(&tool("hadolint"), &["Dockerfile.workers"]);
    let file = std::fs::read_to_string(repo().join("Dockerfile.workers")).expect("Dockerfile");
    let last = |word: &str| file.lines().rfind(|l| l.starts_with(word)).map(str::to_string);
    let user = last("USER ").expect("a USER");
    assert!(!user.contains("root") && !user.contains(" 0"), "{user}");
    let health = last("HEALTHCHECK ").expect("a HEALTHCHECK");
    assert!(health.ends_with(r#"CMD ["overseer", "healthcheck"]"#), "{health}");
    assert!(last("ENTRYPOINT ").expect("ENTRYPOINT").contains(r#"["/usr/local/bin/overseer"]"#));
    assert!(file.contains("cargo build --release --locked"));
    assert!(file.contains("OVERSEER__HTTP__BIND=0.0.0.0:8001"));
    assert_eq!(file.matches("\nFROM ").count() + usize::from(file.starts_with("FROM ")), 2, "two stages");
    let ignored = std::fs::read_to_string(repo().join(".dockerignore")).expect(".dockerignore");
    for dir in ["target/", ".data/", ".git/"] {
        assert!(ignored.lines().any(|l| l == dir), "{dir} is not in .dockerignore");
    }
}

#[test]
fn the_stacks_follow_the_compose_spec_and_the_worker_plan() {
    passes(
        &tool("check-jsonschema"),
        &[
            "--builtin-schema",
            "vendor.compose-spec",
            "deploy/docker-stack.yml",
            "deploy/docker-stack.services.yml",
        ],
    );
    let stack = yaml("deploy/docker-stack.yml");
    let services = stack["services"].as_object().expect("services");
    let config = overseer_supervisor::config::Config::load(&common::repo_config()).expect("config");
    let secrets: BTreeSet<&str> =
        stack["secrets"].as_object().expect("secrets").keys().map(String::as_str).collect();
    let mut consumed = Vec::new();
    for (name, s) in services {
        let command: Vec<&str> =
            s["command"].as_array().expect("command").iter().filter_map(Value::as_str).collect();
        if command == ["setup"] {
            assert_eq!(s["deploy"]["mode"], "replicated-job", "setup runs once");
            continue;
        }
        assert_eq!(command[..2], ["run", "--queues"], "{name}: {command:?}");
        consumed.extend(command[2].split(',').map(str::to_string));
        let replicas = s["deploy"]["replicas"].as_u64().expect("replicas");
        let expected = match name.as_str() {
            "order" => 4,
            "support" => 6,
            "marketing" => 4,
            "inventory" => 2,
            _ => replicas,
        };
        assert_eq!(replicas, expected, "{name}'s replicas");
        // Swarm's SIGKILL comes after the drain.
        let env = s["environment"].as_object().expect("environment");
        let grace = seconds(env["OVERSEER__RUNTIME__SHUTDOWN_GRACE"].as_str().expect("grace"));
        let stop = seconds(s["stop_grace_period"].as_str().expect("stop_grace_period"));
        assert!(stop >= grace + Duration::from_secs(10), "{name}: stop {stop:?} vs drain {grace:?}");
        assert_eq!(s["deploy"]["update_config"]["failure_action"], "rollback", "{name}");
        assert_eq!(s["healthcheck"]["test"], json!(["CMD", "overseer", "healthcheck"]), "{name}");
        assert!(s["deploy"]["resources"]["limits"]["memory"].is_string(), "{name} has a memory limit");
        assert_eq!(s["deploy"]["labels"]["prometheus.io/scrape"], "true", "{name}");
        // Credentials only through secret files, each secret mounted.
        let mounted: BTreeSet<&str> =
            s["secrets"].as_array().expect("secrets").iter().filter_map(Value::as_str).collect();
        for (key, value) in env {
            let value = value.as_str().unwrap_or_default();
            assert!(!value.contains('@') && !key.contains("PASSWORD"), "{name}: {key} carries a credential");
            if let Some(path) = value.strip_prefix("/run/secrets/") {
                assert!(key.ends_with("_FILE"), "{name}: {key}");
                assert!(
                    mounted.contains(path) && secrets.contains(path),
                    "{name}: secret {path} not mounted"
                );
            }
        }
        for needed in ["URL", "MANAGEMENT_URL"]
            .map(|k| format!("OVERSEER__CONNECTIONS__AMQP__{k}_FILE"))
            .into_iter()
            .chain(
                ["OVERSEER__CONNECTIONS__REDIS__URL_FILE", "OPENAI_API_KEY_FILE", "OVERSEER_JWT_SECRET_FILE"]
                    .map(String::from),
            )
        {
            assert!(env.contains_key(&needed), "{name}: {needed} missing");
        }
    }
    // Every queue overseer consumes is consumed by exactly one service.
    let mut wanted: Vec<String> = config
        .queues
        .iter()
        .filter(|(_, q)| {
            matches!(
                q.consumer,
                overseer_supervisor::config::topology::ConsumerRole::Agent
                    | overseer_supervisor::config::topology::ConsumerRole::HitlIntake
            )
        })
        .map(|(name, _)| name.clone())
        .collect();
    wanted.sort();
    consumed.sort();
    assert_eq!(consumed, wanted, "queues consumed by the stack");
}

#[test]
fn the_alert_rules_pass_promtool_and_fire_only_on_failures() {
    let promtool = tool("promtool");
    passes(&promtool, &["check", "rules", "deploy/alerts.yml"]);
    passes(&promtool, &["test", "rules", "deploy/alerts_test.yml"]);
    passes(&promtool, &["check", "config", "--syntax-only", "deploy/prometheus.yml"]);
    // Every alert has a unit test and a runbook section.
    let rules = yaml("deploy/alerts.yml");
    let tests = std::fs::read_to_string(repo().join("deploy/alerts_test.yml")).expect("tests");
    let runbook = std::fs::read_to_string(repo().join("docs/operations.md")).expect("operations.md");
    for rule in rules["groups"][0]["rules"].as_array().expect("rules") {
        let alert = rule["alert"].as_str().expect("alert");
        assert!(tests.contains(&format!("alertname: {alert}")), "{alert} has no promtool test");
        assert!(runbook.contains(&format!("### {alert}")), "{alert} has no runbook section");
    }
}

/// Every PromQL expression of the alerts and of the dashboard.
fn expressions() -> (Vec<String>, Vec<String>) {
    let rules = yaml("deploy/alerts.yml");
    let alerts = rules["groups"][0]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["expr"].as_str().map(str::to_string))
        .collect();
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("deploy/grafana/overseer.json")).expect("dashboard"),
    )
    .expect("JSON");
    let panels = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_string))
        .collect();
    (alerts, panels)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_of_the_alerts_and_the_dashboard_is_on_metrics_of_a_real_run() {
    let (alerts, panels) = expressions();
    // The dashboard's expressions parse (as recording rules for promtool).
    let dir = tempfile::tempdir().expect("dir");
    let rules: Vec<Value> = panels
        .iter()
        .enumerate()
        .map(|(i, e)| json!({"record": format!("dashboard:panel_{i}"), "expr": e}))
        .collect();
    let file = dir.path().join("dashboard_rules.yml");
    std::fs::write(&file, json!({"groups": [{"name": "dashboard", "rules": rules}]}).to_string())
        .expect("write");
    passes(&tool("promtool"), &["check", "rules", file.to_str().expect("utf-8")]);

    let names: BTreeSet<String> = {
        let re = regex::Regex::new(r"\boverseer_[a-z0-9_]+").expect("regex");
        alerts.iter().chain(&panels).flat_map(|e| re.find_iter(e).map(|m| m.as_str().to_string())).collect()
    };
    assert!(names.len() > 15, "{names:?}");

    // A real replica doing everything once: executes, parks, dead-letters, people decide.
    let env = TestEnv::new().await;
    env.llm.push([Reply::content(order_proposal(0.2, json!([{"action": "fulfil"}])))]);
    env.llm.set_default(Reply::content(order_proposal(0.99, json!([{"action": "fulfil"}]))));
    let port = common::process::free_port();
    let _replica =
        common::process::Replica::start(&env.env(&[("OVERSEER__RUNTIME__BACKLOG_POLL", "200ms")]), port);
    let config = env.config(&[]);
    let id = uuid::Uuid::new_v4().simple().to_string();
    env.submit(&config, "auto_orders", &order(&format!("m-{id}"), None), 3).await;
    env.submit(
        &config,
        "auto_orders",
        &json!({"task_id": format!("bad-{id}"), "payload": {"not": "an order"}}),
        1,
    )
    .await;
    let base = format!("http://127.0.0.1:{port}");
    let approver = client_as("metrics-approver", "approver");
    for verb in ["approve", "reject"] {
        let decision = env.park_direct(&config, "order_processing").await;
        let r = approver
            .post(format!("{base}/api/brain/hitl/decisions/{decision}/{verb}"))
            .json(&json!({"feedback": "checked for the metrics test"}))
            .send()
            .await
            .expect("decide");
        assert_eq!(r.status().as_u16(), 200, "{verb}");
    }
    let viewer = client_as("metrics-reader", "viewer");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text =
            viewer.get(format!("{base}/metrics")).send().await.expect("metrics").text().await.expect("text");
        let exported: BTreeSet<&str> =
            text.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split(['{', ' ']).next()).collect();
        let missing: Vec<&String> = names.iter().filter(|n| !exported.contains(n.as_str())).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "used by the alerts or the dashboard, not on /metrics: {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_exits_zero_only_for_a_healthy_replica() {
    let healthcheck = |url: &str| {
        Command::new(env!("CARGO_BIN_EXE_overseer"))
            .args(["healthcheck", "--url", url, "--timeout", "2s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("runs")
            .code()
    };
    // A healthy demo replica (no services needed), asked through its configured bind.
    let port = common::process::free_port();
    let dir = tempfile::tempdir().expect("dir");
    let mut demo = Command::new(env!("CARGO_BIN_EXE_overseer"))
        .args(["--config", common::repo_config().to_str().expect("utf-8"), "demo", "--rate", "0"])
        .args(["--events", dir.path().join("e.jsonl").to_str().expect("utf-8")])
        .env("OVERSEER__HTTP__BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("demo");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the demo did not open its port");
        std::thread::sleep(Duration::from_millis(100));
    }
    let by_config = Command::new(env!("CARGO_BIN_EXE_overseer"))
        .args(["--config", common::repo_config().to_str().expect("utf-8"), "healthcheck"])
        .env("OVERSEER__HTTP__BIND", format!("0.0.0.0:{port}"))
        .output()
        .expect("runs");
    assert!(by_config.status.success(), "{}", String::from_utf8_lossy(&by_config.stderr));
    assert_eq!(healthcheck(&format!("http://127.0.0.1:{port}/health")), Some(0));
    let _ = demo.kill();
    let _ = demo.wait();

    // A replica that answers 503 (degraded), and none at all.
    let app = axum::Router::new().route(
        "/health",
        axum::routing::get(|| async {
            (axum::http::StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({"status": "degraded"})))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let degraded = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    let url = format!("http://{degraded}/health");
    let code = tokio::task::spawn_blocking(move || healthcheck(&url)).await.expect("join");
    assert_eq!(code, Some(1), "degraded");
    let closed = common::process::free_port();
    assert_eq!(healthcheck(&format!("http://127.0.0.1:{closed}/health")), Some(1), "nothing listening");
}

#[test]
fn logs_are_json_lines_with_their_fields_or_plain_text_without_colours_in_a_file() {
    let dir = tempfile::tempdir().expect("dir");
    // The demo dead-letters its malformed tasks (from the 73rd on) with a warning that carries
    // its fields: run it briefly in both formats.
    let run = |format: &str| -> String {
        let port = common::process::free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_overseer"))
            .args([
                "--config",
                common::repo_config().to_str().expect("utf-8"),
                "demo",
                "--rate",
                "200",
                "--tasks",
                "80",
            ])
            .args(["--events", dir.path().join(format!("{format}.jsonl")).to_str().expect("utf-8")])
            .env("OVERSEER__HTTP__BIND", format!("127.0.0.1:{port}"))
            .env("OVERSEER_LOG_FORMAT", format)
            .env("OVERSEER_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("demo");
        std::thread::sleep(Duration::from_secs(3));
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let out = child.wait_with_output().expect("output");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let json_log = run("json");
    let lines: Vec<Value> = json_log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let dead = lines
        .iter()
        .find(|l| l["message"] == "dead-lettered")
        .unwrap_or_else(|| panic!("no dead-letter line in {json_log}"));
    assert_eq!(dead["level"], "WARN");
    assert!(dead["queue"].as_str().is_some_and(|q| q.starts_with("auto_")), "{dead}");
    assert!(dead["task_id"].is_string() && dead["reason"].is_string(), "{dead}");
    let text_log = run("text");
    assert!(text_log.contains("dead-lettered"), "{text_log}");
    assert!(!text_log.contains('\u{1b}'), "ANSI escapes in a log written to a pipe");
}

#[test]
fn secrets_come_from_files_named_by_their_file_variables() {
    let dir = tempfile::tempdir().expect("dir");
    let secret = "file-secret-0123456789abcdef0123456789abcdef";
    let file = dir.path().join("jwt");
    std::fs::write(&file, format!("{secret}\n")).expect("write");
    let issue = |var: &str, value: &Path| {
        Command::new(env!("CARGO_BIN_EXE_overseer"))
            .args(["--config", common::repo_config().to_str().expect("utf-8")])
            .args(["token", "issue", "--sub", "ops", "--role", "viewer"])
            .env_remove("OVERSEER_JWT_SECRET")
            .env_remove("OVERSEER__HTTP__AUTH__HS256_SECRET_FILE")
            .env(var, value)
            .output()
            .expect("runs")
    };
    let out = issue("OVERSEER_JWT_SECRET_FILE", &file);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_aud = false;
    let claims = jsonwebtoken::decode::<Value>(
        &token,
        &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .expect("signed with the file's secret, its newline dropped");
    assert_eq!(claims.claims["sub"], "ops");
    // A file that cannot be read stops the command, naming the variable and the path only.
    let missing = dir.path().join("absent");
    let out = issue("OVERSEER_JWT_SECRET_FILE", &missing);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("OVERSEER_JWT_SECRET_FILE") && said.contains("absent"), "{said}");
}
