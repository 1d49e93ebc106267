//! The dashboard's browser session and the request limits: login sets an HttpOnly,
//! SameSite=Strict cookie; cookie-authenticated writes need same-origin and the signed CSRF
//! token; bodies must be JSON; foreign Host names are refused; oversize bodies get 413 and a
//! burst 429 with Retry-After, all as the contract's JSON errors; CORS only for the configured
//! origin; the page cannot be framed.

mod common;

use common::auth::token;
use common::runtime::TestEnv;
use serde_json::{json, Value};

/// One page of the audit log, read as admin.
async fn audit_page(admin: &reqwest::Client, url: String) -> Value {
    admin.get(url).send().await.expect("audit").json().await.expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_csrf_content_types_hosts_and_limits() {
    let env = TestEnv::new().await;
    let config = env.config(&[
        ("OVERSEER__HTTP__CORS_ORIGINS", "[\"https://admin.example\"]"),
        ("OVERSEER__HTTP__BODY_LIMIT", "65536"),
        ("OVERSEER__HTTP__RATE_LIMIT__PER_SUBJECT", "5"),
        ("OVERSEER__HTTP__RATE_LIMIT__BURST", "5"),
        // The burst below is the subject's: the per-address bucket (which the same burst size
        // bounds) must not be what runs dry after this test's other writes from 127.0.0.1.
        ("OVERSEER__HTTP__RATE_LIMIT__PER_ADDRESS", "1000000"),
    ]);
    let running = env.start(&config, &[]).await;
    let base = format!("http://{}", running.http_addr);
    // Read from the beginning (records are told apart by this run's own subject and marker).
    let trail = common::kafka_watch::KafkaWatch::start_at_beginning(common::KAFKA, &["audit.trail"]);
    let bursty = format!("bursty-{}", uuid::Uuid::new_v4().simple());
    let host = running.http_addr.to_string();
    let plain = reqwest::Client::new();

    // Login: the token becomes an HttpOnly, SameSite=Strict session cookie; the body and the
    // readable cookie carry the CSRF token, never the session token.
    let session = token("ada", "admin");
    let r = plain
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"token": session}))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status().as_u16(), 200);
    let cookies: Vec<String> =
        r.headers().get_all("set-cookie").iter().map(|v| v.to_str().expect("ascii").to_string()).collect();
    let answer: Value = r.json().await.expect("JSON");
    assert_eq!(answer["subject"], "ada");
    assert!(!answer.to_string().contains(&session), "the answer does not echo the token");
    let session_cookie = cookies.iter().find(|c| c.starts_with("overseer_session=")).expect("session cookie");
    assert!(
        session_cookie.contains("HttpOnly") && session_cookie.contains("SameSite=Strict"),
        "{session_cookie}"
    );
    let csrf = answer["csrf_token"].as_str().expect("csrf token").to_string();
    let csrf_cookie = cookies.iter().find(|c| c.starts_with("overseer_csrf=")).expect("csrf cookie");
    assert!(!csrf_cookie.contains("HttpOnly") && csrf_cookie.contains(&csrf), "{csrf_cookie}");
    let cookie = format!("overseer_session={session}; overseer_csrf={csrf}");
    let wrong = plain
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"token": "nope"}))
        .send()
        .await
        .expect("login");
    assert_eq!(wrong.status().as_u16(), 401);

    // Reading with the cookie works; writing needs same-origin and the CSRF token.
    let toggle = format!("{base}/api/brain/hitl/workflows/analytics_reporting/toggle?enabled=true");
    let r =
        plain.get(format!("{base}/api/auth/session")).header("cookie", &cookie).send().await.expect("get");
    assert_eq!(r.status().as_u16(), 200);
    let write = |headers: Vec<(&'static str, String)>| {
        let mut r = plain.post(&toggle).header("cookie", &cookie);
        for (name, value) in headers {
            r = r.header(name, value);
        }
        async move { r.send().await.expect("post").status().as_u16() }
    };
    let own = format!("http://{host}");
    let cross = vec![
        ("origin", "https://evil.example".to_string()),
        ("sec-fetch-site", "cross-site".to_string()),
        ("x-csrf-token", csrf.clone()),
    ];
    assert_eq!(write(cross).await, 403, "a cross-site cookie POST");
    assert_eq!(write(vec![("origin", own.clone())]).await, 403, "no CSRF token");
    assert_eq!(
        write(vec![("x-csrf-token", "abc.def".into())]).await,
        403,
        "a CSRF token not made for this session"
    );
    let same =
        vec![("origin", own), ("sec-fetch-site", "same-origin".to_string()), ("x-csrf-token", csrf.clone())];
    assert_eq!(write(same).await, 200, "a same-origin write with the session's CSRF token");

    let admin = common::auth::client_as("ada", "admin");
    // Bodies must say they are JSON.
    let r = admin
        .post(format!("{base}/api/hitl/decision"))
        .header("content-type", "text/plain")
        .body(r#"{"decision_id": "dec_x", "action": "approve"}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 415);
    assert_eq!(r.json::<Value>().await.expect("JSON")["error"], "unsupported_media_type");
    // Foreign Host names (DNS rebinding) are refused, even with a valid token.
    let r = admin
        .get(format!("{base}/api/hitl/pending"))
        .header("host", "evil.example")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 403);
    // Oversize bodies: 413, as JSON.
    let big = json!({"decision_id": "dec_x", "action": "approve", "feedback": "x".repeat(100_000)});
    let r = admin.post(format!("{base}/api/hitl/decision")).json(&big).send().await.expect("post");
    assert_eq!(r.status().as_u16(), 413);
    assert_eq!(r.json::<Value>().await.expect("JSON")["error"], "too_large");
    // Unknown routes and wrong methods: the JSON error shape.
    let r = admin.get(format!("{base}/api/nope")).send().await.expect("get");
    assert_eq!(
        (r.status().as_u16(), r.json::<Value>().await.expect("JSON")["error"].clone()),
        (404, json!("not_found"))
    );
    let r = admin.delete(format!("{base}/api/hitl/pending")).send().await.expect("delete");
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.json::<Value>().await.expect("JSON")["error"], "method_not_allowed");

    // A burst of writes by one subject: 429 with Retry-After once past the burst.
    let burst = common::auth::client_as(&bursty, "admin");
    let mut limited = None;
    let mut allowed = 0;
    for _ in 0..12 {
        let r = burst
            .post(format!("{base}/api/brain/hitl/workflows/analytics_reporting/toggle?enabled=true"))
            .send()
            .await
            .expect("post");
        if r.status().as_u16() == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status().as_u16(), 200);
        allowed += 1;
    }
    assert_eq!(allowed, 5, "the subject's burst is 5");
    let limited = limited.expect("the burst is limited");
    let wait: u64 = limited.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(limited.json::<Value>().await.expect("JSON")["error"], "rate_limited");

    // CORS for the configured origin only.
    let pre = |origin: &'static str| {
        plain
            .request(reqwest::Method::OPTIONS, format!("{base}/api/hitl/pending"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };
    let r = pre("https://admin.example").await.expect("preflight");
    assert_eq!(
        r.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap_or("")),
        Some("https://admin.example")
    );
    let r = pre("https://evil.example").await.expect("preflight");
    assert!(r.headers().get("access-control-allow-origin").is_none());
    // The dashboard cannot be framed.
    let page = plain.get(format!("{base}/api/hitl/dashboard")).send().await.expect("page");
    let csp = page.headers()["content-security-policy"].to_str().expect("ascii").to_string();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    // The audit log holds the session's write and the refusals, attributed.
    let audit: Value = audit_page(&admin, format!("{base}/api/audit?subject=ada&action=toggle")).await;
    assert!(
        audit["records"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["outcome"] == "ok" && r["after"]["hitl_enabled"] == true)),
        "{audit}"
    );
    let denied: Value = audit_page(&admin, format!("{base}/api/audit?stream=denied&subject=ada")).await;
    assert!(denied["count"].as_u64().is_some_and(|n| n >= 3), "{denied}");

    // The same records reach audit.trail as audit.access events.
    let marker = format!("/api/brain/hitl/decisions/dec_marker_{}", uuid::Uuid::new_v4().simple());
    let r = plain.get(format!("{base}{marker}")).bearer_auth("not-a-token").send().await.expect("get");
    assert_eq!(r.status().as_u16(), 401);
    let events = trail.collect_where(
        |e| {
            e["event_type"] == "audit.access"
                && (e["target"] == marker.as_str() || e["subject"] == bursty.as_str())
        },
        std::time::Duration::from_secs(20),
        // Stop on what is asserted below: the burst's refusal (429) may arrive before its
        // successes (each record is published on a task of its own).
        |s| {
            s.iter().any(|(_, e)| e["target"] == marker.as_str())
                && s.iter().any(|(_, e)| {
                    e["subject"] == bursty.as_str() && e["outcome"] == "ok" && e["stream"] == "actions"
                })
        },
    );
    let refusal =
        events.iter().find(|(_, e)| e["target"] == marker.as_str()).expect("the refusal is on audit.trail");
    assert_eq!(
        (refusal.1["outcome"].clone(), refusal.1["stream"].clone()),
        (json!("unauthenticated"), json!("denied"))
    );
    assert!(events
        .iter()
        .any(|(_, e)| e["subject"] == bursty.as_str() && e["outcome"] == "ok" && e["stream"] == "actions"));
    assert!(!serde_json::to_string(&events).expect("JSON").contains("eyJ"), "no token on audit.trail");

    // A flood of bad tokens from one address: past its failed-authentication pace it gets 429
    // and stops reaching the audit log, and what verified people did is still there.
    let mut limited_flood = 0;
    for _ in 0..150 {
        let r =
            plain.get(format!("{base}/api/hitl/pending")).bearer_auth("garbage").send().await.expect("get");
        if r.status().as_u16() == 429 {
            limited_flood += 1;
        }
    }
    assert!(limited_flood >= 80, "{limited_flood} of 150 flood requests limited");
    let flood: Value =
        audit_page(&admin, format!("{base}/api/audit?stream=denied&outcome=unauthenticated&limit=500")).await;
    let recorded = flood["count"].as_u64().unwrap_or(0);
    assert!((55..=65).contains(&recorded), "{recorded} failures recorded (60 at once, then 60 a minute)");
    let after: Value = audit_page(&admin, format!("{base}/api/audit?subject=ada&action=toggle")).await;
    assert_eq!(after["count"], audit["count"], "the actions stream is untouched");
    running.shutdown().await;
}
