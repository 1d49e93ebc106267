//! The earlier system's deployment guide, "Testing & Verification", replayed in order against
//! a running replica (real Redis, RabbitMQ, Kafka) as its clients call it (plus the bearer
//! token authentication requires), each result checked as the guide states it
//! (../shared/SEED-API.md); then the endpoints its admin UI and gateway had that the guide
//! does not step through: the agents' figures, approving a session, the history's date range,
//! the confidence chart, and the SEO and content-marketing approve endpoints.

mod common;

use common::runtime::TestEnv;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn call(method: reqwest::Method, url: String, body: Option<Value>) -> (u16, Value) {
    let mut request = common::auth::client_as("ada", "admin").request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let r = request.send().await.expect("request");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn get(url: String) -> Value {
    let (code, body) = call(reqwest::Method::GET, url, None).await;
    assert_eq!(code, 200, "{body}");
    body
}

async fn post(url: String, body: Value) -> Value {
    let (code, body) = call(reqwest::Method::POST, url, Some(body)).await;
    assert_eq!(code, 200, "{body}");
    body
}

/// The status of a session once it is `want` (the guide waits 3 to 5 s; here it is final at
/// once, and the wait only covers an approval's effects).
async fn session_becomes(base: &str, session: &str, want: &str) -> Value {
    let started = Instant::now();
    loop {
        let s = get(format!("{base}/onboarding/status/{session}")).await;
        if s["status"] == want || started.elapsed() > Duration::from_secs(10) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn high_confidence_lead() -> Value {
    json!({
        "business_data": {"company_name": "TechVentures Inc", "industry": "SaaS", "target_audience": "Enterprise B2B",
            "business_goals": ["Increase market share", "Launch new product"],
            "current_challenges": ["High churn", "Low brand awareness"], "budget_range": "$50k+",
            "contact_info": {"email": "cto@techventures.example", "phone": "+1-555-0100"}},
        "requested_services": ["SEO", "PPC", "Content Marketing", "Brand Strategy"],
        "priority_level": "high"
    })
}

fn low_confidence_lead() -> Value {
    json!({
        "business_data": {"company_name": "Startup", "industry": "Other", "target_audience": "Anyone",
            "business_goals": [], "current_challenges": [], "budget_range": "Unknown", "contact_info": {}},
        "requested_services": [],
        "priority_level": "standard"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deployment_guides_verification_steps_pass_as_written() {
    let env = TestEnv::new().await;
    let config = env.config(&[]);
    let running = env.start(&config, &["auto_analytics"]).await;
    let base = format!("http://{}", running.http_addr);
    let hitl = format!("{base}/api/brain/hitl");

    // 1. Health, and the workflows: the total equals the list, all eight of the guide there.
    let health: Value =
        reqwest::get(format!("{base}/health")).await.expect("health").json().await.expect("JSON");
    assert_eq!(health["status"], "healthy", "{health}");
    assert!(health["services_registered"].as_u64().is_some_and(|n| n > 0), "{health}");
    let workflows = get(format!("{hitl}/workflows")).await;
    let ids: Vec<&str> =
        workflows["workflows"].as_array().expect("ids").iter().filter_map(Value::as_str).collect();
    assert_eq!(workflows["total"].as_u64(), Some(ids.len() as u64), "{workflows}");
    for id in [
        "analytics_reporting",
        "campaign_optimization",
        "content_generation",
        "customer_support",
        "inventory_management",
        "lead_processing",
        "payment_processing",
        "product_sourcing",
    ] {
        assert!(ids.contains(&id), "{id} missing: {workflows}");
    }

    // 2. The agents service's health: healthy, HITL on, its agents listed.
    assert_eq!(health["hitl_enabled"], true);
    assert!(health["timestamp"].is_string() && health["brain_gateway"].is_string(), "{health}");
    let agents = get(format!("{base}/agents/health")).await;
    assert_eq!(agents["status"], "healthy", "{agents}");
    assert_eq!(agents["hitl_enabled"], true);
    assert!(
        agents["agents_available"].as_array().is_some_and(|a| a.iter().any(|x| x == "onboarding")),
        "{agents}"
    );

    // 3. A high-confidence lead: processing at first, then completed autonomously.
    let started = post(format!("{base}/onboarding/start"), high_confidence_lead()).await;
    assert_eq!(started["status"], "processing", "{started}");
    assert_eq!(started["next_steps"][0], "Initial analysis in progress");
    assert_eq!(started["next_steps"][1], "AI confidence: 100.00%");
    assert_eq!(started["estimated_timeline"], "5-10 minutes");
    let high = started["session_id"].as_str().expect("session").to_string();
    assert!(high.starts_with("session_") && high.len() == "session_20251014_061400_a1b2c3d4".len(), "{high}");
    let done = session_becomes(&base, &high, "completed").await;
    assert_eq!(
        (done["status"].as_str(), done["execution_mode"].as_str()),
        (Some("completed"), Some("autonomous"))
    );
    let first = &done["recommendations"][0];
    assert_eq!(first["type"], "Business Analysis", "{done}");
    assert_eq!(first["summary"], "Strategic analysis for TechVentures Inc");
    assert!(first["details"].is_string() && first["confidence"].is_number(), "{first}");

    // 4. A low-confidence lead waits for a person, is in the pending list, and completes
    // hitl_approved once approved with the guide's feedback.
    let started = post(format!("{base}/onboarding/start"), low_confidence_lead()).await;
    let low = started["session_id"].as_str().expect("session").to_string();
    let waiting = get(format!("{base}/onboarding/status/{low}")).await;
    assert_eq!(waiting["status"], "pending_approval", "{waiting}");
    assert_eq!(waiting["estimated_timeline"], "Awaiting human approval");
    assert!(waiting["next_steps"]
        .as_array()
        .is_some_and(|s| s.iter().any(|x| x == "Awaiting human approval for final recommendations")));
    let decision = waiting["hitl_decision_id"].as_str().expect("decision id").to_string();
    let pending = get(format!("{hitl}/decisions/pending")).await;
    assert_eq!(pending["total"].as_u64(), pending["decisions"].as_array().map(|d| d.len() as u64));
    let listed = pending["decisions"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["decision_id"] == decision.as_str()))
        .expect("the decision is pending")
        .clone();
    assert_eq!(listed["status"], "pending_approval", "{listed}");
    assert_eq!(listed["workflow_id"], "lead_processing");
    let one = get(format!("{hitl}/decisions/{decision}")).await;
    assert_eq!(one["status"], "pending_approval");
    let approved =
        post(format!("{hitl}/decisions/{decision}/approve"), json!({"feedback": "Approved for testing"}))
            .await;
    assert_eq!(
        (approved["status"].as_str(), approved["feedback"].as_str(), approved["message"].as_str()),
        (Some("approved"), Some("Approved for testing"), Some("Decision approved and executed")),
        "{approved}"
    );
    assert!(approved["approved_at"].is_string());
    let after = session_becomes(&base, &low, "completed").await;
    assert_eq!(
        (after["status"].as_str(), after["execution_mode"].as_str()),
        (Some("completed"), Some("hitl_approved"))
    );

    // 5. lead_processing off, then on, read back each time.
    let off = post(format!("{hitl}/workflows/lead_processing/toggle?enabled=false"), json!(null)).await;
    assert_eq!(
        (off["hitl_enabled"].as_bool(), off["message"].as_str()),
        (Some(false), Some("HITL disabled for lead_processing"))
    );
    assert_eq!(get(format!("{hitl}/workflows/lead_processing")).await["hitl_enabled"], false);
    let on = post(format!("{hitl}/workflows/lead_processing/toggle?enabled=true"), json!(null)).await;
    assert_eq!(
        (on["hitl_enabled"].as_bool(), on["message"].as_str()),
        (Some(true), Some("HITL enabled for lead_processing"))
    );
    assert_eq!(get(format!("{hitl}/workflows/lead_processing")).await["hitl_enabled"], true);

    // 6. Thresholds, read back.
    for (workflow, threshold) in [("campaign_optimization", 0.65), ("payment_processing", 0.98)] {
        let (code, changed) = call(
            reqwest::Method::PUT,
            format!("{hitl}/workflows/{workflow}/confidence?threshold={threshold}"),
            None,
        )
        .await;
        assert_eq!(code, 200, "{changed}");
        assert_eq!(
            (changed["confidence_threshold"].as_f64(), changed["message"].as_str()),
            (Some(threshold), Some("Confidence threshold updated"))
        );
        assert_eq!(get(format!("{hitl}/workflows/{workflow}")).await["confidence_threshold"], threshold);
    }
    let (code, level) = call(
        reqwest::Method::PUT,
        format!("{hitl}/workflows/analytics_reporting/autonomy?level=autonomous"),
        None,
    )
    .await;
    assert_eq!(
        (code, level["autonomy_level"].as_str(), level["message"].as_str()),
        (200, Some("autonomous"), Some("Autonomy level updated"))
    );

    // 7. A rejection with feedback rejects the session with that feedback.
    let started = post(format!("{base}/onboarding/start"), low_confidence_lead()).await;
    let rejected_session = started["session_id"].as_str().expect("session").to_string();
    let decision = started["hitl_decision_id"].as_str().expect("decision").to_string();
    let rejected =
        post(format!("{hitl}/decisions/{decision}/reject"), json!({"feedback": "Not a fit yet"})).await;
    assert_eq!(
        (rejected["status"].as_str(), rejected["message"].as_str()),
        (Some("rejected"), Some("Decision rejected with feedback"))
    );
    assert!(rejected["rejected_at"].is_string());
    let now = session_becomes(&base, &rejected_session, "rejected").await;
    assert_eq!((now["status"].as_str(), now["feedback"].as_str()), (Some("rejected"), Some("Not a fit yet")));

    // Beyond the steps: approving a session by its id, as the gateway did.
    let started = post(format!("{base}/onboarding/start"), low_confidence_lead()).await;
    let by_session = started["session_id"].as_str().expect("session").to_string();
    let (code, edit) = call(
        reqwest::Method::POST,
        format!("{base}/onboarding/approve/{by_session}"),
        Some(json!({"edited": {"summary": "x"}})),
    )
    .await;
    assert_eq!(
        (code, edit["error"].as_str()),
        (400, Some("bad_request")),
        "a lead's plan takes no edit: {edit}"
    );
    let view = post(format!("{base}/onboarding/approve/{by_session}"), json!({"feedback": "ok"})).await;
    assert_eq!(
        (view["status"].as_str(), view["execution_mode"].as_str()),
        (Some("completed"), Some("hitl_approved")),
        "{view}"
    );
    let (code, again) =
        call(reqwest::Method::POST, format!("{base}/onboarding/approve/{by_session}"), None).await;
    assert_eq!(code, 409, "approved once: {again}");
    let (code, _) = call(reqwest::Method::POST, format!("{base}/onboarding/approve/{high}"), None).await;
    assert_eq!(code, 409, "a session that completed without a person has nothing to approve");
    let (code, _) =
        call(reqwest::Method::POST, format!("{base}/onboarding/approve/session_nope"), None).await;
    assert_eq!(code, 404);

    // The agents' figures, across replicas (Redis): four sessions, one of them high.
    let stats = get(format!("{base}/agents/confidence-stats")).await;
    assert_eq!(stats["total_sessions"], 4, "{stats}");
    assert_eq!(
        (stats["min_confidence"].as_f64(), stats["max_confidence"].as_f64()),
        (Some(0.6), Some(1.0)),
        "{stats}"
    );
    assert_eq!(stats["average_confidence"], 0.7, "(1.0 + 3 x 0.6) / 4: {stats}");
    assert_eq!(
        (stats["sessions_with_high_confidence"].as_u64(), stats["sessions_requiring_hitl"].as_u64()),
        (Some(1), Some(3))
    );
    let agents = get(format!("{base}/agents/health")).await;
    assert_eq!(
        (agents["completed_sessions"].as_u64(), agents["pending_approval"].as_u64()),
        (Some(3), Some(0)),
        "{agents}"
    );

    // The history's date range: today holds the three decided leads, yesterday none.
    let today = &humantime::format_rfc3339(std::time::SystemTime::now()).to_string()[..10];
    let lead = |q: &str| format!("{hitl}/decisions/history?workflow=lead_processing&{q}");
    assert_eq!(get(lead(&format!("from={today}"))).await["total"], 3);
    assert_eq!(get(lead(&format!("to={today}"))).await["total"], 3);
    assert_eq!(get(lead("to=2000-01-01")).await["total"], 0);
    let (code, bad) = call(reqwest::Method::GET, lead("from=yesterday"), None).await;
    assert_eq!((code, bad["error"].as_str()), (400, Some("bad_request")));

    // The confidence chart: this hour's bucket of lead_processing holds the three.
    let chart = get(format!("{hitl}/analytics/confidence?workflow=lead_processing&hours=1")).await;
    let buckets = chart["workflows"]["lead_processing"].as_array().expect("buckets").clone();
    let count: u64 = buckets.iter().filter_map(|b| b["count"].as_u64()).sum();
    let approved: u64 = buckets.iter().filter_map(|b| b["approved"].as_u64()).sum();
    assert_eq!((count, approved), (3, 2), "{chart}");
    assert!(buckets.iter().all(|b| b["average"] == 0.6), "{chart}");

    // The gateway's SEO and content-marketing approve endpoints decide their own agents'.
    let seo = env.park_direct_for(&config, "content_generation", "seo").await;
    let order = env.park_direct(&config, "payment_processing").await;
    let (code, refused) = call(
        reqwest::Method::POST,
        format!("{base}/api/brain/seo/workflows/hitl/approve"),
        Some(json!({"decision_id": order})),
    )
    .await;
    assert_eq!(code, 404, "an order decision is not the SEO endpoint's: {refused}");
    let (code, refused) = call(
        reqwest::Method::POST,
        format!("{base}/api/brain/content-marketing/workflows/hitl/approve"),
        Some(json!({"decision_id": seo})),
    )
    .await;
    assert_eq!(code, 404, "an SEO decision is not the content-marketing endpoint's: {refused}");
    let done = post(
        format!("{base}/api/brain/seo/workflows/hitl/approve"),
        json!({"decision_id": seo, "feedback": "ship it"}),
    )
    .await;
    assert_eq!(
        (done["status"].as_str(), done["message"].as_str()),
        (Some("approved"), Some("Decision approved and executed"))
    );
    running.shutdown().await;
}
