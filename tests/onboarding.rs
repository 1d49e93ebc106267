//! The seed's onboarding flows on a running replica (real Redis, RabbitMQ, Kafka): a complete
//! profile completes autonomously; an empty one waits for a person, is listed as pending, and
//! completes with hitl_approved after approval (one completion event) or ends rejected with
//! the feedback.

mod common;

use common::kafka_watch::{completions, KafkaWatch};
use common::runtime::TestEnv;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::{Duration, Instant};

async fn post(url: String, body: Value) -> (u16, Value) {
    let r = common::auth::client_as("ada", "admin").post(url).json(&body).send().await.expect("POST");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn get(url: String) -> (u16, Value) {
    let r = common::auth::get(url).await.expect("GET");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// Polls the session until its status is `want` (the approval's effects run after the answer).
async fn status_becomes(base: &str, session: &str, want: &str) -> Value {
    let started = Instant::now();
    loop {
        let (_, s) = get(format!("{base}/onboarding/status/{session}")).await;
        if s["status"] == want || started.elapsed() > Duration::from_secs(10) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_onboarding_flows() {
    let env = TestEnv::new().await;
    let running = env.start(&env.config(&[]), &["auto_analytics"]).await;
    let base = format!("http://{}", running.http_addr);
    let watch = KafkaWatch::start(&["ai.completions"]);

    let complete = json!({
        "business_data": {"company_name": "Acme", "industry": "retail", "target_audience": "SMB",
            "business_goals": ["grow", "retain"], "current_challenges": ["churn"], "budget_range": "$10k-50k",
            "contact_info": {"email": "ops@acme.test", "phone": "+1 555"}},
        "requested_services": ["seo", "email"],
        "priority_level": "high"
    });
    let (code, started) = post(format!("{base}/onboarding/start"), complete).await;
    assert_eq!(code, 200, "{started}");
    assert_eq!(started["status"], "processing", "the earlier system's first answer: {started}");
    let (_, done) =
        get(format!("{base}/onboarding/status/{}", started["session_id"].as_str().expect("id"))).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["execution_mode"], "autonomous");
    assert_eq!(done["confidence"], 1.0);
    for field in ["session_id", "recommendations", "next_steps", "estimated_timeline"] {
        assert!(!done[field].is_null(), "{field}: {done}");
    }

    let (_, approved) = post(format!("{base}/onboarding/start"), json!({})).await;
    assert_eq!(approved["confidence"], 0.5, "no data at the default standard priority: {approved}");
    let approve_id = approved["hitl_decision_id"].as_str().expect("decision id").to_string();
    let (_, rejected) = post(format!("{base}/onboarding/start"), json!({"business_data": {}})).await;
    let reject_id = rejected["hitl_decision_id"].as_str().expect("decision id").to_string();

    let (_, pending) = get(format!("{base}/api/brain/hitl/decisions/pending")).await;
    let listed: HashSet<&str> = pending["decisions"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|d| d["decision_id"].as_str())
        .collect();
    assert!(listed.contains(approve_id.as_str()) && listed.contains(reject_id.as_str()), "{pending}");

    let decisions = format!("{base}/api/brain/hitl/decisions");
    let (code, _) = post(format!("{decisions}/{approve_id}/approve"), json!({"feedback": "welcome"})).await;
    assert_eq!(code, 200);
    let (code, _) =
        post(format!("{decisions}/{reject_id}/reject"), json!({"feedback": "not a fit yet"})).await;
    assert_eq!(code, 200);

    let session = approved["session_id"].as_str().expect("session");
    let now = status_becomes(&base, session, "completed").await;
    assert_eq!(
        (now["status"].as_str(), now["execution_mode"].as_str()),
        (Some("completed"), Some("hitl_approved")),
        "{now}"
    );
    let session = rejected["session_id"].as_str().expect("session");
    let now = status_becomes(&base, session, "rejected").await;
    assert_eq!(
        (now["status"].as_str(), now["feedback"].as_str()),
        (Some("rejected"), Some("not a fit yet")),
        "{now}"
    );

    let sessions: HashSet<String> = [&done, &approved, &rejected]
        .iter()
        .filter_map(|s| s["session_id"].as_str().map(str::to_string))
        .collect();
    let mut seen = watch.collect(&sessions, Duration::from_secs(15), |s| s.len() >= 2);
    seen.extend(watch.collect(&sessions, Duration::from_secs(2), |_| false));
    let per_session = completions(&seen);
    assert_eq!(per_session.get(done["session_id"].as_str().expect("id")), Some(&1), "{seen:#?}");
    assert_eq!(per_session.get(approved["session_id"].as_str().expect("id")), Some(&1), "{seen:#?}");
    assert_eq!(per_session.get(rejected["session_id"].as_str().expect("id")), None, "{seen:#?}");
    let modes: HashSet<&str> = seen.iter().filter_map(|(_, e)| e["execution_mode"].as_str()).collect();
    assert_eq!(modes, ["autonomous", "hitl_approved"].into());

    let (code, bad) =
        post(format!("{base}/onboarding/start"), json!({"business_data": {"business_goals": "grow"}})).await;
    assert_eq!((code, bad["error"].as_str()), (400, Some("bad_request")), "{bad}");
    let (code, _) = get(format!("{base}/onboarding/status/session_nope")).await;
    assert_eq!(code, 404);
    running.shutdown().await;
}
