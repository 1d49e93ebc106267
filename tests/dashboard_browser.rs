//! The dashboard end to end in a real browser: Debian's headless chromium, driven by
//! playwright-core (tests/browser/dashboard.mjs), against a real `overseer run` on RabbitMQ,
//! Redis and Kafka. The browser signs in, sees a decision arrive live, edits (a refund beyond
//! the policy is refused before sending) and approves it with feedback, rejects another,
//! changes a threshold, filters and searches the history, opens a timeline, exports the CSV,
//! pauses and resumes the queue, drives the inbox by keyboard, approves two decisions in one
//! batch and signs in as a viewer who has no buttons. This side submits the tasks and checks what only the services show: the edited
//! `hitl_approved` completion on Kafka, the stored rejection, the threshold as the API answers
//! it, the CSV's rows, the queue's state, the batch's decisions. Screenshots of every view land in docs/screenshots.

mod common;

use common::kafka_watch::{count, KafkaWatch};
use common::llm_server::{order_proposal, Reply};
use common::process::{free_port, Replica};
use common::runtime::{order, TestEnv};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// What the browser script asks this side to do or check.
struct Checks {
    env: TestEnv,
    base: String,
    admin: reqwest::Client,
    parked: KafkaWatch,
    outcomes: KafkaWatch,
}

impl Checks {
    async fn answer(&self, ask: &Value) -> Result<Value, String> {
        match ask["ask"].as_str().unwrap_or_default() {
            "submit" => self.submit(ask["name"].as_str().unwrap_or("task")).await,
            "approved" => self.approved(ask),
            "rejected" => self.rejected(ask).await,
            "threshold" => self.threshold(ask).await,
            "csv" => self.csv(ask),
            "paused" => self.paused(ask).await,
            "decided" => self.decided(ask).await,
            other => Err(format!("unknown ask `{other}`")),
        }
    }

    /// Submits an order whose proposal (a refund of 40 at confidence 0.5) comes to a person;
    /// answers once its decision is announced on hitl.requests.
    async fn submit(&self, name: &str) -> Result<Value, String> {
        let task_id = format!("dash-{name}-{}", uuid::Uuid::new_v4().simple());
        self.env.submit(&self.env.config(&[]), "auto_orders", &order(&task_id, None), 1).await;
        let ids: HashSet<String> = [task_id.clone()].into();
        let seen = self.parked.collect(&ids, Duration::from_secs(30), |s| count(s, "hitl.requests") >= 1);
        if seen.is_empty() {
            return Err(format!("task {task_id} was not parked"));
        }
        Ok(json!({"task_id": task_id}))
    }

    /// The edited approval executed: a hitl_approved completion with the edited amount, by the
    /// signed-in approver, and the feedback on hitl.feedback.
    fn approved(&self, ask: &Value) -> Result<Value, String> {
        let task = ask["task_id"].as_str().unwrap_or_default().to_string();
        let seen = self.outcomes.collect(&[task.clone()].into(), Duration::from_secs(30), |s| {
            count(s, "ai.completions") >= 1 && count(s, "hitl.feedback") >= 1
        });
        let completion = seen.iter().find(|(t, _)| t == "ai.completions").map(|(_, e)| e);
        let feedback = seen.iter().find(|(t, _)| t == "hitl.feedback").map(|(_, e)| e);
        let (Some(c), Some(f)) = (completion, feedback) else {
            return Err(format!("no completion and feedback for {task}: {seen:?}"));
        };
        let checks = [
            (c["execution_mode"] == "hitl_approved", "execution_mode hitl_approved"),
            (c["decision_id"] == ask["decision_id"], "the decision's id"),
            (c["approved_by"] == "ada", "approved by the signed-in approver"),
            (c["edited"] == true, "marked edited"),
            (
                c["result"]["actions"][0]["amount"].as_f64() == ask["amount"].as_f64(),
                "the edited amount executed",
            ),
            (f["feedback"] == ask["feedback"], "the feedback published"),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, what)) => Err(format!("{what}: completion {c}, feedback {f}")),
            None => Ok(json!({})),
        }
    }

    async fn rejected(&self, ask: &Value) -> Result<Value, String> {
        let id = ask["decision_id"].as_str().unwrap_or_default();
        let d: Value = self.get(&format!("/api/brain/hitl/decisions/{id}")).await?;
        if d["status"] == "rejected" && d["feedback"] == ask["feedback"] && d["decided_by"] == "ada" {
            Ok(json!({}))
        } else {
            Err(format!("the decision is not rejected by ada with that feedback: {d}"))
        }
    }

    async fn threshold(&self, ask: &Value) -> Result<Value, String> {
        let id = ask["workflow"].as_str().unwrap_or_default();
        let w = self.get(&format!("/api/brain/hitl/workflows/{id}")).await?;
        let (now, asked) = (w["confidence_threshold"].as_f64(), ask["value"].as_f64());
        match (now, asked) {
            (Some(a), Some(b)) if (a - b).abs() < 1e-9 => Ok(json!({})),
            _ => Err(format!("threshold {now:?}, not {asked:?}: {w}")),
        }
    }

    /// The exported CSV: the header, and one row per decided decision of the filter.
    fn csv(&self, ask: &Value) -> Result<Value, String> {
        let path = ask["path"].as_str().unwrap_or_default();
        let mut reader = csv::Reader::from_path(path).map_err(|e| format!("{path}: {e}"))?;
        let header: Vec<String> =
            reader.headers().map_err(|e| e.to_string())?.iter().map(String::from).collect();
        let col =
            |name: &str| header.iter().position(|h| h == name).ok_or(format!("no column {name}: {header:?}"));
        let (id, status, edited, feedback) =
            (col("decision_id")?, col("status")?, col("edited")?, col("feedback")?);
        let rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.map(|r| r.iter().map(String::from).collect()))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let find = |key: &Value| rows.iter().find(|r| Some(r[id].as_str()) == key.as_str());
        let (Some(a), Some(r)) = (find(&ask["approved"]), find(&ask["rejected"])) else {
            return Err(format!("both decisions must be rows: {rows:?}"));
        };
        let ok = rows.len() == 2
            && (a[status].as_str(), a[edited].as_str(), a[feedback].as_str())
                == ("approved", "yes", "partial damage: refund 15")
            // A cell a spreadsheet would run as a formula is defused with a leading apostrophe.
            && (r[status].as_str(), r[edited].as_str(), r[feedback].as_str())
                == ("rejected", "no", "'=2+3 wrong customer");
        if ok {
            Ok(json!({}))
        } else {
            Err(format!("unexpected rows: {rows:?}"))
        }
    }

    /// Every decision of `ids` has `status`, decided by the signed-in approver.
    async fn decided(&self, ask: &Value) -> Result<Value, String> {
        for id in ask["ids"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            let d = self.get(&format!("/api/brain/hitl/decisions/{id}")).await?;
            if d["status"] != ask["status"] || d["decided_by"] != "ada" {
                return Err(format!("{id} is not {} by ada: {d}", ask["status"]));
            }
        }
        Ok(json!({}))
    }

    async fn paused(&self, ask: &Value) -> Result<Value, String> {
        let queue = ask["queue"].as_str().unwrap_or_default();
        let q = common::supervisor::queue_of(&self.admin, &self.base, queue).await;
        if q["paused"] == ask["paused"] {
            Ok(json!({}))
        } else {
            Err(format!("{queue} paused is not {}: {q}", ask["paused"]))
        }
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        let r = self.admin.get(format!("{}{path}", self.base)).send().await.map_err(|e| e.to_string())?;
        r.json().await.map_err(|e| e.to_string())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_works_the_dashboard_in_a_real_browser() {
    assert!(
        repo("tests/browser/node_modules/playwright-core").is_dir()
            && Path::new("/usr/bin/chromium").exists(),
        "the browser test needs chromium and playwright-core: run scripts/services.sh"
    );
    let started = std::time::SystemTime::now();
    let env = TestEnv::new().await;
    env.llm.set_default(Reply::content(order_proposal(
        0.5,
        json!([{"action": "refund", "amount": 40.0, "note": "damaged in transit"}]),
    )));
    let port = free_port();
    let _replica = Replica::start(&env.env(&[]), port);
    let base = format!("http://127.0.0.1:{port}");
    let downloads = tempfile::tempdir().expect("temp dir");
    let checks = Checks {
        parked: KafkaWatch::start(&["hitl.requests"]),
        outcomes: KafkaWatch::start(&["ai.completions", "hitl.feedback"]),
        admin: common::auth::client_as("ada", "admin"),
        base: base.clone(),
        env,
    };

    let mut browser = tokio::process::Command::new("node")
        .arg(repo("tests/browser/dashboard.mjs"))
        .current_dir(repo("tests/browser"))
        .env("BASE", &base)
        .env("ADMIN_TOKEN", common::auth::token("ada", "admin"))
        .env("VIEWER_TOKEN", common::auth::token("vic", "viewer"))
        .env("SHOTS", repo("docs/screenshots"))
        .env("DOWNLOADS", downloads.path())
        .env("FAILURE_SHOT", repo("target/dashboard-failure.png"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let mut to_browser = browser.stdin.take().expect("stdin");
    let mut from_browser = BufReader::new(browser.stdout.take().expect("stdout")).lines();
    let mut asked = Vec::new();
    let limit = Duration::from_secs(300);
    let talk = async {
        while let Some(line) = from_browser.next_line().await.expect("read") {
            let ask: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not JSON from the browser: {line}: {e}"));
            asked.push(ask["ask"].as_str().unwrap_or_default().to_string());
            if ask["ask"] == "done" {
                to_browser.write_all(b"{\"ok\": true}\n").await.expect("write");
                break;
            }
            let reply = match checks.answer(&ask).await {
                Ok(mut answer) => {
                    answer["ok"] = true.into();
                    answer
                }
                Err(error) => json!({"ok": false, "error": error}),
            };
            to_browser.write_all(format!("{reply}\n").as_bytes()).await.expect("write");
            assert_eq!(reply["ok"], true, "{}: {reply}", ask["ask"]);
        }
    };
    tokio::time::timeout(limit, talk).await.expect("the browser script finished in time");
    // The script reads its answers from stdin: closing it lets node end.
    drop(to_browser);
    let status = tokio::time::timeout(Duration::from_secs(30), browser.wait())
        .await
        .expect("node exits")
        .expect("status");
    assert!(status.success(), "the browser script failed ({status}); asked {asked:?}");
    for step in ["submit", "approved", "rejected", "threshold", "csv", "paused", "decided", "done"] {
        assert!(asked.iter().any(|a| a == step), "the script never reached `{step}`: {asked:?}");
    }
    for view in ["inbox", "escalated", "history", "analytics", "workflows", "operations"] {
        for suffix in ["", "-phone"] {
            let shot = repo(&format!("docs/screenshots/{view}{suffix}.png"));
            let bytes = std::fs::read(&shot).unwrap_or_else(|e| panic!("{}: {e}", shot.display()));
            assert!(bytes.starts_with(b"\x89PNG"), "{} is a PNG", shot.display());
            let written = std::fs::metadata(&shot).and_then(|m| m.modified()).expect("mtime");
            assert!(written >= started, "{} was taken by this run", shot.display());
        }
    }
}
